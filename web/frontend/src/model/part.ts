// A graph part: the nodes, edges and positions of one scope (the workflow or a map body).
// Positions of the top level live in `layout`; those of a body in its map node's
// `ui.layout` (both are the editor's and never change the plan).
import { isObject, type EdgeDoc, type Json, type JsonObject, type NodeDoc, type Point, type Scope, type WorkflowDoc } from "./types";

export interface Part {
  nodes: NodeDoc[];
  edges: EdgeDoc[];
  layout: Record<string, Point>;
}

type Holder = WorkflowDoc | JsonObject; // the workflow, or a map node's body

export function getPart(doc: WorkflowDoc, scope: Scope): Part {
  const { holder, layout } = locate(doc, scope);
  return {
    nodes: (holder.nodes as NodeDoc[] | undefined) ?? [],
    edges: (holder.edges as EdgeDoc[] | undefined) ?? [],
    layout,
  };
}

/** The document with one scope's part replaced; an unchanged `layout` is not written. */
export function setPart(doc: WorkflowDoc, scope: Scope, part: Part): WorkflowDoc {
  if (scope.length === 0) {
    return withGraph(doc, part, "layout") as WorkflowDoc;
  }
  const [first, ...rest] = scope;
  const nodes = doc.nodes.map((node) => (node.id === first ? setInMap(node, rest, part) : node));
  return { ...doc, nodes };
}

/** The settings of a scope other than its graph: the workflow's, or a map body's (`result`). */
export function getSettings(doc: WorkflowDoc, scope: Scope): JsonObject {
  return locate(doc, scope).holder;
}

/** The document with one setting of a map body changed; `undefined` removes it. */
export function setBodySetting(doc: WorkflowDoc, scope: Scope, key: string, value: Json | undefined): WorkflowDoc {
  const [first, ...rest] = scope;
  const nodes = doc.nodes.map((node) => (node.id === first ? updateBody(node, rest, key, value) : node));
  return { ...doc, nodes };
}

function updateBody(mapNode: NodeDoc, scope: Scope, key: string, value: Json | undefined): NodeDoc {
  const body = isObject(mapNode.body) ? mapNode.body : {};
  if (scope.length > 0) {
    const [first, ...rest] = scope;
    const nodes = ((body.nodes as NodeDoc[] | undefined) ?? []).map((n) => (n.id === first ? updateBody(n, rest, key, value) : n));
    return { ...mapNode, body: { ...body, nodes } };
  }
  const next: JsonObject = { ...body };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return { ...mapNode, body: next };
}

function setInMap(mapNode: NodeDoc, scope: Scope, part: Part): NodeDoc {
  const body = isObject(mapNode.body) ? mapNode.body : { nodes: [], edges: [], result: "" };
  if (scope.length > 0) {
    const [first, ...rest] = scope;
    const nodes = (body.nodes as NodeDoc[]).map((n) => (n.id === first ? setInMap(n, rest, part) : n));
    return { ...mapNode, body: { ...body, nodes } };
  }
  const newBody = withGraph(body, part, null);
  const ui = isObject(mapNode.ui) ? mapNode.ui : {};
  const oldLayout = isObject(ui.layout) ? ui.layout : {};
  const next: NodeDoc = { ...mapNode, body: newBody };
  if (!samePoints(oldLayout, part.layout)) next.ui = { ...ui, layout: pointsJson(part.layout) };
  return next;
}

function withGraph(holder: Holder, part: Part, layoutKey: string | null): Holder {
  const next: JsonObject = { ...holder, nodes: part.nodes };
  if (part.edges.length > 0 || "edges" in holder) next.edges = part.edges;
  if (layoutKey !== null) {
    const old = isObject(holder[layoutKey]) ? (holder[layoutKey] as JsonObject) : {};
    if (!samePoints(old, part.layout)) next[layoutKey] = pointsJson(part.layout);
  }
  return next;
}

function locate(doc: WorkflowDoc, scope: Scope): { holder: Holder; layout: Record<string, Point> } {
  let holder: Holder = doc;
  let layout = readPoints(doc.layout);
  for (const id of scope) {
    const node = ((holder.nodes as NodeDoc[] | undefined) ?? []).find((n) => n.id === id);
    if (!node || !isObject(node.body)) throw new Error(`no map node '${id}' here`);
    holder = node.body;
    layout = readPoints(isObject(node.ui) ? node.ui.layout : undefined);
  }
  return { holder, layout };
}

function readPoints(value: unknown): Record<string, Point> {
  const points: Record<string, Point> = {};
  if (!isObject(value)) return points;
  for (const [id, p] of Object.entries(value)) {
    if (isObject(p) && typeof p.x === "number" && typeof p.y === "number") points[id] = { x: p.x, y: p.y };
  }
  return points;
}

function pointsJson(points: Record<string, Point>): JsonObject {
  const out: JsonObject = {};
  for (const [id, p] of Object.entries(points)) out[id] = { x: p.x, y: p.y };
  return out;
}

function samePoints(old: JsonObject, points: Record<string, Point>): boolean {
  const a = readPoints(old);
  const keys = Object.keys(points);
  if (keys.length !== Object.keys(old).length) return false;
  return keys.every((k) => a[k]?.x === points[k]?.x && a[k]?.y === points[k]?.y);
}
