import { describe, expect, it } from "vitest";
import { exampleTexts } from "./examples.testing";
import { addNode, moveNodes, setField } from "./edit";
import { exportText, importText } from "./io";
import { getPart, getSettings, setBodySetting, setPart } from "./part";
import type { WorkflowDoc } from "./types";

function load(text: string): WorkflowDoc {
  const imported = importText(text);
  if (!imported.ok) throw new Error(imported.error);
  return imported.doc;
}

describe("the JSON round trip", () => {
  it.each(exampleTexts())("gives back %s exactly, keys in order", (_name, text) => {
    const doc = load(text);
    expect(exportText(doc)).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(exportText(load(exportText(doc)))).toBe(exportText(doc));
  });

  it.each(exampleTexts())("survives opening every scope of %s untouched", (_name, text) => {
    let doc = load(text);
    for (const node of doc.nodes.filter((n) => n.type === "map")) {
      doc = setPart(doc, [node.id], getPart(doc, [node.id]));
    }
    doc = setPart(doc, [], getPart(doc, []));
    expect(exportText(doc)).toBe(exportText(load(text)));
  });

  it("keeps layout and writes positions only for nodes the user placed", () => {
    const doc = load('{"flowc": 1, "name": "a", "nodes": [{"id": "x", "type": "set", "assign": {}}], "layout": {"x": {"x": 1, "y": 2}}}');
    const moved = setPart(doc, [], moveNodes(getPart(doc, []), { x: { x: 5, y: 6 } }));
    expect(moved.layout).toEqual({ x: { x: 5, y: 6 } });
    const plain = load('{"flowc": 1, "name": "a", "nodes": []}');
    const added = setPart(plain, [], addNode(getPart(plain, []), { id: "n", type: "set" }, { x: 3, y: 4 }));
    expect(Object.keys(added)).toEqual(["flowc", "name", "nodes", "layout"]);
  });

  it("edits a field in place and removes an emptied optional one", () => {
    const doc = load('{"flowc": 1, "name": "a", "nodes": [{"id": "x", "type": "llm", "output": "o", "prompt": "hi", "max_tokens": 4}]}');
    let part = setField(getPart(doc, []), "x", "prompt", "hello");
    part = setField(part, "x", "max_tokens", undefined);
    expect(JSON.stringify(setPart(doc, [], part).nodes[0])).toBe('{"id":"x","type":"llm","output":"o","prompt":"hello"}');
  });

  it("edits a map body's own settings and its nodes in place", () => {
    const doc = load('{"flowc": 1, "name": "a", "nodes": [{"id": "m", "type": "map", "over": "xs", "output": "ys", "body": {"nodes": [{"id": "b", "type": "set", "assign": {}}], "result": "{{ b }}"}}]}');
    const changed = setBodySetting(doc, ["m"], "result", "{{ c }}");
    expect(getSettings(changed, ["m"]).result).toBe("{{ c }}");
    const moved = setPart(changed, ["m"], moveNodes(getPart(changed, ["m"]), { b: { x: 1, y: 2 } }));
    expect(JSON.stringify(moved.nodes[0])).toBe(
      '{"id":"m","type":"map","over":"xs","output":"ys","body":{"nodes":[{"id":"b","type":"set","assign":{}}],"result":"{{ c }}"},"ui":{"layout":{"b":{"x":1,"y":2}}}}',
    );
  });

  it("refuses what is not a workflow, saying why", () => {
    expect(importText("{")).toMatchObject({ ok: false });
    expect(importText("[]")).toEqual({ ok: false, error: "a workflow is a JSON object" });
    expect(importText('{"nodes": [{"id": 1}]}')).toEqual({ ok: false, error: 'every node needs a string "id" and "type"' });
  });
});
