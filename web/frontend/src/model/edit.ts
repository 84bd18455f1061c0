// Pure edits of one graph part. Each returns a new part; nothing is mutated, so the history
// can keep every version of the document.
import type { Part } from "./part";
import type { EdgeDoc, Json, NodeDoc, Point } from "./types";

export const DONE = "done"; // the end of a run, a target every edge may name

export function uniqueId(part: Part, base: string): string {
  const taken = new Set(part.nodes.map((n) => n.id));
  const stem = base.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "n") || "node";
  if (!taken.has(stem)) return stem;
  let i = 2;
  while (taken.has(`${stem}_${i}`)) i += 1;
  return `${stem}_${i}`;
}

export function addNode(part: Part, node: NodeDoc, at: Point): Part {
  return { ...part, nodes: [...part.nodes, node], layout: { ...part.layout, [node.id]: at } };
}

/** Set one field of a node; `undefined` removes it. Renaming the id follows through edges
 * and positions. */
export function setField(part: Part, id: string, field: string, value: Json | undefined): Part {
  if (field === "id" && typeof value === "string") return rename(part, id, value);
  const nodes = part.nodes.map((node) => {
    if (node.id !== id) return node;
    const next = { ...node };
    if (value === undefined) delete next[field];
    else next[field] = value;
    return next;
  });
  return { ...part, nodes };
}

function rename(part: Part, from: string, to: string): Part {
  if (from === to) return part;
  const layout = { ...part.layout };
  if (layout[from]) {
    layout[to] = layout[from];
    delete layout[from];
  }
  return {
    nodes: part.nodes.map((n) => (n.id === from ? { ...n, id: to } : n)),
    edges: part.edges.map((e) => ({ ...e, from: e.from === from ? to : e.from, to: e.to === from ? to : e.to })),
    layout,
  };
}

export function removeNodes(part: Part, ids: ReadonlySet<string>): Part {
  const layout = { ...part.layout };
  for (const id of ids) delete layout[id];
  return {
    nodes: part.nodes.filter((n) => !ids.has(n.id)),
    edges: part.edges.filter((e) => !ids.has(e.from) && !ids.has(e.to)),
    layout,
  };
}

export function addEdge(part: Part, from: string, to: string): Part {
  if (from === to || part.edges.some((e) => e.from === from && e.to === to)) return part;
  return { ...part, edges: [...part.edges, { from, to }] };
}

export function removeEdges(part: Part, indices: ReadonlySet<number>): Part {
  return { ...part, edges: part.edges.filter((_, i) => !indices.has(i)) };
}

/** Set an edge's `when` condition; an empty one makes the edge unconditional. */
export function setWhen(part: Part, index: number, when: string): Part {
  const edges = part.edges.map((edge, i) => {
    if (i !== index) return edge;
    const next: EdgeDoc = { ...edge };
    if (when.trim() === "") delete next.when;
    else next.when = when;
    return next;
  });
  return { ...part, edges };
}

export function moveNodes(part: Part, moves: Record<string, Point>): Part {
  return { ...part, layout: { ...part.layout, ...moves } };
}

/** Paste copied nodes (and the edges among them) under fresh ids, shifted by `offset`. */
export function paste(part: Part, nodes: NodeDoc[], edges: EdgeDoc[], positions: Record<string, Point>,
                      offset: Point): { part: Part; ids: string[] } {
  let next = part;
  const renamed = new Map<string, string>();
  for (const node of nodes) {
    const id = uniqueId(next, node.id);
    renamed.set(node.id, id);
    const at = positions[node.id] ?? { x: 0, y: 0 };
    const copy: NodeDoc = { ...node, id };
    if (typeof copy.output === "string" && copy.output === node.id) copy.output = id;
    next = addNode(next, copy, { x: at.x + offset.x, y: at.y + offset.y });
  }
  for (const edge of edges) {
    const from = renamed.get(edge.from);
    const to = renamed.get(edge.to);
    if (from && to) next = { ...next, edges: [...next.edges, { ...edge, from, to }] };
  }
  return { part: next, ids: [...renamed.values()] };
}
