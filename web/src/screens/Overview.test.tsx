import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { fetchOverview } from "../api/overview";
import type { Overview as OverviewData } from "../api/overview";
import type { LiveEvent } from "../live/socket";
import Overview from "./Overview";

const live: { onEvent: (e: LiveEvent) => void; onResync: () => void } = {
  onEvent: () => undefined,
  onResync: () => undefined,
};

vi.mock("../api/overview", () => ({ fetchOverview: vi.fn() }));
vi.mock("../live/LiveProvider", () => ({
  useLive: (onEvent: (e: LiveEvent) => void, onResync: () => void) => {
    live.onEvent = onEvent;
    live.onResync = onResync;
  },
}));

const STATES = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"];

function overview(extra: Partial<OverviewData> = {}): OverviewData {
  const zeros = Object.fromEntries(STATES.map((s) => [s, 0]));
  return {
    generated_at: "2026-01-02T00:00:00+00:00",
    workspace_id: "ws",
    window_hours: 24,
    since: "2026-01-01T00:00:00+00:00",
    agents: {
      online: 2,
      by_state: { online: 2, draining: 0, offline: 1, lost: 0 },
      online_by_category: { core: 1, specialized: 0, ml: 2, generative: 0, custom: 0 },
    },
    runs: {
      created: 0,
      by_state: zeros,
      finished: 0,
      finished_by_state: { succeeded: 0, failed: 0, cancelled: 0 },
      success_rate: null,
      duration: { p50_ms: null, p95_ms: null },
    },
    steps: { finished: 0, per_minute: 0, duration: { p50_ms: null, p95_ms: null } },
    queue_depth: 4,
    llm: { prompt_tokens: 1000, completion_tokens: 234, cost: 0.0125, calls: 3 },
    chart: Array.from({ length: 24 }, (_, i) => ({
      start: new Date(Date.UTC(2026, 0, 1, i)).toISOString(),
      runs: { ...zeros, ...(i === 5 ? { succeeded: 3, failed: 1 } : {}) },
      runs_total: i === 5 ? 4 : 0,
      steps_finished: 0,
    })),
    ...extra,
  };
}

const fetchMock = vi.mocked(fetchOverview);

beforeEach(() => {
  fetchMock.mockReset();
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function renderOverview() {
  return render(
    <MemoryRouter>
      <Overview />
    </MemoryRouter>,
  );
}

describe("Overview", () => {
  it("shows a dash, never an invented number, when nothing finished", async () => {
    fetchMock.mockResolvedValue(overview());
    renderOverview();
    const rate = (await screen.findByText("Success rate")).closest("div");
    expect(rate?.textContent).toContain("—");
    expect(rate?.textContent).toContain("no finished runs yet");
    expect(screen.getByText("Step duration").closest("div")?.textContent).toContain("—");
    expect(screen.getByText("Queue depth").closest("div")?.textContent).toContain("4");
    expect(screen.getByText("LLM tokens").closest("div")?.textContent).toContain("1,234");
  });

  it("summarises the chart for assistive technology", async () => {
    fetchMock.mockResolvedValue(overview());
    renderOverview();
    const chart = await screen.findByRole("img");
    expect(chart.getAttribute("aria-label")).toMatch(
      /^4 runs created in the last 24 hours \(3 succeeded, 1 failed\)/,
    );
    expect(screen.getByRole("table", { name: "Runs created per hour, by state" })).toBeTruthy();
  });

  it("shows the success rate and percentiles when runs finished", async () => {
    fetchMock.mockResolvedValue(
      overview({
        runs: {
          created: 4,
          by_state: { succeeded: 3, failed: 1 },
          finished: 4,
          finished_by_state: { succeeded: 3, failed: 1, cancelled: 0 },
          success_rate: 0.75,
          duration: { p50_ms: 1500, p95_ms: 90_000 },
        },
      }),
    );
    renderOverview();
    expect((await screen.findByText("75.0 %")).textContent).toBe("75.0 %");
    expect(screen.getByText("Run duration").closest("div")?.textContent).toContain(
      "1.50 s / 1 min 30 s",
    );
  });

  it("refreshes at most once a second on bursts of live events, and on resync", async () => {
    fetchMock.mockResolvedValue(overview());
    renderOverview();
    await screen.findByText("Success rate");
    expect(fetchMock).toHaveBeenCalledTimes(1);
    vi.useFakeTimers();
    // Streamed text, log lines and heartbeats change no figure.
    act(() => {
      live.onEvent({ type: "step.progress", run_id: "r" });
      live.onEvent({ type: "step.logs", run_id: "r" });
      live.onEvent({ type: "agent.heartbeat", agent_id: "a" });
      vi.advanceTimersByTime(1100);
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    act(() => {
      for (let i = 0; i < 20; i += 1) live.onEvent({ type: "step.succeeded", run_id: "r" });
      live.onEvent({ type: "step.progress", run_id: "r" });
      live.onEvent({ type: "agent.heartbeat", agent_id: "a" });
    });
    act(() => {
      vi.advanceTimersByTime(1100);
    });
    vi.useRealTimers();
    await waitFor(() => {
      expect(fetchMock).toHaveBeenCalledTimes(2);
    });
    act(() => {
      live.onResync();
    });
    await waitFor(() => {
      expect(fetchMock).toHaveBeenCalledTimes(3);
    });
  });

  it("explains a failed load and offers to try again", async () => {
    fetchMock.mockRejectedValue(new Error("The server answered 503."));
    renderOverview();
    expect(await screen.findByText("The server answered 503.")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
