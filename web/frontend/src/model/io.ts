// Import and export of the JSON format exactly as the API and CLI take it: the document is
// kept as parsed, so exporting an imported file gives back the same JSON (keys in order,
// `layout` and `ui` included).
import { isObject, type WorkflowDoc } from "./types";

export type Imported = { ok: true; doc: WorkflowDoc } | { ok: false; error: string };

export function importText(text: string): Imported {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, error: "a workflow is a JSON object" };
  if (!Array.isArray(value.nodes)) return { ok: false, error: 'a workflow needs a "nodes" list' };
  if (!value.nodes.every((n) => isObject(n) && typeof n.id === "string" && typeof n.type === "string")) {
    return { ok: false, error: 'every node needs a string "id" and "type"' };
  }
  return { ok: true, doc: value as WorkflowDoc };
}

export function exportText(doc: WorkflowDoc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function emptyWorkflow(): WorkflowDoc {
  return { flowc: 1, name: "untitled", nodes: [], edges: [] };
}
