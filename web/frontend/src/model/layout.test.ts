import { describe, expect, it } from "vitest";
import { DONE } from "./edit";
import { exampleTexts } from "./examples.testing";
import { layout, overlapping } from "./layout";
import type { EdgeDoc, NodeDoc } from "./types";

describe("automatic layout", () => {
  it.each(exampleTexts())("places every node of %s without overlaps", async (_name, text) => {
    const doc = JSON.parse(text) as { nodes: NodeDoc[]; edges?: EdgeDoc[] };
    const edges = doc.edges ?? [];
    const ids = [...doc.nodes.map((n) => n.id), ...(edges.some((e) => e.to === DONE) ? [DONE] : [])];
    const positions = await layout(ids, edges, {});
    expect(Object.keys(positions).sort()).toEqual([...ids].sort());
    expect(overlapping(positions)).toBeNull();
  });

  it("keeps the positions it is given and places the rest below them", async () => {
    const known = { a: { x: 10, y: 20 } };
    const positions = await layout(["a", "b", "c"], [{ from: "b", to: "c" }], known);
    expect(positions.a).toEqual({ x: 10, y: 20 });
    expect(positions.b!.y).toBeGreaterThan(20);
    expect(positions.c!.y).toBeGreaterThan(positions.b!.y); // layered top to bottom
    expect(overlapping(positions)).toBeNull();
  });

  it("finds overlapping boxes", () => {
    expect(overlapping({ a: { x: 0, y: 0 }, b: { x: 100, y: 50 } })).toEqual(["a", "b"]);
  });
});
