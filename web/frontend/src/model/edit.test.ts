import { describe, expect, it } from "vitest";
import { addEdge, paste, removeNodes, setField, uniqueId } from "./edit";
import { commit, redo, start, undo } from "./history";
import type { Part } from "./part";

const PART: Part = {
  nodes: [
    { id: "a", type: "llm", output: "a" },
    { id: "b", type: "set" },
  ],
  edges: [{ from: "a", to: "b" }],
  layout: { a: { x: 0, y: 0 }, b: { x: 0, y: 100 } },
};

describe("graph edits", () => {
  it("renames a node through its edges and position", () => {
    const next = setField(PART, "a", "id", "ask");
    expect(next.edges).toEqual([{ from: "ask", to: "b" }]);
    expect(next.layout.ask).toEqual({ x: 0, y: 0 });
    expect(next.layout.a).toBeUndefined();
  });

  it("removes a node with its edges, and never doubles an edge", () => {
    expect(removeNodes(PART, new Set(["b"])).edges).toEqual([]);
    expect(addEdge(PART, "a", "b")).toBe(PART);
    expect(addEdge(PART, "b", "b")).toBe(PART);
  });

  it("pastes copies under fresh ids with the edges among them", () => {
    const { part, ids } = paste(PART, PART.nodes, PART.edges, PART.layout, { x: 40, y: 40 });
    expect(ids).toEqual(["a_2", "b_2"]);
    expect(part.edges.at(-1)).toEqual({ from: "a_2", to: "b_2" });
    expect(part.nodes.find((n) => n.id === "a_2")?.output).toBe("a_2");
    expect(part.layout.b_2).toEqual({ x: 40, y: 140 });
    expect(uniqueId(PART, "9 lives")).toBe("n9_lives");
  });
});

describe("undo and redo", () => {
  it("walks back and forth, and a new edit drops the redo", () => {
    let h = commit(commit(start(1), 2), 3);
    h = undo(undo(h));
    expect(h.present).toBe(1);
    h = redo(h);
    expect(h.present).toBe(2);
    h = commit(h, 5);
    expect(h.future).toEqual([]);
    expect(commit(h, 6, true).past).toEqual(h.past); // typing merges into one step
  });
});
