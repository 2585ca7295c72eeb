import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Page } from "../api/client";
import { useAsync } from "../lib/useAsync";
import { useCursorPages } from "../lib/useCursorPages";
import { EmptyState } from "./States";
import { ACTIONS, PagedTable } from "./PagedTable";
import type { PagedTableProps } from "./PagedTable";

interface Item {
  id: string;
  name: string;
}

afterEach(cleanup);

type Extra = Partial<Omit<PagedTableProps<Item>, "load" | "pages" | "rowKey" | "row">>;

/** A list screen in miniature: the real cursor and load hooks around the table. */
function Harness({
  load,
  extra = {},
}: {
  load: (cursor: string | null) => Promise<Page<Item>>;
  extra?: Extra;
}) {
  const pages = useCursorPages();
  const list = useAsync(() => load(pages.cursor), [pages.cursor]);
  return (
    <>
      <button type="button" onClick={list.reload}>
        reload
      </button>
      <PagedTable
        load={list}
        pages={pages}
        what="items"
        columns={["Name", ACTIONS]}
        caption="Items"
        className="my-table"
        rowKey={(item) => item.id}
        row={(item) => (
          <tr data-testid={`item-${item.id}`}>
            <td>{item.name}</td>
            <td />
          </tr>
        )}
        {...extra}
      />
    </>
  );
}

const pageOf = (names: string[], next: string | null): Page<Item> => ({
  items: names.map((name) => ({ id: name, name })),
  next_cursor: next,
});

describe("PagedTable", () => {
  it("says it is loading until the first answer, then shows the rows in a table", async () => {
    let answer: (page: Page<Item>) => void = () => undefined;
    render(
      <Harness
        load={() =>
          new Promise((resolve) => {
            answer = resolve;
          })
        }
      />,
    );
    expect(screen.getByRole("status").textContent).toBe("Loading items…");
    answer(pageOf(["a", "b"], null));
    const table = await screen.findByRole("table", { name: "Items" });
    expect(table.className).toBe("my-table");
    expect(
      within(table)
        .getAllByRole("columnheader")
        .map((h) => h.textContent),
    ).toEqual(["Name", "Actions"]);
    expect(within(table).getByTestId("item-a")).toBeTruthy();
    expect(within(table).getByTestId("item-b")).toBeTruthy();
    // Everything fits on one page: no pager.
    expect(screen.queryByRole("navigation", { name: "Pagination" })).toBeNull();
    expect(screen.queryByText(/Loading/)).toBeNull();
  });

  it("moves forward with the server's cursor and back to the first page", async () => {
    const load = vi.fn((cursor: string | null) =>
      Promise.resolve(cursor === "c2" ? pageOf(["c"], null) : pageOf(["a", "b"], "c2")),
    );
    render(<Harness load={load} />);
    await screen.findByTestId("item-a");
    const pager = screen.getByRole("navigation", { name: "Pagination" });
    expect(within(pager).getByText("Page 1")).toBeTruthy();
    expect(within(pager).getByRole<HTMLButtonElement>("button", { name: /First/ }).disabled).toBe(
      true,
    );
    fireEvent.click(within(pager).getByRole("button", { name: /Next/ }));
    await screen.findByTestId("item-c");
    expect(load).toHaveBeenLastCalledWith("c2");
    expect(screen.queryByTestId("item-a")).toBeNull();
    expect(screen.getByText("Page 2")).toBeTruthy();
    // The last page: Next is off, First is on.
    expect(screen.getByRole<HTMLButtonElement>("button", { name: /Next/ }).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /First/ }));
    await screen.findByTestId("item-a");
    expect(load).toHaveBeenLastCalledWith(null);
    expect(screen.getByText("Page 1")).toBeTruthy();
  });

  it("shows the empty state instead of a table when there are no rows", async () => {
    render(
      <Harness
        load={() => Promise.resolve(pageOf([], null))}
        extra={{ empty: <EmptyState title="Nothing here yet" /> }}
      />,
    );
    expect(await screen.findByText("Nothing here yet")).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("keeps the bare table when no empty state is given", async () => {
    render(<Harness load={() => Promise.resolve(pageOf([], null))} />);
    const table = await screen.findByRole("table", { name: "Items" });
    expect(within(table).queryAllByRole("row")).toHaveLength(1);
  });

  it("shows the caller's rows rather than the whole page, and an empty state when none pass", async () => {
    const { unmount } = render(
      <Harness
        load={() => Promise.resolve(pageOf(["a", "b"], null))}
        extra={{ rows: [{ id: "b", name: "b" }], empty: <EmptyState title="None match" /> }}
      />,
    );
    await screen.findByTestId("item-b");
    expect(screen.queryByTestId("item-a")).toBeNull();
    unmount();
    render(
      <Harness
        load={() => Promise.resolve(pageOf(["a"], null))}
        extra={{ rows: [], empty: <EmptyState title="None match" /> }}
      />,
    );
    expect(await screen.findByText("None match")).toBeTruthy();
  });

  it("shows a failed load with Try again, which loads again", async () => {
    const load = vi
      .fn<(cursor: string | null) => Promise<Page<Item>>>()
      .mockRejectedValueOnce(new Error("The server is down."))
      .mockResolvedValue(pageOf(["a"], null));
    render(<Harness load={load} />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The server is down.");
    expect(screen.queryByRole("table")).toBeNull();
    fireEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    await screen.findByTestId("item-a");
    expect(load).toHaveBeenCalledTimes(2);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("with staleError, shows a failed reload above the rows still shown", async () => {
    const load = vi
      .fn<(cursor: string | null) => Promise<Page<Item>>>()
      .mockResolvedValueOnce(pageOf(["a"], null))
      .mockRejectedValue(new Error("Lost the connection."));
    render(<Harness load={load} extra={{ staleError: true }} />);
    await screen.findByTestId("item-a");
    fireEvent.click(screen.getByRole("button", { name: "reload" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Lost the connection.");
    expect(screen.getByTestId("item-a")).toBeTruthy();
  });

  it("with alwaysPager, shows the pager on a single page", async () => {
    render(
      <Harness load={() => Promise.resolve(pageOf(["a"], null))} extra={{ alwaysPager: true }} />,
    );
    await screen.findByTestId("item-a");
    expect(screen.getByRole("navigation", { name: "Pagination" })).toBeTruthy();
  });

  it("wraps wide tables in a scrolling box and marks them busy when asked", async () => {
    const { container } = render(
      <Harness
        load={() => Promise.resolve(pageOf(["a"], null))}
        extra={{ scrollClassName: "scroller", busy: false, captionClassName: "visible-caption" }}
      />,
    );
    const table = await screen.findByRole("table");
    expect(table.parentElement?.className).toBe("scroller");
    expect(table.getAttribute("aria-busy")).toBe("false");
    expect(container.querySelector("caption")?.className).toBe("visible-caption");
  });
});
