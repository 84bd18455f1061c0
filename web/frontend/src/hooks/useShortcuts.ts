// Keyboard shortcuts; those that edit the graph are left to text fields while one has focus.
import { useEffect } from "react";

export type Shortcuts = Partial<Record<"undo" | "redo" | "copy" | "paste" | "save" | "compile" | "layout" | "escape", () => void>>;

export function useShortcuts(handlers: Shortcuts): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const name = shortcut(e);
      const typing = e.target instanceof HTMLElement && e.target.closest("input, textarea, select") !== null;
      if (name === null || (typing && name !== "save" && name !== "compile")) return;
      const handler = handlers[name];
      if (!handler) return;
      e.preventDefault();
      handler();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [handlers]);
}

function shortcut(e: KeyboardEvent): keyof Shortcuts | null {
  if (e.key === "Escape") return "escape";
  if (!(e.ctrlKey || e.metaKey)) return null;
  const key = e.key.toLowerCase();
  if (key === "z") return e.shiftKey ? "redo" : "undo";
  if (key === "y") return "redo";
  if (key === "c") return "copy";
  if (key === "v") return "paste";
  if (key === "s") return "save";
  if (key === "l") return "layout";
  if (e.key === "Enter") return "compile";
  return null;
}
