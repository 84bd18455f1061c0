// Forms from the format's JSON Schema (GET /v1/schema): a node type's fields, their kinds and
// default values all come from the schema, so a new node type needs no editor change.
import { isObject, type Json, type JsonObject, type NodeDoc } from "./types";

export type FieldKind = "text" | "textarea" | "integer" | "number" | "boolean" | "enum" | "list" | "json" | "subflow";

export interface FieldSpec {
  name: string;
  title: string;
  kind: FieldKind;
  required: boolean;
  options: string[]; // for "enum"
  description: string;
}

type SchemaNode = JsonObject;

const HIDDEN = new Set(["type", "ui", "layout", "nodes", "edges", "flowc"]);
const LONG_TEXT = 1000; // strings that may be longer than this get a text area

export function nodeTypes(schema: SchemaNode): string[] {
  return Object.keys(mapping(schema)).sort();
}

export function nodeFields(schema: SchemaNode, type: string): FieldSpec[] {
  const ref = mapping(schema)[type];
  if (ref === undefined) return [];
  return fields(schema, resolve(schema, { $ref: ref }));
}

/** The settings of a node type's sub-flow (a map body's `result`), its graph left out. */
export function subflowFields(schema: SchemaNode, type: string): FieldSpec[] {
  const ref = mapping(schema)[type];
  const node = ref === undefined ? {} : resolve(schema, { $ref: ref });
  const properties = isObject(node.properties) ? Object.values(node.properties) : [];
  for (const prop of properties) {
    const inner = isObject(prop) ? resolve(schema, nonNull(prop)) : {};
    if (kindOf(inner) === "subflow") return fields(schema, inner);
  }
  return [];
}

export function workflowFields(schema: SchemaNode): FieldSpec[] {
  return fields(schema, schema);
}

/** A new node of `type`: its id, type, and a value for every required field. */
export function newNode(schema: SchemaNode, type: string, id: string): NodeDoc {
  const node: NodeDoc = { id, type };
  for (const field of nodeFields(schema, type)) {
    if (!field.required || field.name in node) continue;
    node[field.name] = emptyValue(field, id);
  }
  return node;
}

function emptyValue(field: FieldSpec, id: string): Json {
  if (field.name === "output") return id;
  switch (field.kind) {
    case "subflow":
      return { nodes: [], edges: [], result: "" };
    case "json":
      return {};
    case "list":
      return [];
    case "boolean":
      return false;
    case "integer":
    case "number":
      return 0;
    case "enum":
      return field.options[0] ?? "";
    default:
      return "";
  }
}

function fields(schema: SchemaNode, object: SchemaNode): FieldSpec[] {
  const properties = isObject(object.properties) ? object.properties : {};
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  const specs = Object.entries(properties)
    .filter(([name]) => !HIDDEN.has(name))
    .map(([name, prop]) => spec(schema, name, isObject(prop) ? prop : {}, required.has(name)));
  const rank = (f: FieldSpec) => (f.name === "id" ? 0 : f.name === "label" ? 1 : f.required ? 2 : 3);
  return specs.sort((a, b) => rank(a) - rank(b)); // stable: schema order within a rank
}

function spec(schema: SchemaNode, name: string, prop: SchemaNode, required: boolean): FieldSpec {
  const inner = resolve(schema, nonNull(prop));
  return {
    name,
    title: typeof prop.title === "string" ? prop.title : name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " "),
    kind: kindOf(inner),
    required,
    options: Array.isArray(inner.enum) ? inner.enum.map(String) : [],
    description: typeof prop.description === "string" ? prop.description : "",
  };
}

export function kindOf(prop: SchemaNode): FieldKind {
  if (Array.isArray(prop.enum)) return "enum";
  if (isObject(prop.properties) && "nodes" in prop.properties) return "subflow";
  switch (prop.type) {
    case "string":
      return typeof prop.maxLength === "number" && prop.maxLength > LONG_TEXT ? "textarea" : "text";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return isObject(prop.items) && prop.items.type === "string" ? "list" : "json";
    default:
      return "json";
  }
}

/** `X | null` as X: optional fields are written as `anyOf: [X, {type: null}]`. */
function nonNull(prop: SchemaNode): SchemaNode {
  if (!Array.isArray(prop.anyOf)) return prop;
  const options = prop.anyOf.filter((o): o is JsonObject => isObject(o) && o.type !== "null");
  return options.length === 1 && options[0] ? options[0] : prop;
}

function resolve(schema: SchemaNode, prop: SchemaNode): SchemaNode {
  if (typeof prop.$ref !== "string") return prop;
  const name = prop.$ref.replace("#/$defs/", "");
  const defs = isObject(schema.$defs) ? schema.$defs : {};
  const found = defs[name];
  return isObject(found) ? found : {};
}

function mapping(schema: SchemaNode): Record<string, string> {
  const nodes = isObject(schema.properties) ? schema.properties.nodes : undefined;
  const items = isObject(nodes) ? nodes.items : undefined;
  const discriminator = isObject(items) ? items.discriminator : undefined;
  const map = isObject(discriminator) ? discriminator.mapping : undefined;
  return isObject(map) ? (map as Record<string, string>) : {};
}

/** A field's value as its input shows it. */
export function showValue(field: FieldSpec, value: Json | undefined): string {
  if (value === undefined || value === null) return "";
  if (field.kind === "list" && Array.isArray(value)) return value.join("\n");
  if (field.kind === "json" || field.kind === "subflow") return JSON.stringify(value, null, 2);
  return String(value);
}

export type Parsed = { ok: true; value: Json | undefined } | { ok: false; error: string };

/** What the user typed as the field's value; `undefined` removes an optional field. */
export function parseValue(field: FieldSpec, text: string): Parsed {
  if (text.trim() === "" && !field.required) return { ok: true, value: undefined };
  switch (field.kind) {
    case "integer":
    case "number": {
      const n = Number(text);
      if (text.trim() === "" || Number.isNaN(n)) return { ok: false, error: "enter a number" };
      if (field.kind === "integer" && !Number.isInteger(n)) return { ok: false, error: "enter a whole number" };
      return { ok: true, value: n };
    }
    case "boolean":
      return { ok: true, value: text === "true" };
    case "list":
      return { ok: true, value: text.split("\n").filter((line) => line !== "") };
    case "json":
    case "subflow":
      try {
        return { ok: true, value: JSON.parse(text) as Json };
      } catch (e) {
        return { ok: false, error: `not JSON: ${(e as Error).message}` };
      }
    default:
      return { ok: true, value: text };
  }
}
