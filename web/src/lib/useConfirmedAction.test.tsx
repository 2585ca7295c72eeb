import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { ConfirmDialog } from "../components/Confirm";
import { NoticeProvider } from "../components/Notice";
import { useConfirmedAction } from "./useConfirmedAction";
import type { ConfirmedActionOptions } from "./useConfirmedAction";

interface Thing {
  id: string;
  name: string;
}

const THINGS: Thing[] = [
  { id: "t1", name: "first" },
  { id: "t2", name: "second" },
];

type Options = Partial<ConfirmedActionOptions<Thing, string>>;

let call: ReturnType<typeof vi.fn<(thing: Thing) => Promise<string>>>;
let reload: ReturnType<typeof vi.fn<() => void>>;
let onDone: ReturnType<typeof vi.fn<(thing: Thing, result: string) => void>>;

/** A list screen in miniature: a Delete button per row, one dialog, notices. */
function Screen({ options = {} }: { options?: Options }) {
  const del = useConfirmedAction<Thing, string>({
    run: call,
    done: (thing, result) => `${thing.name} deleted (${result}).`,
    failed: (thing, why) => `Could not delete ${thing.name}: ${why}`,
    onDone,
    reload,
    ...options,
  });
  return (
    <>
      {THINGS.map((thing) => (
        <div key={thing.id} data-testid={thing.id}>
          <button
            type="button"
            disabled={del.busy?.id === thing.id}
            onClick={() => {
              del.ask(thing);
            }}
          >
            Delete
          </button>
          <button type="button" onClick={() => void del.run(thing)}>
            Delete now
          </button>
        </div>
      ))}
      <ConfirmDialog
        {...del.dialog}
        title={`Delete ${del.asked?.name ?? "thing"}?`}
        confirmLabel="Delete"
        danger
      />
    </>
  );
}

function renderScreen(options?: Options) {
  return render(
    <NoticeProvider>
      <Screen options={options} />
    </NoticeProvider>,
  );
}

const notices = () => screen.getByRole("status").textContent;

function deferred() {
  let resolve: (value: string) => void = () => undefined;
  let reject: (reason: unknown) => void = () => undefined;
  const promise = new Promise<string>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

beforeAll(() => {
  // jsdom lacks the modal dialog API.
  Object.assign(HTMLDialogElement.prototype, {
    showModal(this: HTMLDialogElement) {
      this.open = true;
    },
    close(this: HTMLDialogElement) {
      this.open = false;
    },
  });
});

beforeEach(() => {
  call = vi.fn<(thing: Thing) => Promise<string>>();
  reload = vi.fn<() => void>();
  onDone = vi.fn<(thing: Thing, result: string) => void>();
});
afterEach(cleanup);

function openFor(id: string) {
  fireEvent.click(within(screen.getByTestId(id)).getByRole("button", { name: "Delete" }));
  return screen.getByRole("dialog");
}

describe("useConfirmedAction", () => {
  it("asks first, then calls, says so, and reloads", async () => {
    const answer = deferred();
    call.mockReturnValue(answer.promise);
    renderScreen();
    expect(screen.queryByRole("dialog")).toBeNull();
    const dialog = openFor("t2");
    expect(dialog.getAttribute("open")).not.toBeNull();
    expect(within(dialog).getByRole("heading").textContent).toBe("Delete second?");
    expect(call).not.toHaveBeenCalled();

    fireEvent.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(call).toHaveBeenCalledWith(THINGS[1]);
    expect(screen.queryByRole("dialog")).toBeNull();
    // Only the subject's own button waits for the answer.
    const row = within(screen.getByTestId("t2")).getByRole<HTMLButtonElement>("button", {
      name: "Delete",
    });
    expect(row.disabled).toBe(true);
    expect(
      within(screen.getByTestId("t1")).getByRole<HTMLButtonElement>("button", { name: "Delete" })
        .disabled,
    ).toBe(false);
    expect(reload).not.toHaveBeenCalled();

    await act(async () => {
      answer.resolve("gone");
      await answer.promise;
    });
    expect(notices()).toContain("second deleted (gone).");
    expect(onDone).toHaveBeenCalledWith(THINGS[1], "gone");
    expect(reload).toHaveBeenCalledTimes(1);
    expect(row.disabled).toBe(false);
  });

  it("runs nothing when cancelled", () => {
    renderScreen();
    const dialog = openFor("t1");
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(call).not.toHaveBeenCalled();
    expect(reload).not.toHaveBeenCalled();
    expect(notices()).toBe("");
  });

  it("runs nothing when the dialog is dismissed with Escape (the native cancel event)", () => {
    renderScreen();
    const dialog = openFor("t1");
    fireEvent(dialog, new Event("cancel"));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(call).not.toHaveBeenCalled();
  });

  it("shows a failure with the server's explanation and still reloads", async () => {
    call.mockRejectedValue(new Error("It is in use."));
    renderScreen();
    fireEvent.click(within(openFor("t1")).getByRole("button", { name: "Delete" }));
    await waitFor(() => {
      expect(notices()).toContain("Could not delete first: It is in use.");
    });
    expect(screen.getByText(/Could not delete first/).closest(".notice")?.className).toContain(
      "notice-error",
    );
    expect(onDone).not.toHaveBeenCalled();
    expect(reload).toHaveBeenCalledTimes(1);
    expect(
      within(screen.getByTestId("t1")).getByRole<HTMLButtonElement>("button", { name: "Delete" })
        .disabled,
    ).toBe(false);
  });

  it("reloads only after a failure when told so", async () => {
    call.mockResolvedValue("ok");
    renderScreen({ reloadAfter: "failure" });
    fireEvent.click(within(openFor("t1")).getByRole("button", { name: "Delete" }));
    await waitFor(() => {
      expect(notices()).toContain("first deleted (ok).");
    });
    expect(reload).not.toHaveBeenCalled();
    call.mockRejectedValue("refused");
    fireEvent.click(within(openFor("t1")).getByRole("button", { name: "Delete" }));
    await waitFor(() => {
      expect(notices()).toContain("Could not delete first: refused");
    });
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it("reloads only after success when told so", async () => {
    call.mockRejectedValue(new Error("no"));
    renderScreen({ reloadAfter: "success" });
    fireEvent.click(within(openFor("t1")).getByRole("button", { name: "Delete" }));
    await waitFor(() => {
      expect(notices()).toContain("Could not delete first: no");
    });
    expect(reload).not.toHaveBeenCalled();
  });

  it("keeps the dialog open and runs nothing while not ready", () => {
    renderScreen({ ready: () => false });
    const dialog = openFor("t1");
    fireEvent.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(screen.getByRole("dialog")).toBe(dialog);
    expect(call).not.toHaveBeenCalled();
  });

  it("runs at once what was confirmed elsewhere", async () => {
    call.mockResolvedValue("direct");
    renderScreen();
    fireEvent.click(within(screen.getByTestId("t1")).getByRole("button", { name: "Delete now" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    await waitFor(() => {
      expect(notices()).toContain("first deleted (direct).");
    });
    expect(call).toHaveBeenCalledWith(THINGS[0]);
    expect(reload).toHaveBeenCalledTimes(1);
  });
});
