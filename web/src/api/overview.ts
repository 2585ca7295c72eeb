/**
 * `GET /api/v1/overview` (api/overview.py, engine/overview.py): the home page's figures, all
 * computed by the server. The path is newer than the generated OpenAPI schema, so it is called
 * with `fetch` here, with the same credentials and workspace header as the typed client.
 */
import { ApiError, getWorkspace, problemMessage } from "./client";

/** p50/p95 of a duration in milliseconds; null when nothing finished in the window. */
export interface Percentiles {
  p50_ms: number | null;
  p95_ms: number | null;
}

/** One hourly bucket of the chart (UTC hours, oldest first, the last one partial). */
export interface ChartBucket {
  /** ISO start of the hour. */
  start: string;
  /** Runs created in that hour, by their current state (every run state is a key). */
  runs: Record<string, number>;
  runs_total: number;
  steps_finished: number;
}

/** The overview of a workspace over the last `window_hours` hours. */
export interface Overview {
  generated_at: string;
  workspace_id: string;
  window_hours: number;
  since: string;
  agents: {
    online: number;
    /** Every agent state is a key (online, draining, offline, lost). */
    by_state: Record<string, number>;
    /** Online agents able to run each category (an agent counts under each it serves). */
    online_by_category: Record<string, number>;
  };
  runs: {
    created: number;
    /** Runs created in the window, by current state. */
    by_state: Record<string, number>;
    finished: number;
    finished_by_state: Record<string, number>;
    /** Succeeded over finished (0–1), null when no run finished. */
    success_rate: number | null;
    duration: Percentiles;
  };
  steps: {
    finished: number;
    per_minute: number;
    duration: Percentiles;
  };
  queue_depth: number;
  llm: {
    prompt_tokens: number;
    completion_tokens: number;
    cost: number;
    calls: number;
  };
  chart: ChartBucket[];
}

/** The overview for the last `windowHours` hours (1 to 168). */
export async function fetchOverview(windowHours = 24, signal?: AbortSignal): Promise<Overview> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const workspace = getWorkspace();
  if (workspace) headers["X-QO-Workspace"] = workspace;
  const response = await fetch(`/api/v1/overview?window_hours=${windowHours}`, {
    credentials: "same-origin",
    headers,
    signal: signal ?? null,
  });
  let body: unknown = undefined;
  try {
    body = await response.json();
  } catch {
    // A body that is not JSON (a proxy's error page): the status says enough.
  }
  if (!response.ok) {
    const code = body && typeof body === "object" && "code" in body ? String(body.code) : undefined;
    throw new ApiError(response.status, problemMessage(response.status, body), code, body);
  }
  return body as Overview;
}
