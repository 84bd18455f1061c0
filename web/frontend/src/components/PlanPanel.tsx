// The compiled plan beside the graph: its estimate, the prefix groups with their colours and
// savings, the critical path, the diagnostics (click one to find its node), and EXPLAIN.
import type { Plan } from "../api/types";
import type { Overlay } from "../model/overlay";

interface Props {
  plan: Plan | null;
  explain: string;
  overlay: Overlay | null;
  onFocus: (stepId: string) => void;
}

export function PlanPanel({ plan, explain, overlay, onFocus }: Props) {
  if (plan === null) return <p className="empty">Compile the graph (Ctrl+Enter) to see its plan drawn over it.</p>;
  const e = plan.estimate;
  const saved = e.prefill_tokens_naive - e.prefill_tokens_planned;
  return (
    <div className="plan-panel" data-testid="plan-panel">
      <section>
        <h4>Estimate</h4>
        <p>
          prefill tokens {e.prefill_tokens_naive} naive → {e.prefill_tokens_planned} planned (saves {saved}); decode ≤ {e.decode_tokens}
        </p>
        <p data-testid="critical-path">
          critical path: <span className="critical-text">{e.critical_path.join(" → ")}</span> ({e.critical_path_cost.toFixed(2)} s expected)
        </p>
        <h4>Prefix groups</h4>
        {overlay?.legend.length ? (
          <ul className="legend" data-testid="prefix-groups">
            {overlay.legend.map((g) => (
              <li key={g.id}>
                <span className="swatch" style={{ background: g.color }} /> {g.id}: {g.tokens} tokens shared by {g.consumers.join(", ")}, <strong>saves {g.saved} tokens</strong>
              </li>
            ))}
          </ul>
        ) : (
          <p>none: no two calls share a static prompt prefix</p>
        )}
        <h4>Diagnostics</h4>
        {plan.diagnostics.length ? (
          <ul className="diagnostics" data-testid="diagnostics">
            {plan.diagnostics.map((d, i) => (
              <li key={i} className={`diag-${d.severity}`}>
                <a onClick={() => d.node_id && onFocus(d.node_id)}>
                  [{d.severity}] {d.node_id ? `${d.node_id}: ` : ""}
                  {d.message}
                </a>
              </li>
            ))}
          </ul>
        ) : (
          <p>none</p>
        )}
      </section>
      <section>
        <h4>EXPLAIN</h4>
        <pre className="explain" data-testid="explain">
          {explain}
        </pre>
      </section>
    </div>
  );
}
