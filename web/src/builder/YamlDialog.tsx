/** A modal showing the spec as YAML (read-only, selectable text). */
import { useEffect, useRef } from "react";

/** Props of `YamlDialog`. */
export interface YamlDialogProps {
  open: boolean;
  title: string;
  yaml: string;
  onClose: () => void;
}

/** The YAML of the spec in a native modal dialog (focus stays inside, Escape closes). */
export function YamlDialog({ open, title, yaml, onClose }: YamlDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog qo-yaml-dialog"
      aria-labelledby="qo-yaml-title"
      onClose={onClose}
    >
      <h2 id="qo-yaml-title">{title}</h2>
      {/* Focusable so keyboard users can scroll a long spec. */}
      <pre className="qo-yaml" tabIndex={0} role="region" aria-label="Spec as YAML">
        {yaml}
      </pre>
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
