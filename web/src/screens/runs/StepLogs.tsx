/**
 * What a step's handler logged through `ctx.logger` (INFO and above), oldest first, a page at
 * a time. Agents send lines every second while an attempt runs (`step.logs` events) and the
 * rest with its result, so the list is read again whenever the step's state, attempt count or
 * count of lines heard changes.
 */
import { useState } from "react";

import type { Page } from "../../api/client";
import { getStepLogs } from "../../api/runs";
import type { StepLogLine } from "../../api/runs";
import { useAsync } from "../../lib/useAsync";
import { formatTime } from "../../lib/runsFormat";

/** Props of `StepLogs`. */
export interface StepLogsProps {
  runId: string;
  nodeId: string;
  /** Changes when new lines may exist (the step's state and attempt count). */
  revision: string;
}

/** Pages read on demand, after the first page they followed. */
interface More {
  after: Page<StepLogLine>;
  lines: StepLogLine[];
  cursor: string | null;
}

const LEVEL_MARK: Record<StepLogLine["level"], string> = {
  debug: "·",
  info: "ℹ",
  warning: "⚠",
  error: "✖",
  critical: "✖",
};

/** The step's log lines, with a button for the next page when there are more. */
export function StepLogs({ runId, nodeId, revision }: StepLogsProps) {
  const first = useAsync(() => getStepLogs(runId, nodeId, null), [runId, nodeId, revision]);
  const [more, setMore] = useState<More | null>(null);
  const [moreError, setMoreError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  // A new first page (the step logged more) drops the pages read after the previous one.
  const extra = more && more.after === first.data ? more : null;
  const loaded = first.data
    ? {
        lines: [...first.data.items, ...(extra?.lines ?? [])],
        cursor: extra ? extra.cursor : first.data.next_cursor,
      }
    : undefined;
  const error = first.error ?? moreError;

  const readMore = (after: Page<StepLogLine>, cursor: string) => {
    setBusy(true);
    getStepLogs(runId, nodeId, cursor).then(
      (page) => {
        setMore({
          after,
          lines: [...(extra?.lines ?? []), ...page.items],
          cursor: page.next_cursor,
        });
        setMoreError(undefined);
        setBusy(false);
      },
      (reason: unknown) => {
        setMoreError(reason instanceof Error ? reason : new Error(String(reason)));
        setBusy(false);
      },
    );
  };

  return (
    <section aria-label="Logs">
      <h3>Logs{loaded && loaded.lines.length > 0 ? ` (${String(loaded.lines.length)})` : ""}</h3>
      {error ? (
        <p className="form-error" role="alert">
          The logs could not be read: {error.message}
        </p>
      ) : null}
      {!loaded && first.loading ? <p className="muted">Loading the logs…</p> : null}
      {loaded?.lines.length === 0 ? (
        <p className="muted">
          No log lines. Handlers log through <code>ctx.logger</code> (INFO and above); a running
          attempt&apos;s lines arrive every second.
        </p>
      ) : null}
      {loaded && loaded.lines.length > 0 ? (
        <ol className="step-logs" tabIndex={0} aria-label="Log lines">
          {loaded.lines.map((line) => (
            <li key={line.id} className={`step-log step-log-${line.level}`}>
              <time dateTime={line.at}>{formatTime(line.at)}</time>{" "}
              <span className="step-log-level">
                <span aria-hidden="true">{LEVEL_MARK[line.level]} </span>
                {line.level.toUpperCase()}
              </span>{" "}
              <span className="muted">#{line.attempt}</span>{" "}
              <span className="step-log-message">{line.message}</span>
            </li>
          ))}
        </ol>
      ) : null}
      {loaded?.cursor ? (
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            if (first.data && loaded.cursor) readMore(first.data, loaded.cursor);
          }}
        >
          {busy ? "Loading…" : "Show more lines"}
        </button>
      ) : null}
    </section>
  );
}
