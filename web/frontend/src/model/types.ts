// The workflow format as the editor holds it: plain JSON, exactly as imported, so that an
// export gives back the same document. Only the fields the editor reads are typed.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Point {
  x: number;
  y: number;
}

export interface NodeDoc extends JsonObject {
  id: string;
  type: string;
}

export interface EdgeDoc extends JsonObject {
  from: string;
  to: string;
}

export interface BodyDoc extends JsonObject {
  nodes: NodeDoc[];
  edges: EdgeDoc[];
}

export interface WorkflowDoc extends JsonObject {
  flowc: number;
  name: string;
  nodes: NodeDoc[];
}

/** A graph being drawn: the top level or a map node's body (nested `scope`, outermost first). */
export type Scope = string[];

export interface Problem {
  path: string;
  node_id: string | null;
  message: string;
  severity: "error" | "warning";
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
