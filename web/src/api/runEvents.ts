/**
 * A run's recorded timeline (`GET /api/v1/runs/{id}/events`, Server-Sent Events), read once:
 * the run view uses it for what only the timeline keeps, such as the text an LLM streamed
 * before the page was opened.
 */
import type { RunEvent } from "../lib/runs";
import { parseSse } from "../lib/runs";
import { ApiError, getWorkspace, problemMessage } from "./client";

/** A replay is over when the stream is quiet this long (an active run's stream stays open). */
const REPLAY_IDLE_MS = 1500;

/**
 * The run's recorded events, from its Server-Sent Events timeline. The stream of an active
 * run stays open for live events (which the WebSocket already brings), so reading stops
 * once the replay has gone quiet; `fetch` rather than `EventSource`, which cannot send the
 * workspace header.
 */
export async function fetchRunEvents(runId: string): Promise<RunEvent[]> {
  const controller = new AbortController();
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  const workspace = getWorkspace();
  if (workspace) headers["X-QO-Workspace"] = workspace;
  const response = await fetch(`/api/v1/runs/${encodeURIComponent(runId)}/events`, {
    credentials: "same-origin",
    headers,
    signal: controller.signal,
  });
  if (!response.ok || !response.body) {
    let body: unknown = undefined;
    try {
      body = await response.json();
    } catch {
      // The status says enough.
    }
    throw new ApiError(response.status, problemMessage(response.status, body), undefined, body);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const events: RunEvent[] = [];
  let buffer = "";
  let idle: ReturnType<typeof setTimeout> | undefined;
  let rearm: () => void = () => undefined;
  const quiet = new Promise<null>((resolve) => {
    rearm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        resolve(null);
      }, REPLAY_IDLE_MS);
    };
  });
  rearm();
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), quiet]);
      if (chunk === null || chunk.done) break;
      rearm();
      const parsed = parseSse(buffer + chunk.value);
      events.push(...parsed.events);
      buffer = parsed.rest;
    }
  } finally {
    clearTimeout(idle);
    controller.abort();
  }
  return events;
}
