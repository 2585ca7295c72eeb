/**
 * The run's timeline: one row per step that started, its bar placed by its start and finish
 * (children indented under their parent). It is a table, so its text (step, state, start
 * offset, duration) is the accessible alternative to the bars, which are decorative.
 */
import { memo, useEffect, useMemo, useRef, useState } from "react";

import type { Step } from "../../api/runs";
import { StateBadge } from "../../components/StateBadge";
import { formatDuration } from "../../lib/runsFormat";
import { ganttLayout } from "../../lib/runsGantt";
import type { GanttBar } from "../../lib/runsGantt";

/** Props of `RunGantt`. */
export interface RunGanttProps {
  steps: readonly Step[];
  runStart: string | null;
  /** True while the run is active: running bars then grow with the clock. */
  live: boolean;
  selected: string | null;
  onSelect: (nodeId: string) => void;
}

/** Rows shown before "Show all", so a huge run stays quick to render. */
const FIRST_ROWS = 100;
/** While the run is live the timeline redraws at most this often (the graph is per frame). */
const REDRAW_MS = 1000;

const GanttRow = memo(function GanttRow({
  bar,
  selected,
  onSelect,
}: {
  bar: GanttBar;
  selected: boolean;
  onSelect: (nodeId: string) => void;
}) {
  const { step } = bar;
  return (
    <tr className={selected ? "gantt-selected" : undefined}>
      <th scope="row" style={{ paddingLeft: `${0.6 + bar.depth * 1.2}rem` }}>
        <button
          type="button"
          className="link-button"
          aria-pressed={selected}
          onClick={() => {
            onSelect(step.node_id);
          }}
        >
          {step.node_id}
        </button>
      </th>
      <td>
        <StateBadge state={step.state} />
      </td>
      <td>+{formatDuration(bar.startMs)}</td>
      <td>
        {formatDuration(bar.durationMs)}
        {bar.open ? " so far" : ""}
      </td>
      <td className="gantt-track" aria-hidden="true">
        <span
          className={`gantt-bar rg-${step.state}${bar.open ? " gantt-open" : ""}`}
          style={{ left: `${bar.offset * 100}%`, width: `${bar.width * 100}%` }}
        />
      </td>
    </tr>
  );
});

/** The timeline of a run's steps. */
export function RunGantt({ steps, runStart, live, selected, onSelect }: RunGanttProps) {
  const [now, setNow] = useState(() => Date.now());
  const [showAll, setShowAll] = useState(false);
  // Live, the steps change every frame; the timeline takes them once a second with the clock,
  // which keeps a 500-step run's table from re-rendering 60 times a second.
  const latest = useRef(steps);
  const [shown, setShown] = useState(steps);
  useEffect(() => {
    latest.current = steps;
    if (!live) setShown(steps);
  }, [steps, live]);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => {
      setShown(latest.current);
      setNow(Date.now());
    }, REDRAW_MS);
    return () => {
      clearInterval(timer);
    };
  }, [live]);
  const layout = useMemo(() => ganttLayout(shown, now, runStart), [shown, now, runStart]);
  if (layout.bars.length === 0) {
    return <p className="muted">No step has started yet; the timeline fills in as they run.</p>;
  }
  const rows = showAll ? layout.bars : layout.bars.slice(0, FIRST_ROWS);
  return (
    <div className="gantt">
      <table className="gantt-table">
        <caption className="sr-only">
          Steps by start time, with their offset from the run's start and their duration
        </caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">State</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col" className="gantt-track-head">
              Timeline ({formatDuration(layout.endMs - layout.startMs)})
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((bar) => (
            <GanttRow
              key={bar.step.id}
              bar={bar}
              selected={bar.step.node_id === selected}
              onSelect={onSelect}
            />
          ))}
        </tbody>
      </table>
      {layout.bars.length > rows.length ? (
        <button
          type="button"
          onClick={() => {
            setShowAll(true);
          }}
        >
          Show all {layout.bars.length} steps
        </button>
      ) : null}
      {layout.unstarted.length > 0 ? (
        <p className="muted">
          Not started: {layout.unstarted.length} step{layout.unstarted.length === 1 ? "" : "s"}.
        </p>
      ) : null}
    </div>
  );
}
