/** The timeline (Gantt) layout of a run's steps: pure arithmetic, drawn by `RunGantt`. */
import type { Step } from "../api/runs";

/** One bar: where it starts and how wide it is, as fractions (0–1) of the timeline. */
export interface GanttBar {
  step: Step;
  /** Nesting depth: 0 for nodes, 1 for their children. */
  depth: number;
  offset: number;
  width: number;
  /** Milliseconds from the timeline's start to the step's start, and its duration. */
  startMs: number;
  durationMs: number;
  /** True while the step still runs (its bar reaches "now"). */
  open: boolean;
}

/** The layout: the bars and the span they cover. */
export interface GanttLayout {
  bars: GanttBar[];
  startMs: number;
  endMs: number;
  /** Steps that never started (pending, skipped), listed without a bar. */
  unstarted: Step[];
}

/** A bar never narrower than this fraction, so an instant step stays visible. */
const MIN_WIDTH = 0.004;

/**
 * Bars for every step that started, ordered by start time with each step's children right
 * after it. Running steps extend to `now` (epoch ms).
 */
export function ganttLayout(
  steps: readonly Step[],
  now: number,
  runStart?: string | null,
): GanttLayout {
  const started = steps.filter((s) => s.started_at);
  const unstarted = steps.filter((s) => !s.started_at && !s.parent_id);
  if (started.length === 0) return { bars: [], startMs: 0, endMs: 0, unstarted };
  const startOf = (s: Step) => Date.parse(s.started_at ?? "");
  const endOf = (s: Step) => (s.finished_at ? Date.parse(s.finished_at) : now);
  let first = Math.min(...started.map(startOf));
  if (runStart) {
    const run = Date.parse(runStart);
    if (Number.isFinite(run) && run < first) first = run;
  }
  const last = Math.max(first + 1, ...started.map(endOf));
  const span = last - first;
  const ids = new Set(started.map((s) => s.id));
  const byParent = new Map<string, Step[]>();
  const roots: Step[] = [];
  for (const step of started) {
    if (step.parent_id && ids.has(step.parent_id)) {
      const list = byParent.get(step.parent_id) ?? [];
      list.push(step);
      byParent.set(step.parent_id, list);
    } else {
      roots.push(step);
    }
  }
  const byStart = (a: Step, b: Step) =>
    startOf(a) - startOf(b) || a.node_id.localeCompare(b.node_id);
  const bars: GanttBar[] = [];
  const visit = (step: Step, depth: number) => {
    const startMs = startOf(step) - first;
    const durationMs = Math.max(0, endOf(step) - startOf(step));
    bars.push({
      step,
      depth,
      offset: startMs / span,
      width: Math.min(1 - startMs / span, Math.max(MIN_WIDTH, durationMs / span)),
      startMs,
      durationMs,
      open: !step.finished_at,
    });
    for (const child of (byParent.get(step.id) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  return { bars, startMs: first, endMs: last, unstarted };
}
