/** Relative times for the agent board ("12 s ago"), and a clock that makes them tick. */
import { useEffect, useState } from "react";

/**
 * `iso` relative to `now`: "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago" (or "in …"
 * for a time ahead, e.g. a clock skew); a dash when there is no time or it does not parse.
 */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const seconds = Math.round((now - at) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  let text: string;
  if (abs < 60) text = `${abs} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 86_400) text = `${Math.floor(abs / 3600)} h`;
  else text = `${Math.floor(abs / 86_400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/** The absolute local time of `iso` for a title or tooltip; empty when there is none. */
export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "" : at.toLocaleString();
}

/** The current time, updated every `intervalMs` so relative times tick. */
export function useNow(intervalMs = 5000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
    }, intervalMs);
    return () => {
      clearInterval(timer);
    };
  }, [intervalMs]);
  return now;
}
