/**
 * A run kept live: fetched once, then patched by the WebSocket's events for this run through
 * the pure `applyRunEvents`, one batch per animation frame (a 500-node run can send hundreds
 * of events a second; React renders at most once a frame). Refetched on resync, and
 * (coalesced) when the events call for it: a new child step, or a finished run's outputs.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import { fetchRunEvents } from "../../api/runEvents";
import { getRun } from "../../api/runs";
import { applyRunEvents, rebaseRun, streamedText, withStreamed } from "../../lib/runs";
import type { RunEvent, RunLiveState } from "../../lib/runs";
import { useLive } from "../../live/LiveProvider";
import { useCoalesced } from "./useCoalesced";

/** What `useRunLive` gives the run view. */
export interface RunLive {
  state: RunLiveState | null;
  error: Error | null;
  /** Fetch the run again now. */
  refetch: () => void;
  /** Fetch the run again soon (several calls in a second make one fetch). */
  refetchSoon: () => void;
  /** Read the text streamed before the page was opened from the run's timeline. */
  loadStreamed: () => Promise<void>;
}

/** Runs with more steps than this apply events at most every `BIG_RUN_INTERVAL_MS`. */
const BIG_RUN_STEPS = 200;
const BIG_RUN_INTERVAL_MS = 100;

/**
 * Run `callback` at the next animation frame at least `delayMs` from now (where
 * `requestAnimationFrame` is missing, after a timer); the answer cancels it.
 */
function nextFrame(callback: () => void, delayMs: number): () => void {
  let frame: number | null = null;
  const timer = setTimeout(() => {
    if (typeof requestAnimationFrame === "function") frame = requestAnimationFrame(callback);
    else callback();
  }, delayMs);
  return () => {
    clearTimeout(timer);
    if (frame !== null) cancelAnimationFrame(frame);
  };
}

/** The live state of run `runId`. */
export function useRunLive(runId: string): RunLive {
  const [state, setState] = useState<RunLiveState | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const queue = useRef<RunEvent[]>([]);
  const cancelFrame = useRef<(() => void) | null>(null);
  // Events heard while a fetch is in flight, replayed on its answer.
  const inFlight = useRef<RunEvent[] | null>(null);
  const ticket = useRef(0);
  const lastFlush = useRef(0);
  // A big run re-renders hundreds of graph nodes per batch: batch a few frames together.
  const interval = useRef(0);
  interval.current = (state?.order.length ?? 0) > BIG_RUN_STEPS ? BIG_RUN_INTERVAL_MS : 0;

  const refetch = useCallback(() => {
    const mine = ++ticket.current;
    inFlight.current = [];
    getRun(runId).then(
      (run) => {
        if (mine !== ticket.current) return;
        const missed = inFlight.current ?? [];
        inFlight.current = null;
        setState((previous) => rebaseRun(run, previous, missed));
        setError(null);
      },
      (reason: unknown) => {
        if (mine !== ticket.current) return;
        inFlight.current = null;
        setError(reason instanceof Error ? reason : new Error(String(reason)));
      },
    );
  }, [runId]);

  useEffect(() => {
    setState(null);
    setError(null);
    queue.current = [];
    refetch();
    return () => {
      ticket.current += 1;
      cancelFrame.current?.();
      cancelFrame.current = null;
    };
  }, [refetch]);

  const refetchSoon = useCoalesced(refetch, 1000);

  const flush = useCallback(() => {
    cancelFrame.current = null;
    lastFlush.current = performance.now();
    const batch = queue.current;
    queue.current = [];
    setState((previous) => (previous ? applyRunEvents(previous, batch) : previous));
  }, []);

  useLive((event) => {
    if (event.run_id !== runId) return;
    const runEvent = event as RunEvent;
    inFlight.current?.push(runEvent);
    queue.current.push(runEvent);
    const wait = lastFlush.current + interval.current - performance.now();
    cancelFrame.current ??= nextFrame(flush, Math.max(0, wait));
  }, refetch);

  // The events named something only the database has: fetch it, at most once a second.
  const stale = state?.stale ?? false;
  useEffect(() => {
    if (stale) refetchSoon();
  }, [stale, refetchSoon]);

  const loadStreamed = useCallback(async () => {
    const texts = streamedText(await fetchRunEvents(runId));
    setState((previous) => (previous ? withStreamed(previous, texts) : previous));
  }, [runId]);

  return { state, error, refetch, refetchSoon, loadStreamed };
}
