// The saved graph's versions, and the difference between two of them: the graph's changes
// and the plan's.
import { useEffect, useState } from "react";
import type { Api } from "../api/client";
import type { Version } from "../api/types";
import { graphDiff, planDiff, type GraphDiff, type PlanDiff } from "../model/diff";
import type { WorkflowDoc } from "../model/types";

interface Props {
  api: Api;
  graphId: string | null;
  version: number | null;
  onOpen: (doc: WorkflowDoc, version: number) => void;
  onError: (error: unknown) => void;
}

export function VersionsPanel({ api, graphId, version, onOpen, onError }: Props) {
  const [versions, setVersions] = useState<Version[]>([]);
  const [pair, setPair] = useState<[number, number]>([1, 1]);
  const [diff, setDiff] = useState<{ graph: GraphDiff; plan: PlanDiff } | null>(null);
  useEffect(() => {
    if (graphId === null) return;
    api.versions(graphId).then((answer) => {
      setVersions(answer.data);
      const last = answer.data.length;
      setPair([Math.max(1, last - 1), last]);
    }, onError);
  }, [api, graphId, version, onError]);
  if (graphId === null) return <p className="empty">Save the graph to keep its versions.</p>;

  const compare = async () => {
    try {
      const [a, b] = await Promise.all(pair.map((v) => api.graph(graphId, v)));
      const [pa, pb] = await Promise.all(pair.map((v) => api.plan(graphId, v)));
      setDiff({ graph: graphDiff(a!.graph, b!.graph), plan: planDiff(pa!, pb!) });
    } catch (e) {
      onError(e);
    }
  };
  const open = async (v: number) => {
    try {
      onOpen((await api.graph(graphId, v)).graph, v);
    } catch (e) {
      onError(e);
    }
  };
  const pick = (i: 0 | 1, v: number) => setPair((p) => (i === 0 ? [v, p[1]] : [p[0], v]));
  return (
    <div className="versions-panel" data-testid="versions">
      <ul>
        {versions.map((v) => (
          <li key={v.version}>
            v{v.version} · {v.name} · {new Date(v.created_at).toLocaleString()} <a onClick={() => open(v.version)}>open</a>
          </li>
        ))}
      </ul>
      <div>
        diff{" "}
        {([0, 1] as const).map((i) => (
          <select key={i} value={pair[i]} onChange={(e) => pick(i, Number(e.target.value))} data-testid={`diff-${i}`}>
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        ))}{" "}
        <button onClick={compare} data-testid="diff" disabled={versions.length < 2}>
          Compare
        </button>
      </div>
      {diff && <DiffView diff={diff} />}
    </div>
  );
}

function DiffView({ diff }: { diff: { graph: GraphDiff; plan: PlanDiff } }) {
  const g = diff.graph;
  const lines = [
    ...g.added.map((id) => `+ node ${id}`),
    ...g.removed.map((id) => `- node ${id}`),
    ...g.changed.map((c) => `~ node ${c.id}: ${c.fields.join(", ")}`),
    ...g.edgesAdded.map((e) => `+ edge ${e}`),
    ...g.edgesRemoved.map((e) => `- edge ${e}`),
    ...g.settings.map((k) => `~ ${k}`),
  ];
  return (
    <div className="diff" data-testid="diff-result">
      <h4>Graph</h4>
      <pre>{lines.length ? lines.join("\n") : "no change"}</pre>
      <h4>Plan</h4>
      <pre>{diff.plan.lines.length ? diff.plan.lines.join("\n") : "no change"}</pre>
    </div>
  );
}
