/**
 * Shows a freshly issued API key once, with Copy and a warning. The key lives only in the
 * caller's state while this dialog is open; closing it drops the key for good.
 */
import { useEffect, useId, useRef, useState } from "react";
import type { ReactNode } from "react";

/** Props of `RevealKey`. */
export interface RevealKeyProps {
  /** The key; `null` keeps the dialog closed. */
  secret: string | null;
  title: string;
  /** What else to know, e.g. the old key's grace period after a rotation. */
  children?: ReactNode;
  onClose: () => void;
}

/** A modal dialog with the one-time key. */
export function RevealKey({ secret, title, children, onClose }: RevealKeyProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [copied, setCopied] = useState<"idle" | "ok" | "failed">("idle");
  const open = secret !== null;
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
    setCopied("idle");
  }, [open]);
  const copy = async () => {
    if (secret === null) return;
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("ok");
    } catch {
      // Clipboard access can be refused (permissions, insecure origin): the key stays selectable.
      setCopied("failed");
    }
  };
  return (
    <dialog ref={ref} className="dialog st-reveal" aria-labelledby={titleId} onCancel={onClose}>
      <h2 id={titleId}>{title}</h2>
      <p className="st-warning" role="alert">
        <span aria-hidden="true">⚠ </span>
        Copy this key now. It is shown only this once and cannot be retrieved later; store it in a
        password manager or your secret store.
      </p>
      {open ? (
        <div className="st-keybox">
          <input
            readOnly
            value={secret}
            aria-label="New API key"
            className="st-key"
            onFocus={(event) => {
              event.target.select();
            }}
          />
          <button type="button" className="primary" onClick={() => void copy()}>
            Copy
          </button>
        </div>
      ) : null}
      <p role="status" aria-live="polite" className="st-copied">
        {copied === "ok" ? "✓ Copied to the clipboard." : null}
        {copied === "failed" ? "⚠ Could not copy: select the key and copy it by hand." : null}
      </p>
      {children}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          I have stored the key
        </button>
      </div>
    </dialog>
  );
}
