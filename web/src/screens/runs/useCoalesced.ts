/** Coalescing of bursts of live events into occasional refetches. */
import { useCallback, useEffect, useRef } from "react";

/**
 * A function that runs `action` at most once every `intervalMs`: the first call in a quiet
 * period schedules it after `intervalMs` and later calls join that run, so a burst of events
 * costs one refetch per interval however many arrive. Pending runs are dropped on unmount.
 */
export function useCoalesced(action: () => void, intervalMs: number): () => void {
  const latest = useRef(action);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    latest.current = action;
  });
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, intervalMs);
  }, [intervalMs]);
}
