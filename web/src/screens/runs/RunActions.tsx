/** The run's actions: cancel (after confirmation) while active, retry from failed when failed. */
import { cancelRun, retryRun } from "../../api/runs";
import { ConfirmDialog } from "../../components/Confirm";
import { isRunTerminal } from "../../lib/runs";
import { useConfirmedAction } from "../../lib/useConfirmedAction";

/** Props of `RunActions`. */
export interface RunActionsProps {
  runId: string;
  state: string;
  /** Called after an action so the view refetches (the events follow anyway). */
  onDone: () => void;
}

/** "Cancel run" and "Retry from failed", for callers with `runs:write`. */
export function RunActions({ runId, state, onDone }: RunActionsProps) {
  // Cancelling asks first; retrying runs at once. Either keeps both buttons disabled meanwhile.
  const action = useConfirmedAction<"cancel" | "retry">({
    run: (what) => (what === "cancel" ? cancelRun(runId) : retryRun(runId)),
    done: (what) =>
      what === "cancel" ? "The run is cancelled." : "The run is retrying its failed steps.",
    failed: (_what, why) => why,
    // A refused action changed nothing; the live events bring any change anyway.
    reload: onDone,
    reloadAfter: "success",
  });
  const busy = action.busy !== null;
  return (
    <div className="run-actions">
      {!isRunTerminal(state) ? (
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            action.ask("cancel");
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
            void action.run("retry");
          }}
        >
          Retry from failed
        </button>
      ) : null}
      <ConfirmDialog {...action.dialog} title="Cancel this run?" confirmLabel="Stop the run" danger>
        <p>Its running and pending steps are cancelled. A cancelled run cannot be resumed.</p>
      </ConfirmDialog>
    </div>
  );
}
