// The service's answers, as the editor reads them (see docs/api.md and /openapi.json).
import type { Json, JsonObject, Problem } from "../model/types";

export interface Step {
  id: string; // "<map id>.<node id>" inside a map body
  node_type: string;
  deps: string[];
  prompt_tokens: number;
  decode_tokens: number;
  priority: number;
  stage: number;
  body: Step[];
}

export interface PrefixGroup {
  id: string;
  consumers: string[];
  tokens: number;
  saved_tokens: number;
  runs: number;
  speculative: boolean;
}

export interface Diagnostic {
  severity: "error" | "warning" | "advice";
  code: string;
  message: string;
  node_id: string | null;
  path: string | null;
}

export interface Estimate {
  prefill_tokens_naive: number;
  prefill_tokens_planned: number;
  decode_tokens: number;
  critical_path: string[];
  critical_path_cost: number;
}

export interface Plan {
  workflow: string;
  steps: Step[];
  stages: string[][];
  prefix_groups: PrefixGroup[];
  diagnostics: Diagnostic[];
  estimate: Estimate;
}

export interface NodeTrace {
  node_id: string;
  node_type: string;
  visit: number;
  item: number[];
  start: number;
  end: number | null;
  status: string;
  prompt_tokens: number;
  cached_tokens: number;
  generated_tokens: number;
  duration_s: number;
}

export interface Trace {
  duration_s: number;
  status: string;
  nodes: NodeTrace[];
  prefill_saving: { predicted: number; actual: number; served_from_cache: number };
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "interrupted";

export interface Run {
  id: string;
  status: RunStatus;
  outputs: JsonObject | null;
  error: string | null;
  error_node: string | null;
  trace: Trace | null;
}

export interface RunEvent {
  seq: number;
  kind: "run_start" | "node_start" | "token" | "node_end" | "run_end" | "error";
  node_id: string | null;
  data: { [key: string]: Json };
  t: number;
}

export interface Saved {
  id: string;
  version: number;
  name: string;
  warnings: Problem[];
}

export interface Version {
  version: number;
  name: string;
  created_at: string;
}

export interface Example {
  name: string;
  title: string;
  description: string;
}

export interface Check {
  valid: true;
  warnings: Problem[];
}
