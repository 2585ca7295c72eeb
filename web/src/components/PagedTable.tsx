/**
 * A server-paginated list as a table: its error, loading and empty states, and the pager. Every
 * list screen used to spell these out; they now differ only in the props they pass here.
 */
import { Fragment } from "react";
import type { ReactNode } from "react";

import type { Page } from "../api/client";
import type { CursorPages } from "../lib/useCursorPages";
import { Pager } from "./Pager";
import { ErrorState, Loading } from "./States";

/** The load of one page, as `useAsync` keeps it. */
export interface PageLoad<T> {
  data: Page<T> | undefined;
  error: Error | undefined;
  reload: () => void;
}

/** Props of `PagedTable`. */
export interface PagedTableProps<T> {
  /** The current page's load (`useAsync(() => listX(pages.cursor), …)`). */
  load: PageLoad<T>;
  /** Where we are in the list; the pager moves it. */
  pages: CursorPages;
  /** Said while the first answer is awaited: "Loading {what}…". */
  what: string;
  /** The rows to show, when not all of the page's items (a filter applied here). */
  rows?: readonly T[];
  /**
   * Shown instead of the table when there are no rows. Left out (`undefined`), the table is
   * shown with its header only: a later page that emptied meanwhile is still a table.
   */
  empty?: ReactNode;
  /** Also show a failed reload above the rows still shown, not only when there are none. */
  staleError?: boolean;
  /** Show the pager even when everything fits on one page (a list that grows live). */
  alwaysPager?: boolean;
  /** The column headers, in order. */
  columns: readonly ReactNode[];
  caption?: ReactNode;
  /** The caption's class; captions are for screen readers unless said otherwise. */
  captionClassName?: string;
  className?: string;
  /** Wraps the table in a scrolling `div` of this class (wide tables). */
  scrollClassName?: string;
  /** `aria-busy` of the table while a newer page loads; left out, no attribute. */
  busy?: boolean;
  /** A stable React key of a row. */
  rowKey: (item: T) => string;
  /** One row: a `<tr>` (or a component rendering one). */
  row: (item: T) => ReactNode;
}

/** The table of one page of a cursor-paginated list, or why there is none, and the pager. */
export function PagedTable<T>(props: PagedTableProps<T>) {
  const { load, pages, what, empty, staleError = false, alwaysPager = false } = props;
  const { data, error, reload } = load;
  const rows = props.rows ?? data?.items ?? [];

  let body: ReactNode;
  if (error && !data) body = <ErrorState error={error} retry={reload} />;
  else if (!data) body = <Loading what={what} />;
  else if (rows.length === 0 && empty !== undefined) body = empty;
  else {
    const table = (
      <table className={props.className} aria-busy={props.busy}>
        {props.caption !== undefined ? (
          <caption className={props.captionClassName ?? "sr-only"}>{props.caption}</caption>
        ) : null}
        <thead>
          <tr>
            {props.columns.map((column, i) => (
              // The columns are fixed for a table: their position is their identity.
              <th key={i} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((item) => (
            <Fragment key={props.rowKey(item)}>{props.row(item)}</Fragment>
          ))}
        </tbody>
      </table>
    );
    body = props.scrollClassName ? <div className={props.scrollClassName}>{table}</div> : table;
  }

  return (
    <>
      {staleError && error && data ? <ErrorState error={error} retry={reload} /> : null}
      {body}
      {data && (alwaysPager || pages.page > 1 || data.next_cursor) ? (
        <Pager
          page={pages.page}
          hasNext={Boolean(data.next_cursor)}
          onFirst={pages.first}
          onNext={() => {
            pages.next(data.next_cursor);
          }}
        />
      ) : null}
    </>
  );
}

/** The header of a column of row buttons: named for screen readers, blank on screen. */
export const ACTIONS = <span className="sr-only">Actions</span>;
