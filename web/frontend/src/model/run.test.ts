import { describe, expect, it } from "vitest";
import type { RunEvent } from "../api/types";
import { applyEvent, startView } from "./run";

const event = (seq: number, kind: RunEvent["kind"], node_id: string | null, data: RunEvent["data"], t: number): RunEvent => ({ seq, kind, node_id, data, t });

describe("following a run", () => {
  it("streams tokens into a node and closes its span", () => {
    const events = [
      event(0, "run_start", null, {}, 0),
      event(1, "node_start", "a", { item: [] }, 0.1),
      event(2, "token", "a", { text: "He" }, 0.2),
      event(3, "token", "a", { text: "llo" }, 0.3),
      event(4, "node_end", "a", { status: "succeeded", item: [] }, 0.4),
      event(5, "run_end", null, { status: "succeeded", error: null }, 0.5),
    ];
    const view = events.reduce(applyEvent, startView("r"));
    expect(view.nodes.a).toEqual({ status: "succeeded", text: "Hello", tokens: 2 });
    expect(view.spans).toEqual([{ key: "a|[]", nodeId: "a", label: "a", start: 0.1, end: 0.4, status: "succeeded" }]);
    expect(view.status).toBe("succeeded");
  });

  it("keeps map items apart and reports a failure", () => {
    const events = [
      event(0, "node_start", "m.x", { item: [0] }, 0),
      event(1, "node_start", "m.x", { item: [1] }, 0),
      event(2, "node_end", "m.x", { status: "succeeded", item: [1] }, 1),
      event(3, "error", null, { status: "failed", error: "boom" }, 2),
    ];
    const view = events.reduce(applyEvent, startView("r"));
    expect(view.spans.map((s) => [s.label, s.end])).toEqual([["m.x[0]", null], ["m.x[1]", 1]]);
    expect([view.status, view.error]).toEqual(["failed", "boom"]);
  });
});
