/** One wording for "what went wrong" in notices, whatever a failed call threw. */

/** The message of whatever a failed call threw. */
export function errorText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
