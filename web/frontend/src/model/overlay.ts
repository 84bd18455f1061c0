// The plan drawn over the graph: stage numbers, prefix groups (a colour each, with the tokens
// it saves) and the critical path.
import type { Plan, Step } from "../api/types";
import { localId } from "./scope";
import type { Scope } from "./types";

export interface GroupTag {
  id: string;
  color: string;
  tokens: number;
  saved: number;
  consumers: string[];
}

export interface Overlay {
  stage: Map<string, number>;
  groups: Map<string, GroupTag[]>; // node id → the groups it consumes
  legend: GroupTag[];
  critical: Set<string>;
  criticalEdges: Set<string>; // "from→to"
}

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990", "#808000"];

export function overlay(plan: Plan, scope: Scope): Overlay {
  const stage = new Map<string, number>();
  for (const step of flatten(plan.steps)) {
    const id = localId(step.id, scope);
    if (id !== null && !stage.has(id)) stage.set(id, step.stage);
  }
  const legend = plan.prefix_groups.map((g, i) => ({
    id: g.id,
    color: COLORS[i % COLORS.length] ?? "#888",
    tokens: g.tokens,
    saved: g.saved_tokens,
    consumers: g.consumers,
  }));
  const groups = new Map<string, GroupTag[]>();
  for (const tag of legend) {
    const ids = new Set(tag.consumers.map((c) => localId(c, scope)).filter((c): c is string => c !== null));
    for (const id of ids) groups.set(id, [...(groups.get(id) ?? []), tag]);
  }
  const path = plan.estimate.critical_path.map((c) => localId(c, scope)).filter((c): c is string => c !== null);
  const criticalEdges = new Set(path.slice(1).map((to, i) => `${path[i]}→${to}`));
  return { stage, groups, legend, critical: new Set(path), criticalEdges };
}

export function flatten(steps: Step[]): Step[] {
  return steps.flatMap((s) => [s, ...flatten(s.body ?? [])]);
}
