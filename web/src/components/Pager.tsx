/** Cursor pagination over a server-paginated list: first page, next page, and where we are. */

/** Props of `Pager`. */
export interface PagerProps {
  page: number;
  hasNext: boolean;
  onFirst: () => void;
  onNext: () => void;
}

/** Buttons to move through the pages the server hands out. */
export function Pager({ page, hasNext, onFirst, onNext }: PagerProps) {
  return (
    <nav className="pager" aria-label="Pagination">
      <button type="button" onClick={onFirst} disabled={page === 1}>
        ⏮ First
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        Next ⏭
      </button>
    </nav>
  );
}
