// A form generated from field specs (themselves from the JSON Schema): one input per field,
// each showing the server's problems for that field.
import { useEffect, useState } from "react";
import { parseValue, showValue, type FieldSpec } from "../model/schemaForm";
import type { Json, JsonObject, Problem } from "../model/types";

interface Props {
  fields: FieldSpec[];
  value: JsonObject;
  problems: (field: string) => Problem[];
  onChange: (field: string, value: Json | undefined) => void;
  onOpenSubflow?: (field: string) => void; // a sub-flow is drawn on the canvas, not typed
  testPrefix: string;
}

export function SchemaForm({ fields, value, problems, onChange, onOpenSubflow, testPrefix }: Props) {
  return (
    <div className="form">
      {fields.map((field) =>
        field.kind === "subflow" && onOpenSubflow ? (
          <div key={field.name} className="field">
            <span className="field-label">{field.title}</span>
            <button data-testid={`${testPrefix}-${field.name}`} onClick={() => onOpenSubflow(field.name)}>
              edit as a sub-flow ▸
            </button>
            {problems(field.name).map((p, i) => (
              <span key={i} className="field-message">
                {p.message}
              </span>
            ))}
          </div>
        ) : (
          <Field key={field.name} field={field} value={value[field.name]} problems={problems(field.name)} onChange={(v) => onChange(field.name, v)} testId={`${testPrefix}-${field.name}`} />
        ),
      )}
    </div>
  );
}

interface FieldProps {
  field: FieldSpec;
  value: Json | undefined;
  problems: Problem[];
  onChange: (value: Json | undefined) => void;
  testId: string;
}

function Field({ field, value, problems, onChange, testId }: FieldProps) {
  const [text, setText] = useState(showValue(field, value));
  const [local, setLocal] = useState<string | null>(null);
  useEffect(() => {
    setText((current) => {
      const parsed = parseValue(field, current);
      const same = parsed.ok && JSON.stringify(parsed.value) === JSON.stringify(value ?? undefined);
      return same ? current : showValue(field, value);
    });
  }, [field, value]);

  const edit = (next: string) => {
    setText(next);
    const parsed = parseValue(field, next);
    setLocal(parsed.ok ? null : parsed.error);
    if (parsed.ok) onChange(parsed.value);
  };
  const messages = [...(local ? [local] : []), ...problems.map((p) => p.message)];
  const label = `${field.title}${field.required ? " *" : ""}`;
  return (
    <label className={`field${messages.length ? " field-error" : ""}`} title={field.description}>
      <span className="field-label">{label}</span>
      {input(field, text, edit, testId)}
      {messages.map((m, i) => (
        <span key={i} className="field-message" data-testid={`${testId}-error`}>
          {m}
        </span>
      ))}
    </label>
  );
}

function input(field: FieldSpec, text: string, edit: (text: string) => void, testId: string) {
  switch (field.kind) {
    case "boolean":
      return <input type="checkbox" data-testid={testId} checked={text === "true"} onChange={(e) => edit(String(e.target.checked))} />;
    case "enum":
      return (
        <select data-testid={testId} value={text} onChange={(e) => edit(e.target.value)}>
          {!field.required && <option value="">(unset)</option>}
          {field.options.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      );
    case "integer":
    case "number":
      return <input type="number" data-testid={testId} value={text} step={field.kind === "integer" ? 1 : "any"} onChange={(e) => edit(e.target.value)} />;
    case "text":
      return <input data-testid={testId} value={text} onChange={(e) => edit(e.target.value)} />;
    default:
      return <textarea data-testid={testId} value={text} rows={field.kind === "textarea" ? 5 : 4} spellCheck={false} onChange={(e) => edit(e.target.value)} placeholder={field.kind === "list" ? "one per line" : undefined} />;
  }
}
