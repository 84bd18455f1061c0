// Automatic layout with ELK's layered algorithm, for nodes that have no position yet.
// Positioned nodes keep theirs; the others are placed by ELK, shifted below them.
import type { ELK } from "elkjs/lib/elk-api";
import type { EdgeDoc, Point } from "./types";

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 96;

let elk: Promise<ELK> | null = null;

/** ELK is large: it is loaded the first time a graph needs laying out. */
function engine(): Promise<ELK> {
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  return elk;
}

const OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.spacing.nodeNode": "48",
  "elk.layered.spacing.nodeNodeBetweenLayers": "64",
  "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
};

/** Positions for every node id in `ids`: the known ones as given, the rest laid out. */
export async function layout(ids: string[], edges: EdgeDoc[], known: Record<string, Point>): Promise<Record<string, Point>> {
  const missing = ids.filter((id) => !known[id]);
  if (missing.length === 0) return known;
  const inside = new Set(missing);
  const graph = {
    id: "root",
    layoutOptions: OPTIONS,
    children: missing.map((id) => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: edges
      .filter((e) => inside.has(e.from) && inside.has(e.to) && e.from !== e.to)
      .map((e, i) => ({ id: `e${i}`, sources: [e.from], targets: [e.to] })),
  };
  const placed = await (await engine()).layout(graph);
  const top = below(Object.values(known));
  const positions: Record<string, Point> = { ...known };
  for (const child of placed.children ?? []) {
    positions[child.id] = { x: child.x ?? 0, y: (child.y ?? 0) + top };
  }
  return positions;
}

function below(points: Point[]): number {
  if (points.length === 0) return 0;
  return Math.max(...points.map((p) => p.y)) + NODE_HEIGHT + 64;
}

/** Whether any two nodes' boxes overlap (all nodes drawn NODE_WIDTH × NODE_HEIGHT). */
export function overlapping(positions: Record<string, Point>): [string, string] | null {
  const entries = Object.entries(positions);
  for (let i = 0; i < entries.length; i += 1) {
    for (let j = i + 1; j < entries.length; j += 1) {
      const [a, p] = entries[i]!;
      const [b, q] = entries[j]!;
      if (Math.abs(p.x - q.x) < NODE_WIDTH && Math.abs(p.y - q.y) < NODE_HEIGHT) return [a, b];
    }
  }
  return null;
}
