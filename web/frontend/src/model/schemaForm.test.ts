import { describe, expect, it } from "vitest";
import { newNode, nodeFields, nodeTypes, parseValue, showValue, subflowFields, workflowFields } from "./schemaForm";
import type { JsonObject } from "./types";

// The shape of GET /v1/schema (pydantic's JSON Schema of the format), cut down.
const ID = { maxLength: 64, pattern: "^[A-Za-z_][A-Za-z0-9_]*$", type: "string" };
const SCHEMA: JsonObject = {
  properties: {
    name: { ...ID, title: "Name" },
    inputs: { type: "object", title: "Inputs" },
    nodes: {
      type: "array",
      items: { discriminator: { propertyName: "type", mapping: { llm: "#/$defs/LlmNode", map: "#/$defs/MapNode", vote: "#/$defs/VoteNode" } } },
    },
    layout: { type: "object" },
  },
  required: ["flowc", "name", "nodes"],
  $defs: {
    LlmNode: {
      properties: {
        max_tokens: { anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }], default: null, title: "Max Tokens" },
        prompt: { anyOf: [{ type: "string", maxLength: 200000 }, { type: "null" }], title: "Prompt" },
        stop: { anyOf: [{ type: "array", items: { type: "string" } }, { type: "null" }], title: "Stop" },
        id: { ...ID, title: "Id" },
        label: { anyOf: [{ type: "string" }, { type: "null" }], title: "Label" },
        ui: { anyOf: [{ type: "object" }, { type: "null" }] },
        type: { const: "llm", type: "string" },
        output: { ...ID, title: "Output" },
      },
      required: ["id", "type", "output"],
    },
    MapNode: {
      properties: { id: ID, type: { const: "map" }, over: { type: "string" }, output: ID, body: { $ref: "#/$defs/Body" } },
      required: ["id", "type", "over", "output", "body"],
    },
    Body: { properties: { nodes: { type: "array" }, edges: { type: "array" }, result: { type: "string" } } },
    // a type the editor has never heard of gets its form all the same
    VoteNode: {
      properties: { id: ID, type: { const: "vote" }, method: { enum: ["majority", "unanimous"], type: "string" }, strict: { type: "boolean" } },
      required: ["id", "type", "method"],
    },
  },
};

describe("forms from the JSON Schema", () => {
  it("lists the node types of the discriminator", () => {
    expect(nodeTypes(SCHEMA)).toEqual(["llm", "map", "vote"]);
  });

  it("gives each field its kind, id and label first, then required, type and ui hidden", () => {
    const fields = nodeFields(SCHEMA, "llm");
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["id", "text", true],
      ["label", "text", false],
      ["output", "text", true],
      ["max_tokens", "integer", false],
      ["prompt", "textarea", false],
      ["stop", "list", false],
    ]);
  });

  it("makes a map body a sub-flow and an unknown type's fields from its schema", () => {
    expect(nodeFields(SCHEMA, "map").find((f) => f.name === "body")?.kind).toBe("subflow");
    expect(subflowFields(SCHEMA, "map").map((f) => f.name)).toEqual(["result"]);
    expect(subflowFields(SCHEMA, "llm")).toEqual([]);
    const vote = nodeFields(SCHEMA, "vote");
    expect(vote.map((f) => [f.name, f.kind])).toEqual([["id", "text"], ["method", "enum"], ["strict", "boolean"]]);
    expect(vote[1]!.options).toEqual(["majority", "unanimous"]);
  });

  it("fills a new node's required fields", () => {
    expect(newNode(SCHEMA, "llm", "ask")).toEqual({ id: "ask", type: "llm", output: "ask" });
    expect(newNode(SCHEMA, "map", "each")).toEqual({ id: "each", type: "map", over: "", output: "each", body: { nodes: [], edges: [], result: "" } });
    expect(newNode(SCHEMA, "vote", "v")).toEqual({ id: "v", type: "vote", method: "majority" });
  });

  it("has the workflow's own settings, not its graph", () => {
    expect(workflowFields(SCHEMA).map((f) => f.name)).toEqual(["name", "inputs"]);
  });

  it("reads what was typed, and says what is wrong with it", () => {
    const [, , , maxTokens, , stop] = nodeFields(SCHEMA, "llm");
    expect(parseValue(maxTokens!, "12")).toEqual({ ok: true, value: 12 });
    expect(parseValue(maxTokens!, "1.5")).toEqual({ ok: false, error: "enter a whole number" });
    expect(parseValue(maxTokens!, "")).toEqual({ ok: true, value: undefined });
    expect(parseValue(stop!, "a\nb")).toEqual({ ok: true, value: ["a", "b"] });
    expect(showValue(stop!, ["a", "b"])).toBe("a\nb");
    const body = nodeFields(SCHEMA, "map").find((f) => f.name === "body")!;
    expect(parseValue(body, "{")).toMatchObject({ ok: false });
  });
});
