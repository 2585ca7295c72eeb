/**
 * Undo/redo for the builder: a reducer over spec snapshots. Specs are immutable values, so a
 * snapshot is just a reference, and "unsaved" is "the present is not the saved snapshot".
 */
import type { WorkflowSpec } from "./spec";

/** How many steps back Undo can go. */
export const HISTORY_LIMIT = 100;

/** The history state. */
export interface SpecHistory {
  past: WorkflowSpec[];
  present: WorkflowSpec;
  future: WorkflowSpec[];
  /** The snapshot the server holds (null for a workflow never saved). */
  saved: WorkflowSpec | null;
  /** The `coalesce` key of the last edit: edits with the same key share one undo step. */
  lastKey: string | null;
}

/** What can happen to the history. */
export type SpecAction =
  | { type: "edit"; spec: WorkflowSpec; coalesce?: string }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "load"; spec: WorkflowSpec; saved: boolean }
  /** The server accepted `spec` (the snapshot that was sent). */
  | { type: "saved"; spec: WorkflowSpec };

/** A history holding only `spec`. */
export function initialHistory(spec: WorkflowSpec, saved: boolean): SpecHistory {
  return { past: [], present: spec, future: [], saved: saved ? spec : null, lastKey: null };
}

/** The history reducer. */
export function specHistoryReducer(state: SpecHistory, action: SpecAction): SpecHistory {
  switch (action.type) {
    case "edit": {
      if (action.spec === state.present) return state;
      // Typing in one field or one drag gesture is one step, not one per keystroke or pixel.
      if (action.coalesce !== undefined && action.coalesce === state.lastKey) {
        return { ...state, present: action.spec, future: [] };
      }
      return {
        ...state,
        past: [...state.past, state.present].slice(-HISTORY_LIMIT),
        present: action.spec,
        future: [],
        lastKey: action.coalesce ?? null,
      };
    }
    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous) return state;
      return {
        ...state,
        past: state.past.slice(0, -1),
        present: previous,
        future: [state.present, ...state.future],
        lastKey: null,
      };
    }
    case "redo": {
      const next = state.future[0];
      if (!next) return state;
      return {
        ...state,
        past: [...state.past, state.present],
        present: next,
        future: state.future.slice(1),
        lastKey: null,
      };
    }
    case "load":
      return initialHistory(action.spec, action.saved);
    case "saved":
      // `spec` is the snapshot that was sent; edits made while saving stay unsaved.
      return { ...state, saved: action.spec, lastKey: null };
  }
}

/** Whether the present differs from what the server holds. */
export function isDirty(state: SpecHistory): boolean {
  return state.present !== state.saved;
}
