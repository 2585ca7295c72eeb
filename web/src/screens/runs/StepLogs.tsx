/**
 * What a step's handler logged through `ctx.logger` (INFO and above), oldest first, a page at
 * a time. Agents send lines every second while an attempt runs (`step.logs` events) and the
 * rest with its result, so the list is read again whenever the step's state, attempt count or
 * count of lines heard changes.
 */
import { useEffect, useState } from "react";

import { getStepLogs } from "../../api/runs";
import type { StepLogLine } from "../../api/runs";
import { formatTime } from "../../lib/runsFormat";

/** Props of `StepLogs`. */
export interface StepLogsProps {
  runId: string;
  nodeId: string;
  /** Changes when new lines may exist (the step's state and attempt count). */
  revision: string;
}

interface Loaded {
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

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** The step's log lines, with a button for the next page when there are more. */
export function StepLogs({ runId, nodeId, revision }: StepLogsProps) {
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(true);

  useEffect(() => {
    let current = true;
    setBusy(true);
    getStepLogs(runId, nodeId, null).then(
      (page) => {
        if (!current) return;
        setLoaded({ lines: page.items, cursor: page.next_cursor });
        setError(undefined);
        setBusy(false);
      },
      (reason: unknown) => {
        if (!current) return;
        setError(asError(reason));
        setBusy(false);
      },
    );
    return () => {
      current = false;
    };
  }, [runId, nodeId, revision]);

  const more = (cursor: string) => {
    setBusy(true);
    getStepLogs(runId, nodeId, cursor).then(
      (page) => {
        setLoaded((before) => ({
          lines: [...(before?.lines ?? []), ...page.items],
          cursor: page.next_cursor,
        }));
        setBusy(false);
      },
      (reason: unknown) => {
        setError(asError(reason));
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
      {!loaded && busy ? <p className="muted">Loading the logs…</p> : null}
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
            if (loaded.cursor) more(loaded.cursor);
          }}
        >
          {busy ? "Loading…" : "Show more lines"}
        </button>
      ) : null}
    </section>
  );
}
