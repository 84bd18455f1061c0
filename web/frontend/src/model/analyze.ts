// EXPLAIN ANALYZE per node: the plan's prediction beside what the run did.
import type { Plan, Trace } from "../api/types";
import { flatten } from "./overlay";

export interface AnalyzeRow {
  step: string;
  type: string;
  runs: number;
  promptPredicted: number;
  promptActual: number;
  savingPredicted: number; // prompt tokens the plan expects from shared prefixes
  savingActual: number; // prompt tokens served from the prefix cache
  seconds: number;
}

export function analyze(plan: Plan, trace: Trace): AnalyzeRow[] {
  return flatten(plan.steps)
    .filter((s) => s.node_type === "llm" || s.node_type === "select")
    .map((step) => {
      const records = trace.nodes.filter((n) => n.node_id === step.id);
      // a group that extends another counts the whole prefix: the deepest one is what is shared
      const shared = Math.max(0, ...plan.prefix_groups.filter((g) => g.consumers.includes(step.id)).map((g) => g.tokens));
      return {
        step: step.id,
        type: step.node_type,
        runs: records.length,
        promptPredicted: step.prompt_tokens * Math.max(1, records.length),
        promptActual: sum(records.map((r) => r.prompt_tokens)),
        savingPredicted: shared * records.length,
        savingActual: sum(records.map((r) => r.cached_tokens)),
        seconds: sum(records.map((r) => r.duration_s)),
      };
    });
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
