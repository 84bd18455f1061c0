// The side panel: the selected node's form (from the JSON Schema), the selected edge's
// condition, or the workflow's own settings when nothing is selected.
import { DONE, removeEdges, removeNodes, setField, setWhen } from "../model/edit";
import { getPart, getSettings, setBodySetting, type Part } from "../model/part";
import type { Placed } from "../model/problems";
import { nodeFields, subflowFields, workflowFields } from "../model/schemaForm";
import type { Json, JsonObject, Problem, Scope, WorkflowDoc } from "../model/types";
import type { Selection } from "../state/editor";
import { SchemaForm } from "./SchemaForm";

interface Props {
  schema: JsonObject | null;
  doc: WorkflowDoc;
  scope: Scope;
  part: Part;
  selection: Selection;
  placed: Placed;
  problems: Problem[];
  onEdit: (edit: (part: Part) => Part, typing?: string) => void;
  onEditDoc: (edit: (doc: WorkflowDoc) => WorkflowDoc, typing?: string) => void;
  onSelect: (selection: Selection) => void;
  onOpenBody: (id: string) => void;
}

export function Inspector(props: Props) {
  const { schema, selection } = props;
  if (schema === null) return <aside className="inspector">loading the format's schema…</aside>;
  if (selection?.kind === "edge") return <EdgeForm {...props} index={selection.index} />;
  const node = selection?.kind === "node" ? props.part.nodes.find((n) => n.id === selection.id) : undefined;
  if (node) {
    const fields = nodeFields(schema, node.type);
    const own = (props.placed.byNode.get(node.id) ?? []).filter((p) => !fields.some((f) => p.path.endsWith(`.${f.name}`)));
    return (
      <aside className="inspector" data-testid="inspector">
        <h3>
          {node.type} node <code>{node.id}</code>
        </h3>
        {own.map((p, i) => (
          <div key={i} className="field-message">
            {p.message}
          </div>
        ))}
        <SchemaForm
          fields={fields}
          value={node}
          testPrefix="field"
          problems={(f) => props.placed.byField.get(`${node.id}/${f}`) ?? []}
          onChange={(field, value) => {
            props.onEdit((part) => setField(part, node.id, field, value), `${node.id}/${field}`);
            if (field === "id" && typeof value === "string") props.onSelect({ kind: "node", id: value });
          }}
          onOpenSubflow={() => props.onOpenBody(node.id)}
        />
        <button onClick={() => props.onEdit((part) => removeNodes(part, new Set([node.id])), undefined)}>Delete node</button>
      </aside>
    );
  }
  if (props.scope.length > 0) return <BodyForm {...props} schema={schema} />;
  return (
    <aside className="inspector" data-testid="inspector">
      <h3>Workflow</h3>
      <SchemaForm
        fields={workflowFields(schema)}
        value={props.doc}
        testPrefix="workflow"
        problems={(f) => props.problems.filter((p) => p.node_id === null && (p.path === f || p.path.startsWith(`${f}.`) || p.path.startsWith(`${f}[`)))}
        onChange={(field, value) => props.onEditDoc((doc) => withKey(doc, field, value), `workflow/${field}`)}
      />
    </aside>
  );
}

/** A map body's own settings (its `result`), when the canvas shows the body. */
function BodyForm(props: Props & { schema: JsonObject }) {
  const { doc, scope } = props;
  const id = scope[scope.length - 1]!;
  const holder = getPart(doc, scope.slice(0, -1)).nodes.find((n) => n.id === id);
  const fields = holder ? subflowFields(props.schema, holder.type) : [];
  return (
    <aside className="inspector" data-testid="inspector">
      <h3>
        Body of <code>{id}</code>
      </h3>
      <SchemaForm
        fields={fields}
        value={getSettings(doc, scope)}
        testPrefix="body"
        problems={(f) => props.problems.filter((p) => p.node_id === id && p.path.endsWith(`.body.${f}`))}
        onChange={(field, value) => props.onEditDoc((d) => setBodySetting(d, scope, field, value), `body/${scope.join(".")}/${field}`)}
      />
    </aside>
  );
}

function EdgeForm(props: Props & { index: number }) {
  const edge = props.part.edges[props.index];
  if (!edge) return <aside className="inspector">no such edge</aside>;
  const when = typeof edge.when === "string" ? edge.when : "";
  const problems = props.problems.filter((p) => p.path.includes(`edges[${props.index}]`));
  const targets = [...props.part.nodes.map((n) => n.id), DONE];
  return (
    <aside className="inspector" data-testid="inspector">
      <h3>
        Edge <code>{edge.from}</code> → <code>{edge.to}</code>
      </h3>
      <label className="field">
        <span className="field-label">to</span>
        <select data-testid="edge-to" value={edge.to} onChange={(e) => props.onEdit((part) => retarget(part, props.index, e.target.value))}>
          {targets.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      <label className="field">
        <span className="field-label">when (a condition; "else" when no sibling fired; empty: always)</span>
        <input data-testid="edge-when" value={when} onChange={(e) => props.onEdit((part) => setWhen(part, props.index, e.target.value), `edge/${props.index}`)} />
      </label>
      {problems.map((p, i) => (
        <div key={i} className="field-message">
          {p.message}
        </div>
      ))}
      <button
        onClick={() => {
          props.onEdit((part) => removeEdges(part, new Set([props.index])));
          props.onSelect(null);
        }}
      >
        Delete edge
      </button>
    </aside>
  );
}

function retarget(part: Part, index: number, to: string): Part {
  return { ...part, edges: part.edges.map((e, i) => (i === index ? { ...e, to } : e)) };
}

function withKey(doc: WorkflowDoc, key: string, value: Json | undefined): WorkflowDoc {
  const next = { ...doc };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}
