import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { getStepLogs } from "../../api/runs";
import type { StepLogLine } from "../../api/runs";
import { StepLogs } from "./StepLogs";

vi.mock("../../api/runs", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/runs")>()),
  getStepLogs: vi.fn(),
}));

const logs = vi.mocked(getStepLogs);

function line(id: number, message: string, level: StepLogLine["level"] = "info"): StepLogLine {
  return { id, attempt: 1, at: "2026-12-06T06:00:00+00:00", level, message };
}

afterEach(() => {
  cleanup();
  vi.resetAllMocks();
});

describe("StepLogs", () => {
  it("shows each line with its level written out", async () => {
    logs.mockResolvedValue({
      items: [line(1, "calling the API"), line(2, "slow answer", "warning")],
      next_cursor: null,
    });
    render(<StepLogs runId="r1" nodeId="fetch" revision="succeeded:1" />);
    const list = await screen.findByRole("list", { name: "Log lines" });
    expect(list.textContent).toContain("INFO");
    expect(list.textContent).toContain("calling the API");
    expect(list.textContent).toContain("WARNING");
    expect(screen.getByRole("heading", { name: "Logs (2)" })).toBeTruthy();
    expect(logs).toHaveBeenCalledWith("r1", "fetch", null);
    expect(screen.queryByRole("button", { name: "Show more lines" })).toBeNull();
  });

  it("says how lines arrive when there are none", async () => {
    logs.mockResolvedValue({ items: [], next_cursor: null });
    render(<StepLogs runId="r1" nodeId="n" revision="running:1" />);
    expect(await screen.findByText(/No log lines/)).toBeTruthy();
  });

  it("reads the next page on demand and keeps the first", async () => {
    logs
      .mockResolvedValueOnce({ items: [line(1, "first")], next_cursor: "c1" })
      .mockResolvedValueOnce({ items: [line(2, "second")], next_cursor: null });
    render(<StepLogs runId="r1" nodeId="n" revision="succeeded:1" />);
    fireEvent.click(await screen.findByRole("button", { name: "Show more lines" }));
    await waitFor(() => {
      expect(screen.getByRole("list", { name: "Log lines" }).textContent).toContain("second");
    });
    expect(screen.getByRole("list", { name: "Log lines" }).textContent).toContain("first");
    expect(logs).toHaveBeenLastCalledWith("r1", "n", "c1");
    expect(screen.queryByRole("button", { name: "Show more lines" })).toBeNull();
  });

  it("reads again when the step changes, and shows a failure", async () => {
    logs.mockResolvedValueOnce({ items: [], next_cursor: null });
    const { rerender } = render(<StepLogs runId="r1" nodeId="n" revision="running:1" />);
    await screen.findByText(/No log lines/);
    logs.mockRejectedValueOnce(new Error("the server is down"));
    rerender(<StepLogs runId="r1" nodeId="n" revision="failed:1" />);
    expect((await screen.findByRole("alert")).textContent).toContain("the server is down");
    expect(logs).toHaveBeenCalledTimes(2);
  });
});
