import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "../../api/client";
import { getVersion, listRuns, listWorkflows, startRun } from "../../api/runs";
import type { Run } from "../../api/runs";
import type { LiveEvent } from "../../live/socket";
import RunsList from "./RunsList";
import { inputsPointer, splitErrors } from "./StartRun";

const live: { onEvent: (e: LiveEvent) => void; onResync: () => void } = {
  onEvent: () => undefined,
  onResync: () => undefined,
};
let permissions = new Set<string>();

vi.mock("../../api/runs", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/runs")>()),
  listRuns: vi.fn(),
  listWorkflows: vi.fn(),
  getVersion: vi.fn(),
  startRun: vi.fn(),
}));
vi.mock("../../app/session", () => ({
  useSession: () => ({ can: (p: string) => permissions.has(p) }),
}));
vi.mock("../../live/LiveProvider", () => ({
  useLive: (onEvent: (e: LiveEvent) => void, onResync: () => void) => {
    live.onEvent = onEvent;
    live.onResync = onResync;
  },
}));

function run(id: string, extra: Partial<Run> = {}): Run {
  return {
    id,
    workflow_id: "wf",
    workflow_name: "nightly",
    version: 2,
    state: "succeeded",
    inputs: {},
    outputs: null,
    error: null,
    trigger: null,
    idempotency_key: null,
    created_at: "2026-01-01T10:00:00+00:00",
    started_at: "2026-01-01T10:00:00+00:00",
    finished_at: "2026-01-01T10:00:02+00:00",
    duration_ms: 2000,
    ...extra,
  };
}

const listMock = vi.mocked(listRuns);

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function renderList(path = "/runs") {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/runs" element={<RunsList />} />
        <Route path="/runs/:runId" element={<p>run page</p>} />
      </Routes>
      <Where />
    </MemoryRouter>,
  );
}

beforeEach(() => {
  permissions = new Set(["runs:read", "runs:write"]);
  listMock.mockReset();
  vi.mocked(startRun).mockReset();
  vi.mocked(listWorkflows).mockResolvedValue({
    items: [
      {
        id: "wf",
        name: "nightly",
        description: "",
        latest_version: 2,
        nodes: 3,
        created_at: null,
        updated_at: null,
      },
      {
        id: "wf2",
        name: "draft-only",
        description: "",
        latest_version: null,
        nodes: 1,
        created_at: null,
        updated_at: null,
      },
    ],
    next_cursor: null,
  });
  vi.mocked(getVersion).mockResolvedValue({
    id: "v2",
    workflow_id: "wf",
    workflow_name: "nightly",
    number: 2,
    created_at: null,
    spec: {
      name: "nightly",
      inputs: { type: "object", properties: { n: { type: "integer" } } },
      nodes: [],
    },
  });
});
afterEach(cleanup);

describe("RunsList", () => {
  it("lists runs with links, states and durations", async () => {
    listMock.mockResolvedValue({
      items: [run("r1"), run("r2", { state: "running", duration_ms: null })],
      next_cursor: "c2",
    });
    renderList();
    const link = await screen.findByRole("link", { name: "r1" });
    expect(link.getAttribute("href")).toBe("/runs/r1");
    const row = screen.getByTestId("run-r2");
    expect(within(row).getByText("running")).toBeTruthy();
    expect(within(row).getByText("not finished")).toBeTruthy();
    expect(screen.getByRole("button", { name: /Next/ })).toHaveProperty("disabled", false);
  });

  it("puts the filters in the URL, with times converted to ISO with a zone", async () => {
    listMock.mockResolvedValue({ items: [], next_cursor: null });
    renderList();
    expect(await screen.findByText("No runs yet")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Workflow"), { target: { value: "nightly" } });
    fireEvent.change(screen.getByLabelText("State"), { target: { value: "failed" } });
    fireEvent.change(screen.getByLabelText("Created after"), {
      target: { value: "2026-01-01T10:30" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Apply filters" }));
    const expected = new Date("2026-01-01T10:30").toISOString();
    await waitFor(() => {
      expect(listMock).toHaveBeenLastCalledWith(
        { workflow: "nightly", state: "failed", created_after: expected },
        null,
        25,
      );
    });
    const where = new URLSearchParams(screen.getByTestId("where").textContent.split("?")[1]);
    expect(where.get("created_after")).toBe(expected);
    expect(await screen.findByText("No run matches these filters")).toBeTruthy();
  });

  it("refetches the page on run events, coalesced", async () => {
    listMock.mockResolvedValue({ items: [run("r1")], next_cursor: null });
    renderList("/runs?state=running");
    await screen.findByRole("link", { name: "r1" });
    expect(listMock).toHaveBeenCalledWith({ state: "running" }, null, 25);
    const before = listMock.mock.calls.length;
    listMock.mockResolvedValue({ items: [run("r9"), run("r1")], next_cursor: null });
    act(() => {
      live.onEvent({ type: "run.queued", run_id: "r9" });
      live.onEvent({ type: "run.running", run_id: "r9" });
      live.onEvent({ type: "step.running", run_id: "r9" });
    });
    expect(await screen.findByRole("link", { name: "r9" }, { timeout: 3000 })).toBeTruthy();
    expect(listMock.mock.calls.length).toBe(before + 1);
  });

  it("starts a run from the form and opens it", async () => {
    listMock.mockResolvedValue({ items: [], next_cursor: null });
    vi.mocked(startRun).mockResolvedValue(run("new-run"));
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Start run" }));
    const select = await screen.findByRole("combobox", { name: "Workflow" });
    // Only deployed workflows can be started.
    expect(within(select).queryByText(/draft-only/)).toBeNull();
    fireEvent.change(select, { target: { value: "nightly" } });
    await waitFor(() => {
      expect(getVersion).toHaveBeenCalledWith("wf", 2);
    });
    const submit = await screen.findByRole("button", { name: "Start run" });
    await waitFor(() => {
      expect(submit).toHaveProperty("disabled", false);
    });
    fireEvent.click(submit);
    await waitFor(() => {
      expect(screen.getByTestId("where").textContent).toBe("/runs/new-run");
    });
    expect(startRun).toHaveBeenCalledWith("wf", {}, 2);
  });

  it("shows the server's 422 explanation inline", async () => {
    listMock.mockResolvedValue({ items: [], next_cursor: null });
    vi.mocked(startRun).mockRejectedValue(
      new ApiError(422, "the inputs are invalid: inputs.n: required", "inputs_invalid", {
        errors: [{ path: "inputs.n", message: "required" }],
      }),
    );
    renderList("/runs?start=nightly");
    const submit = await screen.findByRole("button", { name: "Start run" });
    await waitFor(() => {
      expect(submit).toHaveProperty("disabled", false);
    });
    fireEvent.click(submit);
    expect((await screen.findByRole("alert")).textContent).toContain("inputs.n: required");
  });

  it("hides the start entry point without runs:write", async () => {
    permissions = new Set(["runs:read"]);
    listMock.mockResolvedValue({ items: [], next_cursor: null });
    renderList();
    await screen.findByText("No runs yet");
    expect(screen.queryByRole("button", { name: "Start run" })).toBeNull();
  });
});

describe("StartRun errors", () => {
  it("maps server paths to the form's pointers", () => {
    expect(inputsPointer("inputs")).toBe("");
    expect(inputsPointer("inputs.headers.x")).toBe("/headers/x");
    expect(inputsPointer("inputs.items[2].name")).toBe("/items/2/name");
    expect(inputsPointer("version")).toBeNull();
    expect(
      splitErrors({
        errors: [
          { path: "inputs.a", message: "required" },
          { path: "inputs.a", message: "too short" },
          { path: "version", message: "bad" },
        ],
      }),
    ).toEqual({ fields: { "/a": "required; too short" }, other: ["version: bad"] });
  });
});
