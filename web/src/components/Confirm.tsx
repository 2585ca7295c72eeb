/** Asks before an action that cannot be undone; a native modal dialog keeps focus inside. */
import { useEffect, useId, useRef } from "react";
import type { ReactNode } from "react";

/** Props of `ConfirmDialog`. */
export interface ConfirmProps {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** A modal asking the user to confirm `title`. */
export function ConfirmDialog(props: ConfirmProps) {
  const { open, title, children, confirmLabel, danger, onConfirm, onCancel } = props;
  const ref = useRef<HTMLDialogElement>(null);
  // Several dialogs can share a page: each names itself by its own title.
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={onCancel}>
      <h2 id={titleId}>{title}</h2>
      {children}
      <div className="dialog-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className={danger ? "danger" : "primary"} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
