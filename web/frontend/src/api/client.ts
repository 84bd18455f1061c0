// The flowc service over HTTP, with the bearer token when one is set. Every failure becomes
// an ApiError that says what happened in words the editor can show as they are.
import type { JsonObject, Problem, WorkflowDoc } from "../model/types";
import type { Check, Example, Plan, Run, RunEvent, Saved, Version } from "./types";
import { readSse } from "./sse";

export type FailureKind = "unreachable" | "auth" | "invalid" | "not_found" | "server";

export class ApiError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  health(): Promise<{ status: string; model: string }> {
    return this.json("GET", "/health");
  }

  schema(): Promise<JsonObject> {
    return this.json("GET", "/v1/schema");
  }

  check(doc: WorkflowDoc): Promise<Check> {
    return this.json("POST", "/v1/check", doc);
  }

  save(doc: WorkflowDoc, graphId: string | null): Promise<Saved> {
    return graphId === null
      ? this.json("POST", "/v1/graphs", doc)
      : this.json("PUT", `/v1/graphs/${graphId}`, doc);
  }

  graph(graphId: string, version: number): Promise<{ graph: WorkflowDoc; version: number }> {
    return this.json("GET", `/v1/graphs/${graphId}?version=${version}`);
  }

  versions(graphId: string): Promise<{ data: Version[] }> {
    return this.json("GET", `/v1/graphs/${graphId}/versions`);
  }

  plan(graphId: string, version: number): Promise<Plan> {
    return this.json("POST", `/v1/graphs/${graphId}/compile?version=${version}`);
  }

  async explain(graphId: string, version: number): Promise<string> {
    const response = await this.send("POST", `/v1/graphs/${graphId}/compile?version=${version}&format=text`);
    return response.text();
  }

  examples(): Promise<{ data: Example[] }> {
    return this.json("GET", "/v1/examples");
  }

  example(name: string): Promise<WorkflowDoc> {
    return this.json("GET", `/v1/examples/${encodeURIComponent(name)}`);
  }

  startRun(graphId: string, version: number, inputs: JsonObject): Promise<{ run_id: string }> {
    return this.json("POST", `/v1/graphs/${graphId}/runs`, { version, inputs });
  }

  run(runId: string): Promise<Run> {
    return this.json("GET", `/v1/runs/${runId}`);
  }

  async *events(runId: string): AsyncGenerator<RunEvent> {
    const response = await this.send("GET", `/v1/runs/${runId}/events`);
    if (!response.body) throw new ApiError("server", "the server sent no event stream");
    for await (const message of readSse(response.body)) yield JSON.parse(message.data) as RunEvent;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError("unreachable", `cannot reach the flowc server at ${this.base || window.location.origin}: is \`flowc serve\` running?`);
    }
    if (response.ok) return response;
    throw await failure(response);
  }
}

async function failure(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => ({}))) as { detail?: unknown; errors?: Problem[] };
  const detail = typeof body.detail === "string" ? body.detail : response.statusText;
  if (response.status === 401) return new ApiError("auth", "the server wants an API key: enter it in the token field");
  if (response.status === 404) return new ApiError("not_found", detail);
  if (response.status === 422 && body.errors) {
    const first = body.errors[0];
    return new ApiError("invalid", first ? `${first.path}: ${first.message}` : "invalid input", body.errors);
  }
  if (response.status >= 500 && response.status !== 503) return new ApiError("server", `the server failed (${response.status}): ${detail}`);
  return new ApiError("server", `${response.status}: ${detail}`);
}
