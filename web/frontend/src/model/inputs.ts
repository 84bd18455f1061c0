// The run form of a workflow: one field per declared input, of its declared type, filled
// with its default.
import type { FieldKind, FieldSpec } from "./schemaForm";
import { isObject, type JsonObject, type WorkflowDoc } from "./types";

const KINDS: Record<string, FieldKind> = {
  string: "textarea",
  integer: "integer",
  number: "number",
  boolean: "boolean",
  array: "json",
  object: "json",
};

export function inputFields(doc: WorkflowDoc): FieldSpec[] {
  const inputs = isObject(doc.inputs) ? doc.inputs : {};
  return Object.entries(inputs).map(([name, spec]) => {
    const s = isObject(spec) ? spec : {};
    const type = typeof s.type === "string" ? s.type : "string";
    return {
      name,
      title: `${name} (${type})`,
      kind: KINDS[type] ?? "json",
      required: !("default" in s),
      options: [],
      description: typeof s.description === "string" ? s.description : "",
    };
  });
}

export function inputDefaults(doc: WorkflowDoc): JsonObject {
  const values: JsonObject = {};
  const inputs = isObject(doc.inputs) ? doc.inputs : {};
  for (const [name, spec] of Object.entries(inputs)) {
    if (isObject(spec) && spec.default !== undefined && spec.default !== null) values[name] = spec.default;
  }
  return values;
}
