/**
 * Shapes of the runs API (`api/schemas.py`: `run_out`, `step_out`, `event_out`, `version_out`,
 * `workflow_summary`), which the OpenAPI schema leaves open (`dict[str, Any]`), and the calls
 * the run screens make.
 */
import { api, unwrap } from "./client";
import type { Page } from "./client";

/** Run states (`domain/states.py` RunState), in lifecycle order. */
export const RUN_STATES = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
] as const;
/** A run's state. */
export type RunStateName = (typeof RUN_STATES)[number];

/** Step states (`domain/states.py` StepState). */
export const STEP_STATES = [
  "pending",
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const;
/** A step's state. */
export type StepStateName = (typeof STEP_STATES)[number];

/** An error as the engine stores it (`error_info`): a code and a message, maybe more. */
export interface ErrorInfo {
  code?: string;
  message?: string;
  retryable?: boolean;
  retry_after?: number;
  [key: string]: unknown;
}

/** One try of a step (`step_out().attempts[]`). */
export interface Attempt {
  number: number;
  state: string;
  agent_id: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: ErrorInfo | null;
}

/** A step: one node inside a run, or a child (map item, agent turn or tool call). */
export interface Step {
  id: string;
  node_id: string;
  node_type: string;
  /** The parent step's id for children (`core.map` items, `generative.agent` turns/tools). */
  parent_id: string | null;
  map_index: number | null;
  state: string;
  params: unknown;
  output: unknown;
  error: ErrorInfo | null;
  attempt_count: number;
  attempts: Attempt[];
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
}

/** A run (`run_out`); `steps` only when read with them. */
export interface Run {
  id: string;
  workflow_id: string;
  workflow_name: string;
  version: number;
  state: string;
  inputs: Record<string, unknown>;
  outputs: unknown;
  error: ErrorInfo | null;
  trigger: unknown;
  idempotency_key: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** From creation to finish; null while the run is active. */
  duration_ms: number | null;
  steps?: Step[];
}

/** A workflow in a listing (`workflow_summary`). */
export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  latest_version: number | null;
  nodes: number;
  created_at: string | null;
  updated_at: string | null;
}

/** A node of a workflow spec (docs/workflow-spec.md). */
export interface SpecNode {
  id: string;
  type: string;
  name?: string;
  params?: Record<string, unknown>;
}

/** A connection of a workflow spec. */
export interface SpecConnection {
  from: string;
  to: string;
  when?: string;
}

/** The parts of a workflow spec the run screens read. */
export interface Spec {
  name: string;
  description?: string;
  inputs?: Record<string, unknown>;
  nodes: SpecNode[];
  connections?: SpecConnection[];
}

/** A deployed version (`version_out`). */
export interface Version {
  id: string;
  workflow_id: string;
  workflow_name: string | null;
  number: number;
  spec: Spec;
  created_at: string | null;
}

/** Filters of `GET /api/v1/runs`. */
export interface RunFilters {
  workflow?: string;
  state?: string;
  created_after?: string;
  created_before?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/** A page of runs, newest first. */
export async function listRuns(
  filters: RunFilters,
  cursor: string | null,
  limit = 25,
): Promise<Page<Run>> {
  // Empty filters are left out: the server reads "" as a value, not as "any".
  const query = {
    limit,
    cursor: cursor ?? undefined,
    workflow: nonEmpty(filters.workflow),
    state: nonEmpty(filters.state) as RunStateName | undefined,
    created_after: nonEmpty(filters.created_after),
    created_before: nonEmpty(filters.created_before),
  };
  const data = unwrap(await api.GET("/api/v1/runs", { params: { query } }));
  return data as unknown as Page<Run>;
}

/** One run with its steps and attempts. */
export async function getRun(runId: string): Promise<Run> {
  const data = unwrap(
    await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId } } }),
  );
  return data as unknown as Run;
}

/** One line a step's handler logged (`log_line_out`). */
export interface StepLogLine {
  id: number;
  attempt: number;
  at: string;
  level: "debug" | "info" | "warning" | "error" | "critical";
  message: string;
}

/** A page of what a step's handler logged, oldest first. */
export async function getStepLogs(
  runId: string,
  nodeId: string,
  cursor: string | null,
): Promise<Page<StepLogLine>> {
  const data = unwrap(
    await api.GET("/api/v1/runs/{run_id}/steps/{node_id}/logs", {
      params: {
        path: { run_id: runId, node_id: nodeId },
        query: { limit: 200, cursor: cursor ?? undefined },
      },
    }),
  );
  return data as unknown as Page<StepLogLine>;
}

/** The version a run pinned (its spec draws the graph). */
export async function getVersion(workflowRef: string, number: number): Promise<Version> {
  const data = unwrap(
    await api.GET("/api/v1/workflows/{ref}/versions/{number}", {
      params: { path: { ref: workflowRef, number } },
    }),
  );
  return data as unknown as Version;
}

/** A page of workflows (the start form lists the deployed ones). */
export async function listWorkflows(
  search: string,
  cursor: string | null,
): Promise<Page<WorkflowSummary>> {
  const data = unwrap(
    await api.GET("/api/v1/workflows", {
      params: { query: { limit: 100, search: search || undefined, cursor: cursor ?? undefined } },
    }),
  );
  return data as unknown as Page<WorkflowSummary>;
}

/** Start a run of the latest (or a given) version; a 422 `ApiError` carries field errors. */
export async function startRun(
  workflowRef: string,
  inputs: Record<string, unknown>,
  version?: number,
): Promise<Run> {
  const data = unwrap(
    await api.POST("/api/v1/workflows/{ref}/runs", {
      params: { path: { ref: workflowRef } },
      body: { inputs, version: version ?? null },
    }),
  );
  return data as unknown as Run;
}

/** Cancel an active run. */
export async function cancelRun(runId: string): Promise<Run> {
  const data = unwrap(
    await api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: runId } } }),
  );
  return data as unknown as Run;
}

/** Run again the failed, cancelled and skipped steps of a finished run. */
export async function retryRun(runId: string): Promise<Run> {
  const data = unwrap(
    await api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: runId } } }),
  );
  return data as unknown as Run;
}

/** Approve or reject a waiting `core.approval` step, with an optional comment. */
export async function decideApproval(
  runId: string,
  nodeId: string,
  decision: "approve" | "reject",
  comment: string,
): Promise<void> {
  const options = {
    params: { path: { run_id: runId, node_id: nodeId } },
    body: { comment: comment.trim() || null },
  };
  if (decision === "approve") {
    unwrap(await api.POST("/api/v1/runs/{run_id}/steps/{node_id}/approve", options));
  } else {
    unwrap(await api.POST("/api/v1/runs/{run_id}/steps/{node_id}/reject", options));
  }
}
