/**
 * "Are you sure?" → the API call → a notice saying how it went → the list reloaded: the steps
 * every destructive button of the dashboard takes, kept in one place so that none of them
 * forgets to re-enable its button, word a failure, or show the server's state afterwards.
 */
import { useState } from "react";

import { useNotify } from "../components/Notice";
import { errorText } from "./errorText";

/** What `useConfirmedAction` does, for one kind of subject (a key, a member, an agent…). */
export interface ConfirmedActionOptions<T, R> {
  /** The API call for the subject the user confirmed. */
  run: (subject: T) => Promise<R>;
  /** The notice after success. */
  done: (subject: T, result: R) => string;
  /** The notice after failure; `why` is the server's explanation. */
  failed: (subject: T, why: string) => string;
  /** Called with the answer before the notice (show a new key, patch a row in place). */
  onDone?: (subject: T, result: R) => void;
  /** Fetches the list (or view) again, so it shows what the server now holds. */
  reload: () => void;
  /**
   * When to `reload`: after every call (default); only after a failure, when `onDone` already
   * patched the list from the answer; or only after success, when a failure changes nothing.
   */
  reloadAfter?: "always" | "failure" | "success";
  /**
   * Checked when the user confirms: `false` keeps the dialog open and runs nothing (a field in
   * the dialog still needs fixing).
   */
  ready?: (subject: T) => boolean;
}

/** The state of a confirmed action and the moves of its buttons and dialog. */
export interface ConfirmedAction<T> {
  /** The subject awaiting confirmation; `null` while the dialog is closed. */
  asked: T | null;
  /** The subject whose call is under way (its buttons are disabled meanwhile); else `null`. */
  busy: T | null;
  /** Opens the dialog for `subject`. */
  ask: (subject: T) => void;
  /** Closes the dialog without running anything. */
  cancel: () => void;
  /** Runs the action on the asked subject and closes the dialog. */
  confirm: () => void;
  /** Runs the action at once, for actions confirmed elsewhere (or needing no confirmation). */
  run: (subject: T) => Promise<void>;
  /** `open`, `onConfirm` and `onCancel` for `ConfirmDialog`. */
  dialog: { open: boolean; onConfirm: () => void; onCancel: () => void };
}

/** Ask, run, notify, reload: see the module comment. */
export function useConfirmedAction<T, R = unknown>(
  options: ConfirmedActionOptions<T, R>,
): ConfirmedAction<T> {
  const notify = useNotify();
  // Boxed, so that a subject that happens to be a function is not taken for a state updater.
  const [asked, setAsked] = useState<{ subject: T } | null>(null);
  const [busy, setBusy] = useState<{ subject: T } | null>(null);

  const run = async (subject: T) => {
    const { reload, reloadAfter = "always" } = options;
    setBusy({ subject });
    try {
      const result = await options.run(subject);
      options.onDone?.(subject, result);
      notify("ok", options.done(subject, result));
      if (reloadAfter !== "failure") reload();
    } catch (reason) {
      notify("error", options.failed(subject, errorText(reason)));
      if (reloadAfter !== "success") reload();
    } finally {
      setBusy(null);
    }
  };
  const cancel = () => {
    setAsked(null);
  };
  const confirm = () => {
    if (!asked) return;
    if (options.ready && !options.ready(asked.subject)) return;
    setAsked(null);
    void run(asked.subject);
  };

  return {
    asked: asked ? asked.subject : null,
    busy: busy ? busy.subject : null,
    ask: (subject) => {
      setAsked({ subject });
    },
    cancel,
    confirm,
    run,
    dialog: { open: asked !== null, onConfirm: confirm, onCancel: cancel },
  };
}
