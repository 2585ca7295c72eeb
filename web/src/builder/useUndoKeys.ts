/** Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y) for the builder's history. */
import { useEffect } from "react";

import type { SpecAction } from "../lib/specHistory";

/** Whether keys typed at `target` belong to a text field (which keeps its own undo). */
export function isTextEntry(target: EventTarget): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/**
 * Undo/redo keys wherever focus is on the page (after a click on the canvas it is on the body),
 * except in text fields. Nothing is bound for viewers, who cannot edit.
 */
export function useUndoKeys(editable: boolean, dispatch: (action: SpecAction) => void): void {
  useEffect(() => {
    if (!editable) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.target === null) return;
      if (isTextEntry(event.target)) return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) dispatch({ type: "undo" });
      else if ((key === "z" && event.shiftKey) || key === "y") dispatch({ type: "redo" });
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKeyDown);
    return () => {
      document.removeEventListener("keydown", onKeyDown);
    };
  }, [editable, dispatch]);
}
