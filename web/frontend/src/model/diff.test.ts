import { describe, expect, it } from "vitest";
import type { Plan } from "../api/types";
import { graphDiff, isEmpty, planDiff, sameGraph } from "./diff";
import type { JsonObject } from "./types";

const A: JsonObject = {
  flowc: 1,
  name: "g",
  nodes: [
    { id: "a", type: "llm", output: "x", prompt: "hi" },
    { id: "b", type: "llm", output: "y", prompt: "{{ x }}" },
  ],
  edges: [{ from: "a", to: "b" }],
  layout: { a: { x: 0, y: 0 } },
};

function plan(stages: Record<string, number>, planned: number, path: string[]): Plan {
  return {
    workflow: "g",
    steps: Object.entries(stages).map(([id, stage]) => ({ id, node_type: "llm", deps: [], prompt_tokens: 1, decode_tokens: 1, priority: 1, stage, body: [] })),
    stages: [],
    prefix_groups: [],
    diagnostics: [],
    estimate: { prefill_tokens_naive: 100, prefill_tokens_planned: planned, decode_tokens: 10, critical_path: path, critical_path_cost: 1 },
  };
}

describe("diffs of two versions", () => {
  it("finds added, removed and changed nodes and edges, and ignores layout", () => {
    const b: JsonObject = {
      ...A,
      description: "new",
      nodes: [{ id: "a", type: "llm", output: "x", prompt: "hello" }, { id: "c", type: "set", assign: {} }],
      edges: [{ from: "a", to: "c", when: "x" }],
      layout: { a: { x: 9, y: 9 } },
    };
    expect(graphDiff(A, b)).toEqual({
      added: ["c"],
      removed: ["b"],
      changed: [{ id: "a", fields: ["prompt"] }],
      edgesAdded: ["a → c [x]"],
      edgesRemoved: ["a → b"],
      settings: ["description"],
    });
    expect(isEmpty(graphDiff(A, { ...A, layout: {} }))).toBe(true);
    expect(sameGraph(A, { ...A, layout: {} })).toBe(true);
    expect(sameGraph(A, { ...A, name: "h" })).toBe(false);
  });

  it("says how the plan changed", () => {
    const before = plan({ a: 0, b: 1 }, 80, ["a", "b"]);
    const after = plan({ a: 0, c: 0 }, 60, ["a"]);
    expect(planDiff(before, after).lines).toEqual([
      "step c added (stage 0)",
      "step b removed",
      "prefill tokens planned: 80 → 60",
      "critical path: a → b ⇒ a",
    ]);
    expect(planDiff(before, before).lines).toEqual([]);
  });
});
