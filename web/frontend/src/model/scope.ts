// Plan steps and trace records name nodes inside map bodies "<map>.<node>"; a scope shows
// only its own nodes, and a body's steps under the map node that holds them.
import type { Scope } from "./types";

/** The node of `scope` a step id belongs to, or null when it is outside the scope. */
export function localId(stepId: string, scope: Scope): string | null {
  const parts = stepId.split(".");
  for (let i = 0; i < scope.length; i += 1) if (parts[i] !== scope[i]) return null;
  return parts[scope.length] ?? null;
}
