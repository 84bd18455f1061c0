// The editor: toolbar, palette, canvas, inspector and the panels below (problems, plan, run,
// versions), wired to the document state and the server.
import { useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { ApiError } from "./api/client";
import type { Plan, Run, Saved } from "./api/types";
import { Canvas } from "./components/Canvas";
import { Inspector } from "./components/Inspector";
import { Palette } from "./components/Palette";
import { PlanPanel } from "./components/PlanPanel";
import { ProblemsPanel } from "./components/ProblemsPanel";
import { RunPanel } from "./components/RunPanel";
import { Toolbar } from "./components/Toolbar";
import { VersionsPanel } from "./components/VersionsPanel";
import { useCheck } from "./hooks/useCheck";
import { useServer } from "./hooks/useServer";
import { useShortcuts } from "./hooks/useShortcuts";
import { addNode, moveNodes, paste, uniqueId } from "./model/edit";
import { emptyWorkflow, exportText, importText } from "./model/io";
import { sameGraph } from "./model/diff";
import { layout } from "./model/layout";
import { overlay as planOverlay } from "./model/overlay";
import { getPart, type Part } from "./model/part";
import { place } from "./model/problems";
import { applyEvent, startView, type RunView } from "./model/run";
import { newNode, nodeTypes } from "./model/schemaForm";
import { loadDraft, saveDraft } from "./model/storage";
import type { EdgeDoc, JsonObject, NodeDoc, Point, WorkflowDoc } from "./model/types";
import { dirty, initial, reduce, type Selection } from "./state/editor";

type Tab = "problems" | "plan" | "run" | "versions";
interface Compiled {
  plan: Plan;
  explain: string;
  doc: WorkflowDoc;
}
interface Clip {
  nodes: NodeDoc[];
  edges: EdgeDoc[];
  positions: Record<string, Point>;
}

export function App() {
  const [state, dispatch] = useReducer(reduce, null, () => {
    const draft = loadDraft(localStorage);
    return initial(draft?.doc ?? emptyWorkflow(), draft?.graphId ?? null, draft?.version ?? null);
  });
  const server = useServer();
  const { api, report } = server;
  const flow = useReactFlow();
  const doc = state.history.present;
  const part = useMemo(() => getPart(doc, state.scope), [doc, state.scope]);
  const [notice, setNotice] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>("problems");
  const [placing, setPlacing] = useState<string | null>(null);
  const [fitKey, setFitKey] = useState(0);
  const [compiled, setCompiled] = useState<Compiled | null>(null);
  const [runView, setRunView] = useState<RunView | null>(null);
  const [runResult, setRunResult] = useState<Run | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const positions = useRef<Record<string, Point>>({});
  const clipboard = useRef<Clip | null>(null);

  const fail = useCallback((error: unknown) => setNotice(report(error)), [report]);
  const problems = useCheck(api, doc, report);
  const placed = useMemo(() => place(problems), [problems]);

  useEffect(() => {
    saveDraft(localStorage, { doc, graphId: state.graphId, version: state.version });
  }, [doc, state.graphId, state.version]);

  const edit = useCallback((change: (p: Part) => Part, typing?: string) => dispatch({ type: "edit", edit: change, typing }), []);
  const editDoc = useCallback((change: (d: WorkflowDoc) => WorkflowDoc, typing?: string) => dispatch({ type: "editDoc", edit: change, typing }), []);
  const select = useCallback((selection: Selection) => dispatch({ type: "select", selection }), []);
  const open = (next: WorkflowDoc, graphId: string | null = null, version: number | null = null) => {
    dispatch({ type: "open", doc: next, graphId, version });
    setCompiled(null);
    setRunView(null);
    setRunResult(null);
    setFitKey((k) => k + 1);
  };

  const addOfType = (type: string, at: Point) => {
    if (!server.schema) return;
    const id = uniqueId(part, type);
    dispatch({ type: "edit", edit: (p) => addNode(p, newNode(server.schema!, type, id), at), select: { kind: "node", id } });
    setPlacing(null);
  };

  const save = async (): Promise<Saved | null> => {
    if (state.graphId && state.version && !dirty(state)) return { id: state.graphId, version: state.version, name: doc.name, warnings: [] };
    setBusy("saving");
    try {
      const saved = await api.save(doc, state.graphId).catch((e: unknown) => {
        if (e instanceof ApiError && e.kind === "not_found") return api.save(doc, null); // deleted on the server
        throw e;
      });
      dispatch({ type: "saved", graphId: saved.id, version: saved.version });
      setNotice(`saved ${saved.id} version ${saved.version}`);
      return saved;
    } catch (e) {
      fail(e);
      setTab("problems");
      return null;
    } finally {
      setBusy(null);
    }
  };

  const compile = async (): Promise<Plan | null> => {
    const saved = await save();
    if (!saved) return null;
    setBusy("compiling");
    try {
      const [plan, explain] = await Promise.all([api.plan(saved.id, saved.version), api.explain(saved.id, saved.version)]);
      setCompiled({ plan, explain, doc });
      setTab("plan");
      return plan;
    } catch (e) {
      fail(e);
      return null;
    } finally {
      setBusy(null);
    }
  };

  const run = async (inputs: JsonObject) => {
    const saved = await save();
    if (!saved) return;
    const plan = compiled && sameGraph(compiled.doc, doc) ? compiled.plan : await compile();
    if (!plan) return;
    setTab("run");
    setRunResult(null);
    try {
      const { run_id } = await api.startRun(saved.id, saved.version, inputs);
      setRunView(startView(run_id));
      for await (const event of api.events(run_id)) setRunView((v) => (v ? applyEvent(v, event) : v));
      setRunResult(await api.run(run_id));
    } catch (e) {
      fail(e);
    }
  };

  const relayout = async () => {
    const ids = Object.keys(positions.current);
    const placedAll = await layout(ids, part.edges, {});
    const moves = Object.fromEntries(Object.entries(placedAll).filter(([id]) => part.nodes.some((n) => n.id === id)));
    edit((p) => moveNodes(p, moves));
    setFitKey((k) => k + 1);
  };

  const copy = () => {
    const chosen = new Set(flow.getNodes().filter((n) => n.selected).map((n) => n.id));
    if (state.selection?.kind === "node") chosen.add(state.selection.id);
    if (chosen.size === 0) return;
    clipboard.current = {
      nodes: part.nodes.filter((n) => chosen.has(n.id)),
      edges: part.edges.filter((e) => chosen.has(e.from) && chosen.has(e.to)),
      positions: { ...positions.current },
    };
  };
  const pasteClip = () => {
    const clip = clipboard.current;
    if (!clip) return;
    const result = paste(part, clip.nodes, clip.edges, clip.positions, { x: 40, y: 40 });
    const first = result.ids[0];
    dispatch({ type: "edit", edit: () => result.part, select: first ? { kind: "node", id: first } : undefined });
  };

  const exportFile = () => {
    const url = URL.createObjectURL(new Blob([exportText(doc)], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${doc.name || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(url);
  };

  const focus = (stepId: string) => {
    const path = stepId.split(".");
    const id = path.pop()!;
    dispatch({ type: "scope", scope: path });
    select({ kind: "node", id });
    requestAnimationFrame(() => void flow.fitView({ nodes: [{ id }], maxZoom: 1.2, duration: 200 }));
  };

  useShortcuts({
    undo: () => dispatch({ type: "undo" }),
    redo: () => dispatch({ type: "redo" }),
    copy,
    paste: pasteClip,
    save: () => void save(),
    compile: () => void compile(),
    layout: () => void relayout(),
    escape: () => setPlacing(null),
  });

  const overlay = useMemo(() => (compiled && sameGraph(compiled.doc, doc) ? planOverlay(compiled.plan, state.scope) : null), [compiled, doc, state.scope]);
  const view = useMemo(
    () => ({
      part,
      problems: placed.byNode,
      overlay,
      run: (id: string) => runView?.nodes[[...state.scope, id].join(".")] ?? null,
      selected: state.selection?.kind === "node" ? state.selection.id : null,
      selectedEdge: state.selection?.kind === "edge" ? state.selection.index : null,
      openBody: (id: string) => dispatch({ type: "scope", scope: [...state.scope, id] }),
    }),
    [part, placed, overlay, runView, state.selection, state.scope],
  );
  const onPositions = useCallback((p: Record<string, Point>) => {
    positions.current = p;
  }, []);
  const errorCount = problems.filter((p) => p.severity === "error").length;

  return (
    <div className="app">
      <Toolbar
        name={doc.name}
        scope={state.scope}
        graphId={state.graphId}
        version={state.version}
        dirty={dirty(state)}
        examples={server.examples}
        token={server.token}
        connection={server.connection}
        model={server.model}
        busy={busy}
        canUndo={state.history.past.length > 0}
        canRedo={state.history.future.length > 0}
        onNew={() => open(emptyWorkflow())}
        onExample={async (name) => {
          try {
            open(await api.example(name));
          } catch (e) {
            fail(e);
          }
        }}
        onImport={(text, fileName) => {
          const imported = importText(text);
          if (imported.ok) open(imported.doc);
          else setNotice(`cannot import ${fileName}: ${imported.error}`);
        }}
        onExport={exportFile}
        onSave={() => void save()}
        onCompile={() => void compile()}
        onLayout={() => void relayout()}
        onUndo={() => dispatch({ type: "undo" })}
        onRedo={() => dispatch({ type: "redo" })}
        onToken={server.setToken}
        onScope={(scope) => dispatch({ type: "scope", scope })}
      />
      {notice && (
        <div className="notice" data-testid="notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      <main className="workspace">
        <Palette types={server.schema ? nodeTypes(server.schema) : []} placing={placing} onPick={setPlacing} />
        <Canvas view={view} placing={placing} fitKey={fitKey} onEdit={edit} onAdd={addOfType} onSelectNode={(id) => select(id ? { kind: "node", id } : null)} onSelectEdge={(index) => select({ kind: "edge", index })} onPositions={onPositions} />
        <Inspector
          schema={server.schema}
          doc={doc}
          scope={state.scope}
          part={part}
          selection={state.selection}
          placed={placed}
          problems={problems}
          onEdit={edit}
          onEditDoc={editDoc}
          onSelect={select}
          onOpenBody={(id) => dispatch({ type: "scope", scope: [...state.scope, id] })}
        />
      </main>
      <section className="panel">
        <nav className="tabs">
          {(["problems", "plan", "run", "versions"] as const).map((t) => (
            <button key={t} className={tab === t ? "active" : ""} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
              {t === "problems" ? `problems (${errorCount})` : t}
            </button>
          ))}
        </nav>
        <div className="tab-body">
          {tab === "problems" && <ProblemsPanel problems={problems} onFocus={focus} />}
          {tab === "plan" && <PlanPanel plan={compiled?.plan ?? null} explain={compiled?.explain ?? ""} overlay={overlay} onFocus={focus} />}
          {tab === "run" && <RunPanel doc={doc} view={runView} result={runResult} plan={compiled?.plan ?? null} onRun={(inputs) => void run(inputs)} />}
          {tab === "versions" && <VersionsPanel api={api} graphId={state.graphId} version={state.version} onOpen={(d, v) => open(d, state.graphId, v)} onError={fail} />}
        </div>
      </section>
    </div>
  );
}
