// React Flow's nodes and edges for one graph part, with the problems, the plan and the run
// drawn on them.
import type { Edge, Node } from "@xyflow/react";
import { DONE } from "../model/edit";
import type { Overlay } from "../model/overlay";
import type { Part } from "../model/part";
import type { NodeRun } from "../model/run";
import type { NodeDoc, Point, Problem } from "../model/types";

export interface FlowNodeData extends Record<string, unknown> {
  doc: NodeDoc | null; // null for the `done` terminal
  problems: Problem[];
  stage: number | null;
  groups: { id: string; color: string; saved: number }[];
  critical: boolean;
  run: NodeRun | null;
  onOpenBody: (() => void) | null;
}

export type FlowNode = Node<FlowNodeData, "flow">;

export interface ViewInput {
  part: Part;
  positions: Record<string, Point>;
  problems: Map<string, Problem[]>;
  overlay: Overlay | null;
  run: (id: string) => NodeRun | null;
  selected: string | null;
  selectedEdge: number | null;
  openBody: (id: string) => void;
}

export function flowNodes(v: ViewInput): FlowNode[] {
  const nodes: FlowNode[] = v.part.nodes.map((doc) => ({
    id: doc.id,
    type: "flow",
    position: v.positions[doc.id] ?? { x: 0, y: 0 },
    selected: doc.id === v.selected,
    data: {
      doc,
      problems: v.problems.get(doc.id) ?? [],
      stage: v.overlay?.stage.get(doc.id) ?? null,
      groups: v.overlay?.groups.get(doc.id) ?? [],
      critical: v.overlay?.critical.has(doc.id) ?? false,
      run: v.run(doc.id),
      onOpenBody: doc.type === "map" ? () => v.openBody(doc.id) : null,
    },
  }));
  if (usesDone(v.part)) {
    nodes.push({
      id: DONE,
      type: "flow",
      position: v.positions[DONE] ?? { x: 0, y: 0 },
      selectable: false,
      data: { doc: null, problems: [], stage: null, groups: [], critical: false, run: null, onOpenBody: null },
    });
  }
  return nodes;
}

export function flowEdges(v: ViewInput): Edge[] {
  return v.part.edges.map((e, i) => {
    const critical = v.overlay?.criticalEdges.has(`${e.from}→${e.to}`) ?? false;
    const when = typeof e.when === "string" ? e.when : undefined;
    return {
      id: `e${i}`,
      source: e.from,
      target: e.to,
      label: when,
      selected: i === v.selectedEdge,
      animated: critical,
      className: critical ? "critical" : when === "else" ? "else" : undefined,
      data: { index: i },
    };
  });
}

export function usesDone(part: Part): boolean {
  return part.edges.some((e) => e.to === DONE);
}

export function layoutIds(part: Part): string[] {
  return [...part.nodes.map((n) => n.id), ...(usesDone(part) ? [DONE] : [])];
}
