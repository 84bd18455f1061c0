// Differences between two versions of a workflow (its graph) and of their plans.
import type { Plan } from "../api/types";
import type { EdgeDoc, Json, JsonObject, NodeDoc } from "./types";

export interface NodeChange {
  id: string;
  fields: string[];
}

export interface GraphDiff {
  added: string[];
  removed: string[];
  changed: NodeChange[];
  edgesAdded: string[];
  edgesRemoved: string[];
  settings: string[]; // top-level keys other than nodes, edges and layout that changed
}

export interface PlanDiff {
  lines: string[]; // one line per difference, e.g. "stage of draft: 1 → 2"
}

const GRAPH_KEYS = new Set(["nodes", "edges", "layout"]);

export function graphDiff(a: JsonObject, b: JsonObject): GraphDiff {
  const nodesA = byId(a.nodes);
  const nodesB = byId(b.nodes);
  const edgesA = new Set(edgeNames(a.edges));
  const edgesB = new Set(edgeNames(b.edges));
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return {
    added: [...nodesB.keys()].filter((id) => !nodesA.has(id)),
    removed: [...nodesA.keys()].filter((id) => !nodesB.has(id)),
    changed: [...nodesB.entries()]
      .filter(([id]) => nodesA.has(id))
      .map(([id, node]) => ({ id, fields: changedKeys(nodesA.get(id)!, node) }))
      .filter((c) => c.fields.length > 0),
    edgesAdded: [...edgesB].filter((e) => !edgesA.has(e)),
    edgesRemoved: [...edgesA].filter((e) => !edgesB.has(e)),
    settings: [...keys].filter((k) => !GRAPH_KEYS.has(k) && !same(a[k], b[k])),
  };
}

/** Whether two documents differ only in where their top-level nodes are drawn (a plan
 * compiled from one holds for the other). */
export function sameGraph(a: JsonObject, b: JsonObject): boolean {
  if (a === b) return true;
  const strip = ({ layout: _layout, ...rest }: JsonObject) => JSON.stringify(rest);
  return strip(a) === strip(b);
}

export function isEmpty(diff: GraphDiff): boolean {
  return Object.values(diff).every((list: unknown[]) => list.length === 0);
}

export function planDiff(a: Plan, b: Plan): PlanDiff {
  const lines: string[] = [];
  const stagesA = stageOf(a);
  const stagesB = stageOf(b);
  for (const [id, stage] of stagesB) {
    const before = stagesA.get(id);
    if (before === undefined) lines.push(`step ${id} added (stage ${stage})`);
    else if (before !== stage) lines.push(`stage of ${id}: ${before} → ${stage}`);
  }
  for (const id of stagesA.keys()) if (!stagesB.has(id)) lines.push(`step ${id} removed`);
  const groupsA = groupNames(a);
  const groupsB = groupNames(b);
  for (const g of groupsB) if (!groupsA.has(g)) lines.push(`prefix group added: ${g}`);
  for (const g of groupsA) if (!groupsB.has(g)) lines.push(`prefix group removed: ${g}`);
  const ea = a.estimate;
  const eb = b.estimate;
  const numbers: [string, number, number][] = [
    ["prefill tokens planned", ea.prefill_tokens_planned, eb.prefill_tokens_planned],
    ["prefill tokens naive", ea.prefill_tokens_naive, eb.prefill_tokens_naive],
    ["decode tokens", ea.decode_tokens, eb.decode_tokens],
  ];
  for (const [name, x, y] of numbers) if (x !== y) lines.push(`${name}: ${x} → ${y}`);
  const pathA = ea.critical_path.join(" → ");
  const pathB = eb.critical_path.join(" → ");
  if (pathA !== pathB) lines.push(`critical path: ${pathA} ⇒ ${pathB}`);
  const diagA = new Set(a.diagnostics.map((d) => d.message));
  const diagB = new Set(b.diagnostics.map((d) => d.message));
  for (const d of diagB) if (!diagA.has(d)) lines.push(`new diagnostic: ${d}`);
  for (const d of diagA) if (!diagB.has(d)) lines.push(`diagnostic gone: ${d}`);
  return { lines };
}

function stageOf(plan: Plan): Map<string, number> {
  return new Map(plan.steps.map((s) => [s.id, s.stage]));
}

function groupNames(plan: Plan): Set<string> {
  return new Set(plan.prefix_groups.map((g) => `${g.tokens} tokens for ${g.consumers.join(", ")}`));
}

function byId(nodes: Json | undefined): Map<string, NodeDoc> {
  return new Map(((nodes as NodeDoc[] | undefined) ?? []).map((n) => [n.id, n]));
}

function edgeNames(edges: Json | undefined): string[] {
  return ((edges as EdgeDoc[] | undefined) ?? []).map(
    (e) => `${e.from} → ${e.to}${typeof e.when === "string" ? ` [${e.when}]` : ""}`,
  );
}

function changedKeys(a: JsonObject, b: JsonObject): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !same(a[k], b[k]));
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
