/**
 * The icon of each run, step and agent state. Badges, graph nodes and timeline bars all show
 * it beside the state's name, so colour is never the only signal.
 */
export const STATE_ICONS: Record<string, string> = {
  pending: "○",
  queued: "◔",
  ready: "◔",
  scheduled: "◷",
  running: "▶",
  waiting: "‖",
  succeeded: "✓",
  failed: "✗",
  cancelled: "⊘",
  cancelling: "⊘",
  skipped: "↷",
  timed_out: "⌛",
  online: "●",
  draining: "◐",
  lost: "?",
  offline: "○",
};
