/**
 * The details of one step: params as rendered, output, attempts with their errors, the text
 * an LLM streamed, sub-steps (map items, agent turns and tool calls), and the approval
 * decision when the step waits for one, and the lines its handler logged.
 */
import { useId, useState } from "react";

import { decideApproval } from "../../api/runs";
import type { ErrorInfo, Step } from "../../api/runs";
import { StateBadge } from "../../components/StateBadge";
import { useNotify } from "../../components/Notice";
import { awaitsApproval } from "../../lib/runs";
import { formatDuration, formatJson, formatTime } from "../../lib/runsFormat";
import { StepLogs } from "./StepLogs";

/** Props of `StepPanel`. */
export interface StepPanelProps {
  runId: string;
  nodeId: string;
  /** The step, or undefined when the run has not created it yet. */
  step: Step | undefined;
  parent: Step | undefined;
  children: Step[];
  /** Streamed text by step id. */
  streamed: Record<string, string>;
  /** Log lines of this step stored since the page opened (read them again when it grows). */
  logged: number;
  /** True when the step finished after the last fetch (its output is on its way). */
  outputPending: boolean;
  canDecide: boolean;
  /** Reads the streamed text of the run's steps from its timeline. */
  onLoadStreamed: () => Promise<void>;
  onSelect: (nodeId: string) => void;
  onClose: () => void;
}

function ErrorBox({ error }: { error: ErrorInfo }) {
  return (
    <div className="step-error" role="note">
      <span aria-hidden="true">⚠ </span>
      {error.code ? <code>{error.code}</code> : null} {error.message ?? formatJson(error)}
      {error.retryable ? <span className="muted"> (retryable)</span> : null}
      {typeof error.retry_after === "number" ? (
        <span className="muted"> — asked to wait {error.retry_after} s</span>
      ) : null}
    </div>
  );
}

function Json({ value, label }: { value: unknown; label: string }) {
  if (value === null || value === undefined) return <p className="muted">None.</p>;
  return (
    <pre className="runs-json" tabIndex={0} aria-label={label}>
      {formatJson(value)}
    </pre>
  );
}

/** Generative steps stream text; the live events only bring what is sent while we watch. */
function StreamedHistory({ load }: { load: () => Promise<void> }) {
  const [status, setStatus] = useState<"idle" | "loading" | "done" | Error>("idle");
  if (status === "done") return <p className="muted">This step itself streamed no text.</p>;
  return (
    <p>
      <button
        type="button"
        disabled={status === "loading"}
        onClick={() => {
          setStatus("loading");
          load().then(
            () => {
              setStatus("done");
            },
            (error: unknown) => {
              setStatus(error instanceof Error ? error : new Error(String(error)));
            },
          );
        }}
      >
        {status === "loading" ? "Loading streamed text…" : "Load streamed text"}
      </button>
      {status instanceof Error ? (
        <span className="form-error" role="alert">
          {" "}
          {status.message}
        </span>
      ) : null}
    </p>
  );
}

function Approval({ runId, nodeId }: { runId: string; nodeId: string }) {
  const id = useId();
  const notify = useNotify();
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const decide = async (decision: "approve" | "reject") => {
    setBusy(true);
    try {
      await decideApproval(runId, nodeId, decision, comment);
      notify("ok", decision === "approve" ? `Approved ${nodeId}.` : `Rejected ${nodeId}.`);
      setComment("");
    } catch (error) {
      notify("error", error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="step-approval" aria-labelledby={`${id}-h`}>
      <h4 id={`${id}-h`}>Waiting for approval</h4>
      <label htmlFor={`${id}-comment`}>Comment (kept with the decision and audited)</label>
      <textarea
        id={`${id}-comment`}
        rows={3}
        value={comment}
        maxLength={10_000}
        onChange={(e) => {
          setComment(e.target.value);
        }}
      />
      <div className="dialog-actions">
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            void decide("reject");
          }}
        >
          Reject
        </button>
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => {
            void decide("approve");
          }}
        >
          Approve
        </button>
      </div>
    </section>
  );
}

/** The side panel of the selected step. */
export function StepPanel(props: StepPanelProps) {
  const { runId, nodeId, step, parent, children, streamed, logged, outputPending, canDecide } =
    props;
  const { onSelect, onClose, onLoadStreamed } = props;
  const headingId = useId();
  const text = step ? streamed[step.id] : undefined;
  return (
    <aside className="card step-panel" aria-labelledby={headingId}>
      <div className="step-panel-head">
        <h2 id={headingId}>Step {nodeId}</h2>
        <button type="button" onClick={onClose} aria-label="Close step details">
          ×
        </button>
      </div>
      {!step ? (
        <p className="muted">
          This step has not been created yet: it waits for its upstream steps.
        </p>
      ) : (
        <>
          <dl className="runs-facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={step.state} />
            </dd>
            <dt>Type</dt>
            <dd>
              <code>{step.node_type}</code>
            </dd>
            {parent ? (
              <>
                <dt>Part of</dt>
                <dd>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => {
                      onSelect(parent.node_id);
                    }}
                  >
                    {parent.node_id}
                  </button>
                </dd>
              </>
            ) : null}
            <dt>Queued</dt>
            <dd>{formatTime(step.queued_at)}</dd>
            <dt>Started</dt>
            <dd>{formatTime(step.started_at)}</dd>
            <dt>Finished</dt>
            <dd>{formatTime(step.finished_at)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(step.duration_ms)}</dd>
          </dl>
          {canDecide && awaitsApproval(step) ? (
            <Approval runId={runId} nodeId={step.node_id} />
          ) : null}
          {step.error ? <ErrorBox error={step.error} /> : null}
          {text ? (
            <>
              <h3>Streamed text</h3>
              <pre className="runs-json runs-stream" aria-live="off" tabIndex={0}>
                {text}
              </pre>
            </>
          ) : null}
          {!text && step.node_type.startsWith("generative.") ? (
            <StreamedHistory key={step.id} load={onLoadStreamed} />
          ) : null}
          <h3>Params (as rendered)</h3>
          <Json value={step.params} label="Params" />
          <h3>Output</h3>
          {outputPending ? <p className="muted">Loading the output…</p> : null}
          <Json value={step.output} label="Output" />
          <h3>Attempts ({step.attempt_count})</h3>
          {step.attempts.length === 0 ? (
            <p className="muted">No attempt yet.</p>
          ) : (
            <ol className="step-attempts">
              {step.attempts.map((attempt) => (
                <li key={attempt.number}>
                  <span>#{attempt.number}</span> <StateBadge state={attempt.state} />{" "}
                  <span className="muted">
                    {formatTime(attempt.started_at)} → {formatTime(attempt.finished_at)} (
                    {formatDuration(attempt.duration_ms)})
                    {attempt.agent_id ? ` on agent ${attempt.agent_id}` : ""}
                  </span>
                  {attempt.error ? <ErrorBox error={attempt.error} /> : null}
                </li>
              ))}
            </ol>
          )}
          <StepLogs
            runId={runId}
            nodeId={step.node_id}
            revision={`${step.state}:${String(step.attempt_count)}:${String(logged)}`}
          />
          {children.length > 0 ? (
            <>
              <h3>Sub-steps ({children.length})</h3>
              <ol className="step-children">
                {children.map((child) => (
                  <li key={child.id}>
                    <button
                      type="button"
                      className="link-button"
                      onClick={() => {
                        onSelect(child.node_id);
                      }}
                    >
                      {child.node_id}
                    </button>{" "}
                    <code>{child.node_type}</code> <StateBadge state={child.state} />{" "}
                    <span className="muted">{formatDuration(child.duration_ms)}</span>
                    {streamed[child.id] ? (
                      <pre className="runs-json runs-stream">{streamed[child.id]}</pre>
                    ) : null}
                  </li>
                ))}
              </ol>
            </>
          ) : null}
        </>
      )}
    </aside>
  );
}
