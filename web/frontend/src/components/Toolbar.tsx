// The top bar: files (new, examples, import, export), save and versions, compile and run,
// undo and redo, layout, and the server's token and state.
import { useRef } from "react";
import type { Example } from "../api/types";

export interface ToolbarProps {
  name: string;
  scope: string[];
  graphId: string | null;
  version: number | null;
  dirty: boolean;
  examples: Example[];
  token: string;
  connection: string | null; // null when the server answers; otherwise what is wrong
  model: string;
  busy: string | null;
  canUndo: boolean;
  canRedo: boolean;
  onNew: () => void;
  onExample: (name: string) => void;
  onImport: (text: string, fileName: string) => void;
  onExport: () => void;
  onSave: () => void;
  onCompile: () => void;
  onLayout: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onToken: (token: string) => void;
  onScope: (scope: string[]) => void;
}

export function Toolbar(p: ToolbarProps) {
  const file = useRef<HTMLInputElement>(null);
  return (
    <header className="toolbar">
      <strong className="brand">flowc</strong>
      <button onClick={p.onNew} data-testid="new">New</button>
      <select data-testid="examples" value="" onChange={(e) => e.target.value && p.onExample(e.target.value)} title="open an example">
        <option value="">Examples…</option>
        {p.examples.map((x) => (
          <option key={x.name} value={x.name} title={x.description}>
            {x.name}
          </option>
        ))}
      </select>
      <button onClick={() => file.current?.click()}>Import</button>
      <input
        ref={file}
        type="file"
        accept=".json,application/json"
        hidden
        data-testid="import-file"
        onChange={async (e) => {
          const chosen = e.target.files?.[0];
          if (chosen) p.onImport(await chosen.text(), chosen.name);
          e.target.value = "";
        }}
      />
      <button onClick={p.onExport} data-testid="export">Export</button>
      <span className="sep" />
      <button onClick={p.onUndo} disabled={!p.canUndo} data-testid="undo" title="Ctrl+Z">↶</button>
      <button onClick={p.onRedo} disabled={!p.canRedo} data-testid="redo" title="Ctrl+Shift+Z">↷</button>
      <button onClick={p.onLayout} data-testid="layout" title="Ctrl+L">Lay out</button>
      <span className="sep" />
      <button onClick={p.onSave} data-testid="save" title="Ctrl+S">Save</button>
      <button onClick={p.onCompile} data-testid="compile" title="Ctrl+Enter">Compile</button>
      <span className="doc-name" data-testid="doc-state">
        <Crumbs name={p.name} scope={p.scope} onScope={p.onScope} />
        {p.graphId ? ` · ${p.graphId} v${p.version}` : " · not saved"}
        {p.dirty ? " · edited" : ""}
      </span>
      {p.busy && <span className="busy">{p.busy}…</span>}
      <span className="grow" />
      <input className="token" type="password" placeholder="API token" value={p.token} onChange={(e) => p.onToken(e.target.value)} data-testid="token" />
      <span className={`conn ${p.connection ? "down" : "up"}`} data-testid="connection" title={p.connection ?? `connected: ${p.model}`}>
        {p.connection ? "⚠ " + p.connection : `● ${p.model}`}
      </span>
    </header>
  );
}

function Crumbs({ name, scope, onScope }: { name: string; scope: string[]; onScope: (scope: string[]) => void }) {
  return (
    <span className="crumbs" data-testid="crumbs">
      <a onClick={() => onScope([])}>{name}</a>
      {scope.map((id, i) => (
        <span key={i}>
          {" › "}
          <a onClick={() => onScope(scope.slice(0, i + 1))}>{id} body</a>
        </span>
      ))}
    </span>
  );
}
