import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { MemoryRouter } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { drainAgent, listAgents } from "../../api/agents";
import type { Agent } from "../../api/agents";
import { NoticeProvider } from "../../components/Notice";
import { normaliseAgent } from "../../lib/agents";
import type { LiveEvent } from "../../live/socket";
import Agents from "./Agents";

const live: { onEvent: (e: LiveEvent) => void; onResync: () => void } = {
  onEvent: () => undefined,
  onResync: () => undefined,
};
let permissions = new Set<string>();

vi.mock("../../api/agents", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/agents")>()),
  listAgents: vi.fn(),
  drainAgent: vi.fn(),
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

function agent(id: string, extra: Record<string, unknown> = {}): Agent {
  const a = normaliseAgent({
    id,
    name: `worker-${id}`,
    pool: "default",
    capabilities: ["http", "shell", "llm", "python", "sql"],
    concurrency: 8,
    running: 2,
    steps_done: 17,
    version: "0.9.1",
    host: `host-${id}`,
    pid: 100,
    state: "online",
    builtin: false,
    registered_at: new Date().toISOString(),
    last_heartbeat_at: new Date().toISOString(),
    ...extra,
  });
  if (!a) throw new Error("fixture");
  return a;
}

const listMock = vi.mocked(listAgents);
const drainMock = vi.mocked(drainAgent);

beforeAll(() => {
  // jsdom lacks the modal dialog API the confirm dialog uses.
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
  permissions = new Set(["agents:read", "agents:manage"]);
  listMock.mockReset();
  drainMock.mockReset();
});
afterEach(cleanup);

function renderBoard() {
  return render(
    <MemoryRouter initialEntries={["/agents"]}>
      <NoticeProvider>
        <Agents />
      </NoticeProvider>
    </MemoryRouter>,
  );
}

describe("Agents board", () => {
  it("lists agents with name, host, state, load and steps done", async () => {
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    renderBoard();
    const row = await screen.findByTestId("agent-a1");
    expect(within(row).getByText("worker-a1")).toBeTruthy();
    expect(within(row).getByText("host-a1")).toBeTruthy();
    expect(within(row).getByText("2 / 8")).toBeTruthy();
    expect(within(row).getByRole("meter", { name: "Load of worker-a1" })).toBeTruthy();
    expect(within(row).getByText("online")).toBeTruthy();
    expect(within(row).getByText("+2 more")).toBeTruthy();
    expect(within(row).getByText("17")).toBeTruthy();
  });

  it("has no axe violations", async () => {
    listMock.mockResolvedValue({
      items: [agent("a1"), agent("a2", { state: "lost" })],
      next_cursor: "c",
    });
    const { container } = renderBoard();
    await screen.findByTestId("agent-a1");
    // jsdom has no layout, so contrast is checked in the browser instead.
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(
      result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`),
    ).toEqual([]);
  });

  it("explains how to start an agent when there is none", async () => {
    listMock.mockResolvedValue({ items: [], next_cursor: null });
    renderBoard();
    expect(await screen.findByText(/qo agent --server/)).toBeTruthy();
  });

  it("applies live state changes and adds new agents without reloading", async () => {
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    renderBoard();
    await screen.findByTestId("agent-a1");
    act(() => {
      live.onEvent({ type: "agent.state", agent_id: "a1", state: "draining" });
      live.onEvent({
        type: "agent.registered",
        agent: { id: "a2", name: "fresh", pool: "gpu", host: "gpu-box", state: "online" },
      });
    });
    expect(within(screen.getByTestId("agent-a1")).getByText("draining")).toBeTruthy();
    expect(within(screen.getByTestId("agent-a2")).getByText("gpu-box")).toBeTruthy();
    expect(listMock).toHaveBeenCalledTimes(1);
  });

  it("refetches on resync", async () => {
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    renderBoard();
    await screen.findByTestId("agent-a1");
    act(() => {
      live.onResync();
    });
    await waitFor(() => {
      expect(listMock).toHaveBeenCalledTimes(2);
    });
  });

  it("drains an online agent after confirmation and says so", async () => {
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    drainMock.mockResolvedValue(agent("a1", { state: "draining" }));
    renderBoard();
    const row = await screen.findByTestId("agent-a1");
    fireEvent.click(within(row).getByRole("button", { name: "Drain" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByText(/Draining stops new work/)).toBeTruthy();
    fireEvent.click(within(dialog).getByRole("button", { name: "Drain" }));
    await waitFor(() => {
      expect(drainMock).toHaveBeenCalledWith("a1");
    });
    expect(await screen.findByText(/worker-a1 is draining/)).toBeTruthy();
    expect(within(screen.getByTestId("agent-a1")).getByText("draining")).toBeTruthy();
  });

  it("hides Drain from those who may not manage agents", async () => {
    permissions = new Set(["agents:read"]);
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    renderBoard();
    const row = await screen.findByTestId("agent-a1");
    expect(within(row).queryByRole("button", { name: "Drain" })).toBeNull();
    expect(screen.getByText(/You need the admin role to drain agents/)).toBeTruthy();
  });

  it("filters by state through the server", async () => {
    listMock.mockResolvedValue({ items: [agent("a1")], next_cursor: null });
    renderBoard();
    await screen.findByTestId("agent-a1");
    fireEvent.change(screen.getByLabelText("State"), { target: { value: "lost" } });
    await waitFor(() => {
      expect(listMock).toHaveBeenLastCalledWith({ cursor: null, state: "lost", pool: null });
    });
  });
});
