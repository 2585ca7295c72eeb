/** The result of an action, announced to screen readers and dismissible. */
import { createContext, useCallback, useContext, useState } from "react";
import type { ReactNode } from "react";

interface Notice {
  id: number;
  kind: "ok" | "error";
  text: string;
}

const NoticeContext = createContext<(kind: Notice["kind"], text: string) => void>(() => undefined);

/** Holds the notices shown at the bottom of the screen. */
export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const push = useCallback((kind: Notice["kind"], text: string) => {
    const id = Date.now() + Math.random();
    setNotices((list) => [...list.slice(-3), { id, kind, text }]);
    setTimeout(() => {
      setNotices((list) => list.filter((n) => n.id !== id));
    }, 8000);
  }, []);
  return (
    <NoticeContext.Provider value={push}>
      {children}
      <div className="notices" role="status" aria-live="polite">
        {notices.map((notice) => (
          <div key={notice.id} className={`notice notice-${notice.kind}`}>
            <span aria-hidden="true">{notice.kind === "ok" ? "✓ " : "⚠ "}</span>
            {notice.text}
            <button
              type="button"
              aria-label="Dismiss"
              onClick={() => {
                setNotices((list) => list.filter((n) => n.id !== notice.id));
              }}
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </NoticeContext.Provider>
  );
}

/** `notify("ok" | "error", text)` shows the result of an action. */
export function useNotify(): (kind: Notice["kind"], text: string) => void {
  return useContext(NoticeContext);
}
