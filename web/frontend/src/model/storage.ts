// The draft survives a page reload: the document, the saved graph it belongs to, the token.
import type { WorkflowDoc } from "./types";

const KEY = "flowc.editor.v1";

export interface Draft {
  doc: WorkflowDoc;
  graphId: string | null;
  version: number | null;
}

export function loadDraft(storage: Storage): Draft | null {
  try {
    const value = JSON.parse(storage.getItem(KEY) ?? "null") as Draft | null;
    return value && Array.isArray(value.doc?.nodes) ? value : null;
  } catch {
    return null;
  }
}

export function saveDraft(storage: Storage, draft: Draft): void {
  storage.setItem(KEY, JSON.stringify(draft));
}

const TOKEN_KEY = "flowc.token";

export function loadToken(storage: Storage): string {
  return storage.getItem(TOKEN_KEY) ?? "";
}

export function saveToken(storage: Storage, token: string): void {
  storage.setItem(TOKEN_KEY, token);
}
