// One node on the canvas: its id and type, a line of its content, its problems, the plan's
// marks (stage, prefix groups, critical path) and, during a run, its state and tokens.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import type { FlowNode as FlowNodeType } from "./graphView";

export function FlowNode({ data, selected }: NodeProps<FlowNodeType>) {
  if (data.doc === null) {
    return (
      <div className="node done-node" data-testid="node-done">
        <Handle type="target" position={Position.Top} />
        done
      </div>
    );
  }
  const { doc, problems, run } = data;
  const errors = problems.filter((p) => p.severity === "error");
  const classes = ["node", `type-${doc.type}`, errors.length ? "has-error" : "", data.critical ? "critical" : "", selected ? "selected" : "", run ? `run-${run.status}` : ""];
  return (
    <div className={classes.filter(Boolean).join(" ")} data-testid={`node-${doc.id}`} data-status={run?.status ?? ""}>
      <Handle type="target" position={Position.Top} />
      <div className="node-head">
        <span className="node-id">{doc.id}</span>
        <span className="node-type">{doc.type}</span>
        {data.stage !== null && <span className="stage" data-testid="stage" title="stage">S{data.stage}</span>}
      </div>
      {data.groups.length > 0 && (
        <div className="groups">
          {data.groups.map((g) => (
            <span key={g.id} className="group-tag" style={{ background: g.color }} data-testid="group-tag" title={`prefix group ${g.id}: saves ${g.saved} tokens`}>
              {g.id}
            </span>
          ))}
        </div>
      )}
      <div className="node-summary">{summary(doc)}</div>
      {run && (
        <div className="node-stream" data-testid="node-stream">
          {run.text || run.status}
        </div>
      )}
      {errors.length > 0 && (
        <div className="node-errors" data-testid="node-error">
          {errors.map((p, i) => (
            <div key={i} title={p.path}>
              {p.message}
            </div>
          ))}
        </div>
      )}
      {data.onOpenBody && (
        <button className="open-body nodrag" onClick={data.onOpenBody} data-testid="open-body">
          edit body ▸
        </button>
      )}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

function summary(doc: Record<string, unknown>): string {
  for (const key of ["label", "prompt", "tool", "over"]) {
    const value = doc[key];
    if (typeof value === "string" && value) return value.length > 80 ? `${value.slice(0, 80)}…` : value;
  }
  if (Array.isArray(doc.messages)) return `${doc.messages.length} messages`;
  if (doc.assign && typeof doc.assign === "object") return `set ${Object.keys(doc.assign).join(", ")}`;
  return "";
}
