// The editor's document state: the workflow with its undo history, the scope being drawn
// (the top level or a map body), the selection, and the server's graph it was saved as.
import { commit, redo, start, undo, type History } from "../model/history";
import { getPart, setPart, type Part } from "../model/part";
import type { Scope, WorkflowDoc } from "../model/types";

export type Selection = { kind: "node"; id: string } | { kind: "edge"; index: number } | null;

export interface EditorState {
  history: History<WorkflowDoc>;
  scope: Scope;
  selection: Selection;
  graphId: string | null;
  version: number | null; // the saved version the document was last saved as
  savedDoc: WorkflowDoc | null;
  typing: string | null; // the field last typed into: more typing there merges into one step
}

export type Action =
  | { type: "edit"; edit: (part: Part) => Part; select?: Selection; typing?: string }
  | { type: "editDoc"; edit: (doc: WorkflowDoc) => WorkflowDoc; typing?: string }
  | { type: "open"; doc: WorkflowDoc; graphId: string | null; version: number | null }
  | { type: "saved"; graphId: string; version: number }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "select"; selection: Selection }
  | { type: "scope"; scope: Scope };

export function initial(doc: WorkflowDoc, graphId: string | null, version: number | null): EditorState {
  return { history: start(doc), scope: [], selection: null, graphId, version, savedDoc: null, typing: null };
}

export function reduce(state: EditorState, action: Action): EditorState {
  const doc = state.history.present;
  switch (action.type) {
    case "edit": {
      const next = setPart(doc, state.scope, action.edit(getPart(doc, state.scope)));
      return { ...typed(state, next, action.typing), selection: action.select ?? state.selection };
    }
    case "editDoc":
      return typed(state, action.edit(doc), action.typing);
    case "open":
      return { ...state, history: commit(state.history, action.doc), scope: [], selection: null, graphId: action.graphId, version: action.version, savedDoc: action.graphId ? action.doc : null };
    case "saved":
      return { ...state, graphId: action.graphId, version: action.version, savedDoc: doc };
    case "undo":
      return fixScope({ ...state, history: undo(state.history), selection: null, typing: null });
    case "redo":
      return fixScope({ ...state, history: redo(state.history), selection: null, typing: null });
    case "select":
      return { ...state, selection: action.selection, typing: null };
    case "scope":
      return { ...state, scope: action.scope, selection: null };
  }
}

function typed(state: EditorState, next: WorkflowDoc, typing: string | undefined): EditorState {
  const merge = typing !== undefined && typing === state.typing;
  return { ...state, history: commit(state.history, next, merge), typing: typing ?? null };
}

/** After undo or redo the scope's map node may be gone: fall back to the top level. */
function fixScope(state: EditorState): EditorState {
  try {
    getPart(state.history.present, state.scope);
    return state;
  } catch {
    return { ...state, scope: [] };
  }
}

export function dirty(state: EditorState): boolean {
  return state.savedDoc !== state.history.present;
}
