// The server's problems (each with a JSON path and a node id) placed on nodes and fields.
import type { Problem } from "./types";

export interface Placed {
  byNode: Map<string, Problem[]>; // node id → its problems
  byField: Map<string, Problem[]>; // "node id/field" → problems of that field
  general: Problem[]; // problems of the workflow itself
}

/** The field of a node a path names: `nodes[2].prompt` → `prompt`; inside a map body the
 * innermost node's field (`nodes[1].body.nodes[0].prompt` → `prompt`). */
export function fieldOf(path: string): string | null {
  const match = /nodes\[\d+\]\.([A-Za-z_][A-Za-z0-9_]*)(?!.*nodes\[\d+\])/.exec(path);
  return match?.[1] ?? null;
}

export function place(problems: Problem[]): Placed {
  const placed: Placed = { byNode: new Map(), byField: new Map(), general: [] };
  for (const problem of problems) {
    const node = problem.node_id;
    if (node === null) {
      placed.general.push(problem);
      continue;
    }
    push(placed.byNode, node, problem);
    const field = fieldOf(problem.path);
    if (field !== null) push(placed.byField, `${node}/${field}`, problem);
  }
  return placed;
}

function push<K>(map: Map<K, Problem[]>, key: K, problem: Problem): void {
  const list = map.get(key);
  if (list) list.push(problem);
  else map.set(key, [problem]);
}
