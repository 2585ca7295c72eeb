/** The run's actions: cancel (after confirmation) while active, retry from failed when failed. */
import { useState } from "react";

import { cancelRun, retryRun } from "../../api/runs";
import { ConfirmDialog } from "../../components/Confirm";
import { useNotify } from "../../components/Notice";
import { isRunTerminal } from "../../lib/runs";

/** Props of `RunActions`. */
export interface RunActionsProps {
  runId: string;
  state: string;
  /** Called after an action so the view refetches (the events follow anyway). */
  onDone: () => void;
}

/** "Cancel run" and "Retry from failed", for callers with `runs:write`. */
export function RunActions({ runId, state, onDone }: RunActionsProps) {
  const notify = useNotify();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = async (action: "cancel" | "retry") => {
    setBusy(true);
    try {
      await (action === "cancel" ? cancelRun(runId) : retryRun(runId));
      notify(
        "ok",
        action === "cancel" ? "The run is cancelled." : "The run is retrying its failed steps.",
      );
      onDone();
    } catch (error) {
      notify("error", error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="run-actions">
      {!isRunTerminal(state) ? (
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            setConfirming(true);
          }}
        >
          Cancel run
        </button>
      ) : null}
      {state === "failed" ? (
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => {
            void act("retry");
          }}
        >
          Retry from failed
        </button>
      ) : null}
      <ConfirmDialog
        open={confirming}
        title="Cancel this run?"
        confirmLabel="Stop the run"
        danger
        onCancel={() => {
          setConfirming(false);
        }}
        onConfirm={() => {
          setConfirming(false);
          void act("cancel");
        }}
      >
        <p>Its running and pending steps are cancelled. A cancelled run cannot be resumed.</p>
      </ConfirmDialog>
    </div>
  );
}
