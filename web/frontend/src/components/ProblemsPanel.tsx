// Every problem the server finds in the draft, as the user edits; click one to find its node.
import type { Problem } from "../model/types";

export function ProblemsPanel({ problems, onFocus }: { problems: Problem[]; onFocus: (nodeId: string) => void }) {
  if (problems.length === 0) return <p className="empty" data-testid="no-problems">no problems: the graph is valid</p>;
  return (
    <ul className="problems" data-testid="problems">
      {problems.map((p, i) => (
        <li key={i} className={`diag-${p.severity}`}>
          <a onClick={() => p.node_id && onFocus(p.node_id)}>
            <code>{p.path}</code> {p.node_id ? `(${p.node_id}) ` : ""}
            {p.message}
          </a>
        </li>
      ))}
    </ul>
  );
}
