// A run as the editor follows it: each node's state and streamed text, the spans of the
// timeline, from the server's events as they arrive.
import type { RunEvent } from "../api/types";

export type NodeStatus = "waiting" | "running" | "succeeded" | "failed" | "cancelled";

export interface NodeRun {
  status: NodeStatus;
  text: string;
  tokens: number;
}

export interface Span {
  key: string; // node id, map item and visit
  nodeId: string;
  label: string;
  start: number;
  end: number | null;
  status: NodeStatus;
}

export interface RunView {
  runId: string;
  status: "running" | "succeeded" | "failed" | "cancelled";
  error: string | null;
  nodes: Record<string, NodeRun>; // by step id
  spans: Span[];
  now: number; // the last event's time, seconds since the run started
}

export function startView(runId: string): RunView {
  return { runId, status: "running", error: null, nodes: {}, spans: [], now: 0 };
}

export function applyEvent(view: RunView, event: RunEvent): RunView {
  const next: RunView = { ...view, now: Math.max(view.now, event.t) };
  const id = event.node_id;
  switch (event.kind) {
    case "node_start":
      if (id === null) return next;
      next.nodes = { ...view.nodes, [id]: { status: "running", text: "", tokens: 0 } };
      next.spans = [...view.spans, { key: spanKey(event), nodeId: id, label: spanLabel(event), start: event.t, end: null, status: "running" }];
      return next;
    case "token": {
      if (id === null) return next;
      const node = view.nodes[id] ?? { status: "running", text: "", tokens: 0 };
      const text = typeof event.data.text === "string" ? event.data.text : "";
      next.nodes = { ...view.nodes, [id]: { ...node, text: node.text + text, tokens: node.tokens + 1 } };
      return next;
    }
    case "node_end": {
      if (id === null) return next;
      const status = asStatus(event.data.status);
      const node = view.nodes[id] ?? { status, text: "", tokens: 0 };
      next.nodes = { ...view.nodes, [id]: { ...node, status } };
      const key = spanKey(event);
      next.spans = view.spans.map((s) => (s.key === key && s.end === null ? { ...s, end: event.t, status } : s));
      return next;
    }
    case "run_end":
    case "error": {
      next.status = event.kind === "run_end" ? "succeeded" : asRunStatus(event.data.status);
      next.error = typeof event.data.error === "string" ? event.data.error : null;
      return next;
    }
    default:
      return next;
  }
}

function spanKey(event: RunEvent): string {
  return `${event.node_id}|${JSON.stringify(event.data.item ?? [])}`;
}

function spanLabel(event: RunEvent): string {
  const item = Array.isArray(event.data.item) && event.data.item.length > 0 ? `[${event.data.item.join(",")}]` : "";
  const visit = typeof event.data.visit === "number" && event.data.visit > 1 ? ` #${event.data.visit}` : "";
  return `${event.node_id}${item}${visit}`;
}

function asStatus(value: unknown): NodeStatus {
  return value === "succeeded" || value === "failed" || value === "cancelled" ? value : "succeeded";
}

function asRunStatus(value: unknown): RunView["status"] {
  return value === "cancelled" ? "cancelled" : "failed";
}
