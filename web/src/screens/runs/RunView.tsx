/**
 * The run view (route `/runs/:runId`): header (workflow, version, state, timings, inputs and
 * outputs), actions, the live graph, the timeline and the selected step's panel. Everything
 * updates from the WebSocket's events for this run (see `useRunLive`) without a reload.
 */
import { useCallback, useEffect, useMemo } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { getVersion } from "../../api/runs";
import { useSession } from "../../app/session";
import { StateBadge } from "../../components/StateBadge";
import { ErrorState, Loading } from "../../components/States";
import {
  awaitsApproval,
  childrenOf,
  isRunTerminal,
  stepByNodeId,
  stepOfNode,
} from "../../lib/runs";
import type { RunLiveState } from "../../lib/runs";
import { formatDuration, formatJson, formatTime } from "../../lib/runsFormat";
import { useAsync } from "../../lib/useAsync";
import { RunActions } from "./RunActions";
import { RunGantt } from "./RunGantt";
import { RunGraph } from "./RunGraph";
import { StepPanel } from "./StepPanel";
import { useRunLive } from "./useRunLive";
import "./runs.css";

function Header({ state }: { state: RunLiveState }) {
  const { run } = state;
  return (
    <dl className="runs-facts run-facts">
      <dt>Workflow</dt>
      <dd>
        <Link to={`/workflows/${encodeURIComponent(run.workflow_name)}`}>{run.workflow_name}</Link>{" "}
        <span className="muted">v{run.version}</span>
      </dd>
      <dt>State</dt>
      <dd>
        <StateBadge state={run.state} />
      </dd>
      <dt>Created</dt>
      <dd>{formatTime(run.created_at)}</dd>
      <dt>Started</dt>
      <dd>{formatTime(run.started_at)}</dd>
      <dt>Finished</dt>
      <dd>{formatTime(run.finished_at)}</dd>
      <dt>Duration</dt>
      <dd>{run.duration_ms === null ? "not finished" : formatDuration(run.duration_ms)}</dd>
    </dl>
  );
}

function Values({ state }: { state: RunLiveState }) {
  const { run } = state;
  return (
    <div className="run-values">
      <details open={Object.keys(run.inputs).length > 0}>
        <summary>Inputs</summary>
        <pre className="runs-json" tabIndex={0} aria-label="Inputs">
          {formatJson(run.inputs)}
        </pre>
      </details>
      <details open={run.outputs !== null && run.state === "succeeded"}>
        <summary>Outputs</summary>
        {run.outputs === null || run.outputs === undefined ? (
          <p className="muted">
            {run.state === "succeeded" ? "None." : "Rendered when the run succeeds."}
          </p>
        ) : (
          <pre className="runs-json" tabIndex={0} aria-label="Outputs">
            {formatJson(run.outputs)}
          </pre>
        )}
      </details>
    </div>
  );
}

/** The run screen. */
export default function RunView() {
  const { runId = "" } = useParams();
  const { can } = useSession();
  const { state, error, refetch, refetchSoon, loadStreamed } = useRunLive(runId);
  // The selected step is in the URL (`?step=`), so a link can point at it.
  const [params, setParams] = useSearchParams();
  const selected = params.get("step");
  const select = useCallback(
    (nodeId: string | null) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (nodeId) next.set("step", nodeId);
          else next.delete("step");
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  const onSelect = useCallback(
    (nodeId: string) => {
      select(nodeId);
    },
    [select],
  );

  const workflowId = state?.run.workflow_id;
  const versionNumber = state?.run.version;
  const loadVersion = useCallback(
    () =>
      workflowId && versionNumber
        ? getVersion(workflowId, versionNumber)
        : Promise.resolve(undefined),
    [workflowId, versionNumber],
  );
  const version = useAsync(loadVersion, [loadVersion]);

  const stateOf = useCallback(
    // Graph nodes are top-level: an O(1) lookup, even for 500 nodes on every frame.
    (nodeId: string) => (state ? (stepOfNode(state, nodeId)?.state ?? "pending") : "pending"),
    [state],
  );
  const childCountOf = useCallback(
    (nodeId: string) => {
      const id = state?.byNode[nodeId];
      return id ? (state.children[id]?.length ?? 0) : 0;
    },
    [state],
  );
  const steps = useMemo(
    () => (state ? state.order.map((id) => state.steps[id]).filter((s) => s !== undefined) : []),
    [state],
  );

  const approvals = useMemo(() => steps.filter(awaitsApproval), [steps]);
  const selectedStep = state && selected ? stepByNodeId(state, selected) : undefined;
  const pendingOutput = selectedStep ? (state?.outputPending[selectedStep.id] ?? false) : false;
  // The selected step finished since the last fetch: fetch its output (coalesced).
  useEffect(() => {
    if (pendingOutput) refetchSoon();
  }, [pendingOutput, refetchSoon]);

  if (error && !state) return <ErrorState error={error} retry={refetch} />;
  if (!state) return <Loading what="the run" />;
  const { run } = state;
  const parent = selectedStep?.parent_id ? state.steps[selectedStep.parent_id] : undefined;

  return (
    <section className="run-view">
      <div className="page-header">
        <h1>
          Run <span className="runs-id">{run.id}</span>
        </h1>
        {can("runs:write") ? (
          <RunActions runId={run.id} state={run.state} onDone={refetch} />
        ) : null}
      </div>
      {error ? (
        <p className="form-error" role="alert">
          Could not refresh the run: {error.message}
        </p>
      ) : null}
      <Header state={state} />
      {run.error ? (
        <div className="step-error" role="note">
          <span aria-hidden="true">⚠ </span>
          {run.error.code ? <code>{run.error.code}</code> : null} {run.error.message}
        </div>
      ) : null}
      {approvals.length > 0 ? (
        <div className="run-approvals card" role="status">
          <span aria-hidden="true">‖ </span>
          Waiting for approval:{" "}
          {approvals.map((step) => (
            <button
              key={step.id}
              type="button"
              className="link-button"
              onClick={() => {
                select(step.node_id);
              }}
            >
              Review {step.node_id}
            </button>
          ))}
        </div>
      ) : null}
      <Values state={state} />
      <div className={`run-main${selected ? " run-main-with-panel" : ""}`}>
        <section aria-labelledby="run-graph-title" className="run-graph card">
          <h2 id="run-graph-title">Graph</h2>
          {version.error ? <ErrorState error={version.error} retry={version.reload} /> : null}
          {!version.data && !version.error ? <Loading what="the graph" /> : null}
          {version.data ? (
            <RunGraph
              spec={version.data.spec}
              stateOf={stateOf}
              childCountOf={childCountOf}
              selected={selected}
              onSelect={onSelect}
            />
          ) : null}
        </section>
        {selected ? (
          <StepPanel
            runId={run.id}
            nodeId={selected}
            step={selectedStep}
            parent={parent}
            children={selectedStep ? childrenOf(state, selectedStep.id) : []}
            streamed={state.streamed}
            logged={selectedStep ? (state.logged[selectedStep.id] ?? 0) : 0}
            outputPending={pendingOutput}
            canDecide={can("runs:write")}
            onLoadStreamed={loadStreamed}
            onSelect={onSelect}
            onClose={() => {
              select(null);
            }}
          />
        ) : null}
      </div>
      <section aria-labelledby="run-timeline-title" className="card run-timeline">
        <h2 id="run-timeline-title">Timeline</h2>
        <RunGantt
          steps={steps}
          runStart={run.started_at ?? run.created_at}
          live={!isRunTerminal(run.state)}
          selected={selected}
          onSelect={onSelect}
        />
      </section>
    </section>
  );
}
