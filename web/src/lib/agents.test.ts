import { describe, expect, it } from "vitest";

import {
  agentEventId,
  applyAgentEvent,
  canDrain,
  loadText,
  matchesFilter,
  needsRefetch,
  normaliseAgent,
  poolsOf,
  shouldRefetch,
} from "./agents";
import type { Agent } from "./agents";
import { relativeTime } from "./agentsTime";

function agent(id: string, extra: Partial<Agent> = {}): Agent {
  const base = normaliseAgent({
    id,
    name: `agent-${id}`,
    pool: "default",
    capabilities: ["http", "shell"],
    concurrency: 8,
    running: 2,
    steps_done: 10,
    version: "1.0.0",
    host: "box",
    pid: 42,
    state: "online",
    builtin: false,
    registered_at: "2026-12-06T01:00:00+00:00",
    last_heartbeat_at: "2026-12-06T02:00:00+00:00",
  });
  if (!base) throw new Error("fixture");
  return { ...base, ...extra };
}

describe("normaliseAgent", () => {
  it("reads the server's agent and keeps unknown numbers null", () => {
    const a = normaliseAgent({ id: "a1", name: "n", pool: "p", capabilities: ["x"] });
    expect(a?.capabilities).toEqual([{ name: "x", category: null }]);
    expect(a?.running).toBeNull();
    expect(a?.concurrency).toBeNull();
    expect(loadText(a ?? agent("z"))).toBe("— / —");
  });

  it("accepts capabilities with categories", () => {
    const a = normaliseAgent({ id: "a1", capabilities: [{ name: "llm", category: "ai" }, 3] });
    expect(a?.capabilities).toEqual([{ name: "llm", category: "ai" }]);
  });

  it("rejects what has no id", () => {
    expect(normaliseAgent({ name: "x" })).toBeNull();
    expect(normaliseAgent("x")).toBeNull();
  });
});

describe("applyAgentEvent", () => {
  const list = [agent("b"), agent("a")];

  it("ignores other events and returns the same array", () => {
    expect(applyAgentEvent(list, { type: "run.running", run_id: "r" })).toBe(list);
  });

  it("changes an agent's state", () => {
    const next = applyAgentEvent(list, { type: "agent.state", agent_id: "a", state: "draining" });
    expect(next[1]?.state).toBe("draining");
    expect(next[0]).toBe(list[0]);
    expect(list[1]?.state).toBe("online");
  });

  it("updates load and heartbeat, dating it by ts when the event has no own time", () => {
    const next = applyAgentEvent(list, {
      type: "agent.heartbeat",
      agent_id: "b",
      ts: "2026-12-06T02:05:00+00:00",
      data: { running: 5 },
    });
    expect(next[0]?.running).toBe(5);
    expect(next[0]?.last_heartbeat_at).toBe("2026-12-06T02:05:00+00:00");
    expect(loadText(next[0] ?? agent("z"))).toBe("5 / 8");
  });

  it("never takes the event's own id for the agent's", () => {
    const event = { type: "agent.state", id: "evt-1", agent_id: "a", state: "lost" };
    expect(agentEventId(event)).toBe("a");
    expect(applyAgentEvent(list, event)[1]?.id).toBe("a");
  });

  it("adds an agent from the server's agent.registered event", () => {
    const next = applyAgentEvent(list, {
      id: null,
      type: "agent.registered",
      workspace_id: "ws",
      run_id: null,
      step_id: null,
      node_id: null,
      agent_id: "n1",
      state: "online",
      ts: "2026-12-06T02:10:00+00:00",
      data: {
        agent_id: "n1",
        name: "gpu-1",
        pool: "gpu",
        capabilities: ["llm.chat"],
        category: "ai",
        concurrency: 4,
        host: "gpu-box",
        version: "1.2.0",
        builtin: false,
      },
    });
    const added = next[0];
    expect(added?.id).toBe("n1");
    expect(added?.state).toBe("online");
    expect(added?.host).toBe("gpu-box");
    expect(added?.categories).toEqual(["ai"]);
    expect(added?.last_heartbeat_at).toBe("2026-12-06T02:10:00+00:00");
    expect(added ? loadText(added) : "").toBe("0 / 4");
  });

  it("takes the server's heartbeat and lost events", () => {
    const beat = applyAgentEvent(list, {
      id: null,
      type: "agent.heartbeat",
      agent_id: "a",
      state: "online",
      ts: "2026-12-06T02:11:00+00:00",
      data: { agent_id: "a", name: "agent-a", pool: "default", running: 7, concurrency: 8 },
    });
    expect(beat[1]?.running).toBe(7);
    expect(beat[1]?.last_heartbeat_at).toBe("2026-12-06T02:11:00+00:00");
    const lost = applyAgentEvent(beat, {
      id: null,
      type: "agent.lost",
      agent_id: "a",
      state: "lost",
      ts: "2026-12-06T02:12:00+00:00",
      data: { agent_id: "a", name: "agent-a", pool: "default" },
    });
    expect(lost[1]?.state).toBe("lost");
    expect(lost[1]?.last_heartbeat_at).toBe("2026-12-06T02:11:00+00:00");
  });

  it("adds a newly registered agent at the top", () => {
    const next = applyAgentEvent(list, {
      type: "agent.registered",
      agent: { id: "c", name: "new", pool: "gpu", capabilities: ["llm"], state: "online" },
    });
    expect(next.map((a) => a.id)).toEqual(["c", "b", "a"]);
    expect(next[0]?.pool).toBe("gpu");
  });

  it("does not add agents when told not to (a later page)", () => {
    const event = { type: "agent.registered", agent: { id: "c", name: "new", pool: "gpu" } };
    expect(applyAgentEvent(list, event, { insertNew: false })).toBe(list);
  });

  it("cannot add a partial unknown agent, and says a refetch is needed", () => {
    const event = { type: "agent.heartbeat", agent_id: "zz", running: 1 };
    expect(applyAgentEvent(list, event)).toBe(list);
    expect(needsRefetch(list, event)).toBe(true);
    expect(needsRefetch(list, { type: "agent.heartbeat", agent_id: "a" })).toBe(false);
  });

  it("removes an agent on agent.removed", () => {
    expect(
      applyAgentEvent(list, { type: "agent.removed", agent_id: "a" }).map((a) => a.id),
    ).toEqual(["b"]);
  });
});

describe("filters and helpers", () => {
  it("matches state and pool", () => {
    const a = agent("a", { pool: "gpu", state: "draining" });
    expect(matchesFilter(a, { state: null, pool: null })).toBe(true);
    expect(matchesFilter(a, { state: "online", pool: null })).toBe(false);
    expect(matchesFilter(a, { state: "draining", pool: "gpu" })).toBe(true);
    expect(matchesFilter(a, { state: null, pool: "cpu" })).toBe(false);
  });

  it("lists pools once, sorted, keeping the chosen one", () => {
    expect(
      poolsOf([agent("a", { pool: "z" }), agent("b", { pool: "a" }), agent("c")], "q"),
    ).toEqual(["a", "default", "q", "z"]);
  });

  it("drains only online agents", () => {
    expect(canDrain(agent("a"))).toBe(true);
    expect(canDrain(agent("a", { state: "draining" }))).toBe(false);
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2026-12-06T02:00:00Z");
  it("says how long ago", () => {
    expect(relativeTime("2026-12-06T01:59:58Z", now)).toBe("just now");
    expect(relativeTime("2026-12-06T01:59:18Z", now)).toBe("42 s ago");
    expect(relativeTime("2026-12-06T01:57:00Z", now)).toBe("3 min ago");
    expect(relativeTime("2026-12-05T21:00:00Z", now)).toBe("5 h ago");
    expect(relativeTime("2026-12-04T01:00:00Z", now)).toBe("2 d ago");
    expect(relativeTime("2026-12-06T02:10:00Z", now)).toBe("in 10 min");
    expect(relativeTime(null, now)).toBe("—");
    expect(relativeTime("nonsense", now)).toBe("—");
  });
});

describe("shouldRefetch", () => {
  const list = [agent("a")];
  const any = { state: null, pool: null };
  const beat = { type: "agent.heartbeat", agent_id: "zz" };
  const change = { type: "agent.online", agent_id: "zz" };
  it("refetches the first page for an unknown agent's change", () => {
    expect(shouldRefetch(list, change, { firstPage: true, complete: false, filter: any })).toBe(
      true,
    );
    expect(shouldRefetch(list, change, { firstPage: false, complete: false, filter: any })).toBe(
      false,
    );
  });
  it("ignores unknown heartbeats unless the page holds every agent", () => {
    expect(shouldRefetch(list, beat, { firstPage: true, complete: false, filter: any })).toBe(
      false,
    );
    expect(shouldRefetch(list, beat, { firstPage: true, complete: true, filter: any })).toBe(true);
  });
  it("never refetches for a known agent", () => {
    const known = { type: "agent.online", agent_id: "a" };
    expect(shouldRefetch(list, known, { firstPage: true, complete: true, filter: any })).toBe(
      false,
    );
  });
});

describe("events of agents on other pages", () => {
  const list = [agent("a")];
  const beat = {
    type: "agent.heartbeat",
    agent_id: "far",
    state: "online",
    data: { agent_id: "far", name: "far-away", pool: "default", running: 1, concurrency: 2 },
  };
  it("does not add a half-known agent from its heartbeat", () => {
    expect(applyAgentEvent(list, beat)).toBe(list);
  });
  it("does not refetch for an agent the filter hides", () => {
    const position = { firstPage: true, complete: true, filter: { state: "lost", pool: null } };
    expect(shouldRefetch(list, beat, position)).toBe(false);
    const other = { firstPage: true, complete: true, filter: { state: null, pool: "gpu" } };
    expect(shouldRefetch(list, beat, other)).toBe(false);
    const shown = { firstPage: true, complete: true, filter: { state: "online", pool: null } };
    expect(shouldRefetch(list, beat, shown)).toBe(true);
  });
});
