// Running the saved graph: an inputs form from the graph's declared inputs, the run's state,
// its outputs, the timeline, and EXPLAIN ANALYZE per node.
import { useState } from "react";
import type { Plan, Run } from "../api/types";
import { analyze } from "../model/analyze";
import { inputDefaults, inputFields } from "../model/inputs";
import type { RunView } from "../model/run";
import type { JsonObject, WorkflowDoc } from "../model/types";
import { SchemaForm } from "./SchemaForm";
import { Timeline } from "./Timeline";

interface Props {
  doc: WorkflowDoc;
  view: RunView | null;
  result: Run | null;
  plan: Plan | null;
  onRun: (inputs: JsonObject) => void;
}

export function RunPanel({ doc, view, result, plan, onRun }: Props) {
  const [values, setValues] = useState<JsonObject>(() => inputDefaults(doc));
  const fields = inputFields(doc);
  return (
    <div className="run-panel">
      <section className="run-inputs">
        <h4>Inputs</h4>
        {fields.length === 0 && <p>this graph declares no inputs</p>}
        <SchemaForm
          fields={fields}
          value={{ ...inputDefaults(doc), ...values }}
          testPrefix="input"
          problems={() => []}
          onChange={(name, value) =>
            setValues((current) => {
              const next = { ...current };
              if (value === undefined) delete next[name];
              else next[name] = value;
              return next;
            })
          }
        />
        <button className="primary" data-testid="run" disabled={view?.status === "running"} onClick={() => onRun({ ...inputDefaults(doc), ...values })}>
          Run (saves first)
        </button>
        {view && (
          <p data-testid="run-status" className={`run-status ${view.status}`}>
            {view.runId}: {view.status}
            {view.error ? ` — ${view.error}` : ""}
          </p>
        )}
        {result?.outputs && (
          <>
            <h4>Outputs</h4>
            <pre className="outputs" data-testid="outputs">
              {JSON.stringify(result.outputs, null, 2)}
            </pre>
          </>
        )}
      </section>
      <section className="run-timeline">
        <h4>Timeline</h4>
        {view ? <Timeline spans={view.spans} now={view.now} /> : <p className="empty">run the graph to see its timeline</p>}
        {plan && result?.trace && <Analyze plan={plan} result={result} />}
      </section>
    </div>
  );
}

function Analyze({ plan, result }: { plan: Plan; result: Run }) {
  const trace = result.trace!;
  const rows = analyze(plan, trace);
  return (
    <>
      <h4>EXPLAIN ANALYZE</h4>
      <table className="analyze" data-testid="analyze">
        <thead>
          <tr>
            <th>step</th>
            <th>runs</th>
            <th>prompt est.</th>
            <th>prompt</th>
            <th>shared prefix est.</th>
            <th>from cache</th>
            <th>time s</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.step}>
              <td>{r.step}</td>
              <td>{r.runs}</td>
              <td>{r.promptPredicted}</td>
              <td>{r.promptActual}</td>
              <td>{r.savingPredicted}</td>
              <td>{r.savingActual}</td>
              <td>{r.seconds.toFixed(3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        prefill saving: predicted {trace.prefill_saving.predicted} tokens, actual {trace.prefill_saving.actual} ({trace.prefill_saving.served_from_cache} served from cache); run {trace.status} in{" "}
        {trace.duration_s.toFixed(2)} s
      </p>
    </>
  );
}
