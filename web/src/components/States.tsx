/** Designed empty, loading and error states: a list is never just blank. */
import type { ReactNode } from "react";

/** Shown while the first answer is awaited. */
export function Loading({ what }: { what: string }) {
  return (
    <p className="state-note" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** Shown when a list has nothing in it, with what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state" role="status">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-help">{children}</div> : null}
    </div>
  );
}

/** Shown when a load failed: the server's explanation and a way to try again. */
export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div className="error-state" role="alert">
      <p>
        <span aria-hidden="true">⚠ </span>
        {error.message}
      </p>
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
