// Undo and redo: every committed document is kept; `limit` bounds the past.
export interface History<T> {
  past: T[];
  present: T;
  future: T[];
}

export function start<T>(present: T): History<T> {
  return { past: [], present, future: [] };
}

/** Make `next` the present. With `merge` it replaces the present instead (typing into one
 * field is one step to undo, not one per key). */
export function commit<T>(h: History<T>, next: T, merge = false, limit = 200): History<T> {
  if (next === h.present) return h;
  if (merge) return { ...h, present: next, future: [] };
  return { past: [...h.past, h.present].slice(-limit), present: next, future: [] };
}

export function undo<T>(h: History<T>): History<T> {
  const previous = h.past[h.past.length - 1];
  if (previous === undefined) return h;
  return { past: h.past.slice(0, -1), present: previous, future: [h.present, ...h.future] };
}

export function redo<T>(h: History<T>): History<T> {
  const [next, ...future] = h.future;
  if (next === undefined) return h;
  return { past: [...h.past, h.present], present: next, future };
}
