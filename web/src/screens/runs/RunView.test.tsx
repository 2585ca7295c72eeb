import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { fetchRunEvents } from "../../api/runEvents";
import { cancelRun, decideApproval, getRun, getVersion } from "../../api/runs";
import type { Run, Step, Version } from "../../api/runs";
import { NoticeProvider } from "../../components/Notice";
import type { LiveEvent } from "../../live/socket";
import RunView from "./RunView";

const live: { onEvent: (e: LiveEvent) => void; onResync: () => void } = {
  onEvent: () => undefined,
  onResync: () => undefined,
};
let permissions = new Set<string>();

vi.mock("../../api/runs", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/runs")>()),
  getRun: vi.fn(),
  getVersion: vi.fn(),
  cancelRun: vi.fn(),
  retryRun: vi.fn(),
  decideApproval: vi.fn(),
  getStepLogs: vi.fn(() => Promise.resolve({ items: [], next_cursor: null })),
}));
vi.mock("../../api/runEvents", () => ({ fetchRunEvents: vi.fn() }));
vi.mock("../../app/session", () => ({
  useSession: () => ({ can: (p: string) => permissions.has(p) }),
}));
vi.mock("../../live/LiveProvider", () => ({
  useLive: (onEvent: (e: LiveEvent) => void, onResync: () => void) => {
    live.onEvent = onEvent;
    live.onResync = onResync;
  },
}));

function step(id: string, nodeId: string, extra: Partial<Step> = {}): Step {
  return {
    id,
    node_id: nodeId,
    node_type: "core.noop",
    parent_id: null,
    map_index: null,
    state: "pending",
    params: { greeting: "hi" },
    output: null,
    error: null,
    attempt_count: 0,
    attempts: [],
    queued_at: null,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    ...extra,
  };
}

function run(steps: Step[], extra: Partial<Run> = {}): Run {
  return {
    id: "run-1",
    workflow_id: "wf-1",
    workflow_name: "demo",
    version: 3,
    state: "running",
    inputs: { n: 1 },
    outputs: null,
    error: null,
    trigger: null,
    idempotency_key: null,
    created_at: "2026-01-01T00:00:00+00:00",
    started_at: "2026-01-01T00:00:01+00:00",
    finished_at: null,
    duration_ms: null,
    steps,
    ...extra,
  };
}

const version: Version = {
  id: "v3",
  workflow_id: "wf-1",
  workflow_name: "demo",
  number: 3,
  created_at: null,
  spec: {
    name: "demo",
    nodes: [
      { id: "fetch", type: "specialized.http_request" },
      { id: "ok", type: "core.approval" },
      { id: "agent", type: "generative.agent" },
    ],
    connections: [
      { from: "fetch", to: "ok" },
      { from: "ok", to: "agent" },
    ],
  },
};

const getRunMock = vi.mocked(getRun);

beforeAll(() => {
  // jsdom lacks what React Flow measures with and the modal dialog API.
  if (!("ResizeObserver" in globalThis)) {
    Object.assign(globalThis, {
      ResizeObserver: class {
        observe() {
          return undefined;
        }
        unobserve() {
          return undefined;
        }
        disconnect() {
          return undefined;
        }
      },
    });
  }
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
  permissions = new Set(["runs:read", "runs:write"]);
  vi.mocked(getVersion).mockResolvedValue(version);
  getRunMock.mockReset();
  vi.mocked(cancelRun).mockReset();
  vi.mocked(decideApproval).mockReset();
});
afterEach(cleanup);

function renderRun(path = "/runs/run-1") {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <NoticeProvider>
        <Routes>
          <Route path="/runs/:runId" element={<RunView />} />
        </Routes>
      </NoticeProvider>
    </MemoryRouter>,
  );
}

describe("RunView", () => {
  it("draws each node with its state and updates it from live events", async () => {
    getRunMock.mockResolvedValue(
      run([step("s1", "fetch", { state: "running", started_at: "2026-01-01T00:00:01+00:00" })]),
    );
    renderRun();
    const fetchNode = await screen.findByTestId("step-fetch");
    expect(fetchNode.dataset.state).toBe("running");
    expect(fetchNode.textContent).toContain("running");
    // A node the run has no step for yet is pending.
    expect(screen.getByTestId("step-ok").dataset.state).toBe("pending");

    act(() => {
      live.onEvent({
        type: "step.succeeded",
        run_id: "run-1",
        step_id: "s1",
        node_id: "fetch",
        state: "succeeded",
        ts: "2026-01-01T00:00:02+00:00",
        data: { attempt: 1 },
      });
      // Another run's event changes nothing.
      live.onEvent({ type: "step.failed", run_id: "run-2", step_id: "s1", state: "failed" });
    });
    await waitFor(() => {
      expect(screen.getByTestId("step-fetch").dataset.state).toBe("succeeded");
    });
    expect(screen.getByTestId("step-fetch").textContent).toContain("succeeded");
  });

  it("cancels after confirmation", async () => {
    getRunMock.mockResolvedValue(run([]));
    vi.mocked(cancelRun).mockResolvedValue(run([], { state: "cancelled" }));
    renderRun();
    fireEvent.click(await screen.findByRole("button", { name: "Cancel run" }));
    expect(cancelRun).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Stop the run" }));
    await waitFor(() => {
      expect(cancelRun).toHaveBeenCalledWith("run-1");
    });
    expect(await screen.findByText("The run is cancelled.")).toBeTruthy();
  });

  it("offers retry only for a failed run, and nothing without runs:write", async () => {
    getRunMock.mockResolvedValue(run([], { state: "failed", finished_at: "2026-01-01T00:00:05Z" }));
    renderRun();
    expect(await screen.findByRole("button", { name: "Retry from failed" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel run" })).toBeNull();
    cleanup();
    permissions = new Set(["runs:read"]);
    renderRun();
    await screen.findByTestId("step-fetch");
    expect(screen.queryByRole("button", { name: "Retry from failed" })).toBeNull();
  });

  it("approves a waiting approval step with a comment from its panel", async () => {
    getRunMock.mockResolvedValue(
      run([step("s2", "ok", { node_type: "core.approval", state: "waiting" })], {
        state: "waiting",
      }),
    );
    vi.mocked(decideApproval).mockResolvedValue(undefined);
    renderRun("/runs/run-1?step=ok");
    const panel = await screen.findByRole("complementary", { name: "Step ok" });
    fireEvent.change(within(panel).getByLabelText(/Comment/), { target: { value: "fine" } });
    fireEvent.click(within(panel).getByRole("button", { name: "Approve" }));
    await waitFor(() => {
      expect(decideApproval).toHaveBeenCalledWith("run-1", "ok", "approve", "fine");
    });
    expect(within(panel).getByRole("button", { name: "Reject" })).toBeTruthy();
  });

  it("shows sub-steps and streamed text, and refetches for a child it does not know", async () => {
    const agentStep = step("s3", "agent", { node_type: "generative.agent", state: "running" });
    const turn = step("c0", "agent[0]", {
      node_type: "generative.llm_chat",
      parent_id: "s3",
      map_index: 0,
      state: "running",
    });
    getRunMock.mockResolvedValue(run([agentStep, turn]));
    renderRun("/runs/run-1?step=agent");
    const panel = await screen.findByRole("complementary", { name: "Step agent" });
    expect(within(panel).getByRole("button", { name: "agent[0]" })).toBeTruthy();
    expect((await screen.findByTestId("step-agent")).textContent).toContain("1 sub-steps");
    act(() => {
      live.onEvent({
        type: "step.progress",
        run_id: "run-1",
        step_id: "c0",
        state: "running",
        data: { delta: "Thinking" },
      });
    });
    expect(await within(panel).findByText("Thinking")).toBeTruthy();
    const calls = getRunMock.mock.calls.length;
    act(() => {
      live.onEvent({ type: "step.queued", run_id: "run-1", step_id: "c1", state: "queued" });
    });
    await waitFor(
      () => {
        expect(getRunMock.mock.calls.length).toBeGreaterThan(calls);
      },
      { timeout: 3000 },
    );
  });

  it("loads text streamed before the page opened from the run's timeline", async () => {
    const chat = step("s4", "ask", { node_type: "generative.llm_chat", state: "succeeded" });
    getRunMock.mockResolvedValue(run([chat]));
    vi.mocked(fetchRunEvents).mockResolvedValue([
      { type: "step.progress", run_id: "run-1", step_id: "s4", data: { delta: "Once upon " } },
      { type: "step.progress", run_id: "run-1", step_id: "s4", data: { delta: "a time" } },
    ]);
    renderRun("/runs/run-1?step=ask");
    const panel = await screen.findByRole("complementary", { name: "Step ask" });
    fireEvent.click(within(panel).getByRole("button", { name: "Load streamed text" }));
    expect(await within(panel).findByText("Once upon a time")).toBeTruthy();
    expect(fetchRunEvents).toHaveBeenCalledWith("run-1");
  });

  it("refetches on resync and shows load errors", async () => {
    getRunMock.mockRejectedValueOnce(new Error("no such run"));
    renderRun();
    expect(await screen.findByText("no such run")).toBeTruthy();
    getRunMock.mockResolvedValue(run([]));
    act(() => {
      live.onResync();
    });
    expect(await screen.findByTestId("step-fetch")).toBeTruthy();
  });
});

describe("RunView with a 500-node workflow", () => {
  it("applies a burst of live events in one batch and stays quick", async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `n${i}`);
    vi.mocked(getVersion).mockResolvedValue({
      ...version,
      spec: {
        name: "big",
        nodes: ids.map((id) => ({ id, type: "core.noop" })),
        connections: ids.slice(1).map((id, i) => ({ from: `n${i}`, to: id })),
      },
    });
    getRunMock.mockResolvedValue(run(ids.map((id) => step(`s-${id}`, id))));
    renderRun();
    await screen.findByTestId("step-n499", {}, { timeout: 10_000 });
    const started = performance.now();
    act(() => {
      for (const id of ids) {
        live.onEvent({
          type: "step.running",
          run_id: "run-1",
          step_id: `s-${id}`,
          state: "running",
        });
        live.onEvent({
          type: "step.succeeded",
          run_id: "run-1",
          step_id: `s-${id}`,
          state: "succeeded",
        });
      }
    });
    await waitFor(() => {
      expect(screen.getByTestId("step-n499").dataset.state).toBe("succeeded");
    });
    expect(screen.getByTestId("step-n0").dataset.state).toBe("succeeded");
    // 1000 events, one render: well under the seconds a render per event would take.
    expect(performance.now() - started).toBeLessThan(4000);
  }, 20_000);
});
