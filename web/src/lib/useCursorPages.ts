/** Walks a cursor-paginated list: remembers the cursors of the pages already seen. */
import { useCallback, useState } from "react";

/** The cursor to ask for, the page number, and moves. */
export interface CursorPages {
  cursor: string | null;
  page: number;
  next: (cursor: string | null) => void;
  first: () => void;
}

/** Start at the first page; `next(nextCursor)` moves on, `first()` goes back. */
export function useCursorPages(): CursorPages {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const next = useCallback((cursor: string | null) => {
    if (cursor) setStack((s) => [...s, cursor]);
  }, []);
  const first = useCallback(() => {
    setStack([null]);
  }, []);
  return { cursor: stack[stack.length - 1] ?? null, page: stack.length, next, first };
}
