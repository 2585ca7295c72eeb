/**
 * The run view's live state and the pure reducer that applies engine events to it.
 *
 * The run is fetched once (`GET /api/v1/runs/{id}`) and then kept current from the events the
 * engine publishes (`run.<state>`, `step.<kind>` with `step_id`, `node_id`, `state`, `ts`,
 * `data`; see engine/unit.py `step_event` and scheduler.py `_set_run_state`). Events carry
 * states and times but not outputs, nor the rows of children a step creates, so the reducer
 * marks when a refetch is needed instead of guessing.
 */
import type { Attempt, ErrorInfo, Run, Step } from "../api/runs";
import { STEP_STATES } from "../api/runs";

/** An event of a run as the WebSocket or the SSE timeline carries it (`event_out`). */
export interface RunEvent {
  type: string;
  run_id?: string;
  id?: number;
  step_id?: string | null;
  node_id?: string | null;
  state?: string | null;
  ts?: string | null;
  data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** What the run view shows, kept current by `applyRunEvent`. */
export interface RunLiveState {
  /** The run without its steps (those are in `steps`). */
  run: Omit<Run, "steps">;
  /** Steps by id. */
  steps: Record<string, Step>;
  /** Step ids in the server's order. */
  order: string[];
  /** The step id of each top-level node (children are under `children`). */
  byNode: Record<string, string>;
  /** Children step ids by parent step id, by `map_index`. */
  children: Record<string, string[]>;
  /** Text streamed by `step.progress` events (`data.delta`), by step id. */
  streamed: Record<string, string>;
  /** Log lines stored while watching (`step.logs` events' `data.lines`), by step id. */
  logged: Record<string, number>;
  /** An event named a step we do not have (a new child): refetch the run. */
  stale: boolean;
  /** Steps that finished since the last fetch: their output is only in the database. */
  outputPending: Record<string, true>;
  /**
   * Ids of the last events applied, to drop a repeat. Not a high-water mark: concurrent
   * transactions may commit (and publish) their events out of id order.
   */
  recentIds: readonly number[];
}

/** How many event ids are remembered to drop repeats. */
const RECENT_IDS = 64;
const STEP_STATE_SET: ReadonlySet<string> = new Set(STEP_STATES);
const RUN_TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);
const STEP_TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled", "skipped"]);

/** True once nothing more will happen to a run (unless it is retried). */
export function isRunTerminal(state: string): boolean {
  return RUN_TERMINAL.has(state);
}

/** True for succeeded, failed, cancelled and skipped steps. */
export function isStepTerminal(state: string): boolean {
  return STEP_TERMINAL.has(state);
}

/**
 * The live state of a freshly fetched run. `previous` keeps the streamed text (the API does
 * not store it) and the recent event ids across refetches.
 */
export function fromRun(run: Run, previous?: RunLiveState): RunLiveState {
  const { steps: list = [], ...rest } = run;
  const steps: Record<string, Step> = {};
  const order: string[] = [];
  const byNode: Record<string, string> = {};
  const children: Record<string, string[]> = {};
  for (const step of list) {
    steps[step.id] = step;
    order.push(step.id);
    if (step.parent_id) (children[step.parent_id] ??= []).push(step.id);
    else byNode[step.node_id] = step.id;
  }
  for (const ids of Object.values(children)) {
    ids.sort((a, b) => (steps[a]?.map_index ?? 0) - (steps[b]?.map_index ?? 0));
  }
  return {
    run: rest,
    steps,
    order,
    byNode,
    children,
    streamed: previous?.run.id === run.id ? previous.streamed : {},
    logged: previous?.run.id === run.id ? previous.logged : {},
    stale: false,
    outputPending: {},
    recentIds: previous?.run.id === run.id ? previous.recentIds : [],
  };
}

/**
 * The records and arrays made while `applyRunEvents` applies one batch: nobody else has seen
 * them yet, so the batch's later events may change them in place instead of copying them
 * again (copying the 500 steps of a big run for each of its hundreds of events was most of
 * the cost of a burst). Null outside a batch: every change then copies.
 */
let batchOwned: WeakSet<object> | null = null;

/** `record` with `key` set to `value`: a copy, or `record` itself if the batch made it. */
function withKey<T>(record: Record<string, T>, key: string, value: T): Record<string, T> {
  if (batchOwned?.has(record)) {
    record[key] = value;
    return record;
  }
  const copy = { ...record, [key]: value };
  batchOwned?.add(copy);
  return copy;
}

/** The last `RECENT_IDS` ids after `id` was applied. */
function withRecentId(ids: readonly number[], id: number): readonly number[] {
  if (batchOwned?.has(ids)) {
    const own = ids as number[];
    own.push(id);
    if (own.length > RECENT_IDS) own.splice(0, own.length - RECENT_IDS);
    return own;
  }
  const copy = [...ids.slice(-(RECENT_IDS - 1)), id];
  batchOwned?.add(copy);
  return copy;
}

function asError(value: unknown): ErrorInfo | null {
  return value && typeof value === "object" ? (value as ErrorInfo) : null;
}

function asNumber(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function applyRun(state: RunLiveState, event: RunEvent, kind: string): RunLiveState {
  const target = event.state ?? kind;
  const ts = event.ts ?? null;
  const run = { ...state.run, state: target };
  const data = event.data ?? {};
  if (target === "running" && data.retry === true) {
    // A retried run starts over from its failed steps: it is no longer finished.
    run.finished_at = null;
    run.duration_ms = null;
    run.error = null;
  }
  if (target === "running" && !run.started_at) run.started_at = ts;
  if (isRunTerminal(target)) {
    run.finished_at = ts ?? run.finished_at;
    if (ts) run.duration_ms = Date.parse(ts) - Date.parse(run.created_at);
    if (data.error) run.error = asError(data.error);
  }
  // Outputs are rendered when the run succeeds; only a refetch brings them.
  return { ...state, run, stale: state.stale || isRunTerminal(target) };
}

function withAttempt(step: Step, number: number, change: Partial<Attempt>): Attempt[] {
  const attempts = step.attempts.slice();
  const index = attempts.findIndex((a) => a.number === number);
  const current = attempts[index];
  if (current) {
    attempts[index] = { ...current, ...change };
  } else {
    attempts.push({
      number,
      state: "running",
      agent_id: null,
      started_at: null,
      finished_at: null,
      duration_ms: null,
      error: null,
      ...change,
    });
    attempts.sort((a, b) => a.number - b.number);
  }
  return attempts;
}

function closeAttempt(
  step: Step,
  number: number | null,
  outcome: string,
  ts: string | null,
  error: ErrorInfo | null,
): Attempt[] {
  if (number === null) return step.attempts;
  const open = step.attempts.find((a) => a.number === number);
  const started = open?.started_at ?? null;
  return withAttempt(step, number, {
    state: outcome,
    finished_at: ts,
    duration_ms: started && ts ? Date.parse(ts) - Date.parse(started) : null,
    error,
  });
}

function applyStep(state: RunLiveState, event: RunEvent, kind: string): RunLiveState {
  const stepId = event.step_id;
  if (!stepId) return state;
  const step = state.steps[stepId];
  if (!step) return state.stale ? state : { ...state, stale: true };
  const data = event.data ?? {};
  const ts = event.ts ?? null;
  const attempt = asNumber(data.attempt);
  const error = asError(data.error);
  if (kind === "logs") {
    // Lines, not a state change: they may even arrive just after the step finished.
    const count = (state.logged[stepId] ?? 0) + (asNumber(data.lines) ?? 0);
    return { ...state, logged: withKey(state.logged, stepId, count) };
  }
  if (kind === "progress") {
    const delta = typeof data.delta === "string" ? data.delta : "";
    if (!delta) return state;
    const text = (state.streamed[stepId] ?? "") + delta;
    return { ...state, streamed: withKey(state.streamed, stepId, text) };
  }
  // `decided` records the approval; the state change follows as its own event.
  const target = kind === "decided" ? step.state : (event.state ?? kind);
  if (!STEP_STATE_SET.has(target)) return state;
  const next: Step = { ...step, state: target };
  if (attempt !== null) next.attempt_count = Math.max(step.attempt_count, attempt);
  switch (target) {
    case "queued":
      next.queued_at = ts;
      // A retry after backoff: the attempt that failed is closed with its error.
      if (error) next.attempts = closeAttempt(step, attempt, "failed", ts, error);
      break;
    case "running":
      next.started_at = step.started_at ?? ts;
      next.finished_at = null;
      if (attempt !== null) {
        const agent = typeof data.agent_id === "string" ? data.agent_id : null;
        const known = step.attempts.some((a) => a.number === attempt);
        if (!known) {
          next.attempts = withAttempt(step, attempt, { agent_id: agent, started_at: ts });
        }
      }
      break;
    case "pending":
      next.finished_at = null;
      next.error = null;
      break;
    default:
      if (isStepTerminal(target)) {
        next.finished_at = ts;
        if (next.started_at && ts) next.duration_ms = Date.parse(ts) - Date.parse(next.started_at);
        if (error) next.error = error;
        next.attempts = closeAttempt(step, attempt, target, ts, error);
      }
  }
  const outputPending =
    isStepTerminal(target) && target !== "skipped"
      ? withKey(state.outputPending, stepId, true as const)
      : state.outputPending;
  return { ...state, steps: withKey(state.steps, stepId, next), outputPending };
}

/**
 * `state` after `event`. Events of other runs, repeats (by id) and unknown types leave it
 * unchanged (the same object, so React skips the render).
 */
export function applyRunEvent(state: RunLiveState, event: RunEvent): RunLiveState {
  if (event.run_id && event.run_id !== state.run.id) return state;
  const id = typeof event.id === "number" ? event.id : null;
  if (id !== null && state.recentIds.includes(id)) return state;
  const [scope, kind = ""] = event.type.split(".", 2);
  let next = state;
  if (scope === "run") next = applyRun(state, event, kind);
  else if (scope === "step") next = applyStep(state, event, kind);
  if (id !== null) {
    next = next === state ? { ...state } : next;
    next.recentIds = withRecentId(state.recentIds, id);
  }
  return next;
}

/** `applyRunEvent` over a batch (the events of one animation frame). */
export function applyRunEvents(state: RunLiveState, events: readonly RunEvent[]): RunLiveState {
  let next = state;
  const outer = batchOwned;
  batchOwned = outer ?? new WeakSet();
  try {
    for (const event of events) next = applyRunEvent(next, event);
  } finally {
    batchOwned = outer;
  }
  return next;
}

/** The step of a top-level node, if the run has one. */
export function stepOfNode(state: RunLiveState, nodeId: string): Step | undefined {
  const id = state.byNode[nodeId];
  return id ? state.steps[id] : undefined;
}

/** The children of a step (map items, agent turns and tool calls), in creation order. */
export function childrenOf(state: RunLiveState, stepId: string): Step[] {
  const ids = state.children[stepId] ?? [];
  return ids.map((id) => state.steps[id]).filter((s): s is Step => s !== undefined);
}

/** True when a step is a `core.approval` waiting for a decision. */
export function awaitsApproval(step: Step): boolean {
  return step.node_type === "core.approval" && step.state === "waiting";
}

/**
 * The state after a refetch: the fetched `run`, then the events that arrived while it was
 * being fetched (the answer may predate them). Streamed text is kept from `previous` (the API
 * does not store it), so streamed deltas are not applied twice.
 */
export function rebaseRun(
  run: Run,
  previous: RunLiveState | null,
  missed: readonly RunEvent[],
): RunLiveState {
  const base = { ...fromRun(run, previous ?? undefined), recentIds: [] };
  const next = applyRunEvents(
    base,
    missed.filter((e) => e.type !== "step.progress"),
  );
  return {
    ...next,
    // Only a step the snapshot itself lacks calls for another refetch.
    stale: next.stale && missed.some((e) => e.step_id && !base.steps[e.step_id]),
    recentIds: previous?.recentIds ?? next.recentIds,
  };
}

/** A step by node id: a top-level node's step, else a child such as `agent[2]`. */
export function stepByNodeId(state: RunLiveState, nodeId: string): Step | undefined {
  const top = stepOfNode(state, nodeId);
  if (top) return top;
  for (const id of state.order) {
    const step = state.steps[id];
    if (step?.node_id === nodeId) return step;
  }
  return undefined;
}

/**
 * The events of a Server-Sent Events text (`GET /api/v1/runs/{id}/events`: `id:`, `event:`
 * and `data: <event_out JSON>` lines, frames separated by a blank line). Comments
 * (`: keep-alive`) and frames whose data is not JSON are skipped; a trailing partial frame is
 * left out (the caller keeps it for the next chunk).
 */
export function parseSse(text: string): { events: RunEvent[]; rest: string } {
  const events: RunEvent[] = [];
  const frames = text.replace(/\r\n/g, "\n").split("\n\n");
  const rest = frames.pop() ?? "";
  for (const frame of frames) {
    const data = frame
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (!data) continue;
    try {
      const event = JSON.parse(data) as RunEvent;
      if (typeof event.type === "string") events.push(event);
    } catch {
      // Not an event (a proxy's page, a cut frame): nothing to show from it.
    }
  }
  return { events, rest };
}

/** The text each step streamed (`step.progress` `data.delta`), in event order. */
export function streamedText(events: readonly RunEvent[]): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const event of events) {
    const delta = event.data?.delta;
    if (event.type !== "step.progress" || !event.step_id || typeof delta !== "string") continue;
    texts[event.step_id] = (texts[event.step_id] ?? "") + delta;
  }
  return texts;
}

/**
 * `state` with the streamed text read from the timeline: a step's text is replaced when the
 * timeline's is longer (the live one may have started mid-stream).
 */
export function withStreamed(state: RunLiveState, texts: Record<string, string>): RunLiveState {
  const streamed = { ...state.streamed };
  for (const [stepId, text] of Object.entries(texts)) {
    if (text.length > (streamed[stepId]?.length ?? 0)) streamed[stepId] = text;
  }
  return { ...state, streamed };
}
