import { describe, expect, it } from "vitest";

import type { Run, Step } from "../api/runs";
import {
  applyRunEvent,
  applyRunEvents,
  awaitsApproval,
  childrenOf,
  fromRun,
  parseSse,
  stepOfNode,
  streamedText,
  withStreamed,
} from "./runs";

function step(id: string, nodeId: string, extra: Partial<Step> = {}): Step {
  return {
    id,
    node_id: nodeId,
    node_type: "core.noop",
    parent_id: null,
    map_index: null,
    state: "pending",
    params: {},
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

function run(steps: Step[]): Run {
  return {
    id: "r1",
    workflow_id: "w1",
    workflow_name: "demo",
    version: 1,
    state: "queued",
    inputs: {},
    outputs: null,
    error: null,
    trigger: null,
    idempotency_key: null,
    created_at: "2026-01-01T00:00:00+00:00",
    started_at: null,
    finished_at: null,
    duration_ms: null,
    steps,
  };
}

const T0 = "2026-01-01T00:00:01+00:00";
const T1 = "2026-01-01T00:00:03+00:00";

describe("fromRun", () => {
  it("indexes nodes and groups children by map_index", () => {
    const state = fromRun(
      run([
        step("s1", "agent", { node_type: "generative.agent" }),
        step("c2", "agent[1]", { parent_id: "s1", map_index: 1 }),
        step("c1", "agent[0]", { parent_id: "s1", map_index: 0 }),
      ]),
    );
    expect(stepOfNode(state, "agent")?.id).toBe("s1");
    expect(stepOfNode(state, "agent[0]")).toBeUndefined();
    expect(childrenOf(state, "s1").map((s) => s.id)).toEqual(["c1", "c2"]);
    expect(state.run).not.toHaveProperty("steps");
  });
});

describe("applyRunEvent", () => {
  const base = fromRun(run([step("s1", "a"), step("s2", "b")]));

  it("moves a step through running to succeeded with its attempt", () => {
    const next = applyRunEvents(base, [
      { type: "step.queued", run_id: "r1", step_id: "s1", state: "queued", ts: T0 },
      {
        type: "step.running",
        run_id: "r1",
        step_id: "s1",
        state: "running",
        ts: T0,
        data: { attempt: 1, agent_id: "ag" },
      },
      {
        type: "step.succeeded",
        run_id: "r1",
        step_id: "s1",
        state: "succeeded",
        ts: T1,
        data: { attempt: 1 },
      },
    ]);
    const s1 = next.steps.s1;
    expect(s1?.state).toBe("succeeded");
    expect(s1?.started_at).toBe(T0);
    expect(s1?.finished_at).toBe(T1);
    expect(s1?.duration_ms).toBe(2000);
    expect(s1?.attempts).toEqual([
      expect.objectContaining({ number: 1, state: "succeeded", agent_id: "ag", duration_ms: 2000 }),
    ]);
    expect(next.outputPending.s1).toBe(true);
    // The input state is never mutated.
    expect(base.steps.s1?.state).toBe("pending");
  });

  it("records a retried attempt's error when the step is queued again", () => {
    let next = applyRunEvent(base, {
      type: "step.running",
      run_id: "r1",
      step_id: "s1",
      state: "running",
      ts: T0,
      data: { attempt: 1 },
    });
    next = applyRunEvent(next, {
      type: "step.queued",
      run_id: "r1",
      step_id: "s1",
      state: "queued",
      ts: T1,
      data: { attempt: 1, error: { code: "boom", message: "it broke" }, delay: 1 },
    });
    expect(next.steps.s1?.state).toBe("queued");
    expect(next.steps.s1?.attempts[0]).toMatchObject({ state: "failed", error: { code: "boom" } });
  });

  it("keeps the error of a failed step", () => {
    const next = applyRunEvent(base, {
      type: "step.failed",
      run_id: "r1",
      step_id: "s2",
      state: "failed",
      ts: T1,
      data: { error: { code: "x", message: "bad" } },
    });
    expect(next.steps.s2?.state).toBe("failed");
    expect(next.steps.s2?.error?.message).toBe("bad");
  });

  it("accumulates streamed text without changing the state", () => {
    const next = applyRunEvents(base, [
      {
        type: "step.progress",
        run_id: "r1",
        step_id: "s1",
        state: "running",
        data: { delta: "Hel" },
      },
      {
        type: "step.progress",
        run_id: "r1",
        step_id: "s1",
        state: "running",
        data: { delta: "lo" },
      },
    ]);
    expect(next.streamed.s1).toBe("Hello");
    expect(next.steps.s1).toBe(base.steps.s1);
  });

  it("counts log lines heard without changing the state, even after the step ended", () => {
    const done = applyRunEvent(base, {
      type: "step.succeeded",
      run_id: "r1",
      step_id: "s1",
      state: "succeeded",
      data: { attempt: 1 },
    });
    const next = applyRunEvents(done, [
      { type: "step.logs", run_id: "r1", step_id: "s1", state: "running", data: { lines: 3 } },
      { type: "step.logs", run_id: "r1", step_id: "s1", state: "succeeded", data: { lines: 2 } },
    ]);
    expect(next.logged.s1).toBe(5);
    expect(next.steps.s1).toBe(done.steps.s1);
    expect(next.steps.s1?.state).toBe("succeeded");
    expect(fromRun(run([step("s1", "a")]), next).logged.s1).toBe(5);
  });

  it("does not take the waiting state of a decided approval as a change", () => {
    const waiting = fromRun(
      run([step("s1", "ok", { node_type: "core.approval", state: "waiting" })]),
    );
    const approval = waiting.steps.s1;
    expect(approval && awaitsApproval(approval)).toBe(true);
    const next = applyRunEvent(waiting, {
      type: "step.decided",
      run_id: "r1",
      step_id: "s1",
      state: "waiting",
      data: { decision: "approved" },
    });
    expect(next.steps.s1?.state).toBe("waiting");
  });

  it("updates the run and marks it stale when it finishes (outputs need a refetch)", () => {
    const running = applyRunEvent(base, {
      type: "run.running",
      run_id: "r1",
      state: "running",
      ts: T0,
    });
    expect(running.run.state).toBe("running");
    expect(running.run.started_at).toBe(T0);
    expect(running.stale).toBe(false);
    const failed = applyRunEvent(running, {
      type: "run.failed",
      run_id: "r1",
      state: "failed",
      ts: T1,
      data: { error: { code: "step_failed", message: "step b failed: bad" } },
    });
    expect(failed.run.state).toBe("failed");
    expect(failed.run.finished_at).toBe(T1);
    expect(failed.run.duration_ms).toBe(3000);
    expect(failed.run.error?.code).toBe("step_failed");
    expect(failed.stale).toBe(true);
  });

  it("clears the finish of a retried run", () => {
    const done = fromRun({ ...run([]), state: "failed", finished_at: T1, duration_ms: 3000 });
    const next = applyRunEvent(done, {
      type: "run.running",
      run_id: "r1",
      state: "running",
      ts: T1,
      data: { retry: true },
    });
    expect(next.run.finished_at).toBeNull();
    expect(next.run.duration_ms).toBeNull();
  });

  it("asks for a refetch when a step it does not know appears (a new child)", () => {
    const next = applyRunEvent(base, {
      type: "step.queued",
      run_id: "r1",
      step_id: "new",
      state: "queued",
    });
    expect(next.stale).toBe(true);
  });

  it("ignores other runs, unknown types and repeated ids", () => {
    expect(applyRunEvent(base, { type: "step.running", run_id: "r2", step_id: "s1" })).toBe(base);
    expect(applyRunEvent(base, { type: "usage.budget_alert", run_id: "r1" })).toBe(base);
    const once = applyRunEvent(base, {
      type: "step.skipped",
      run_id: "r1",
      step_id: "s2",
      id: 7,
      state: "skipped",
    });
    expect(once.recentIds).toEqual([7]);
    expect(once.steps.s2?.state).toBe("skipped");
    // An older id arriving late (another transaction committed first) still applies.
    const late = applyRunEvent(once, {
      type: "step.queued",
      run_id: "r1",
      step_id: "s1",
      id: 5,
      state: "queued",
    });
    expect(late.steps.s1?.state).toBe("queued");
    const again = applyRunEvent(once, {
      type: "step.running",
      run_id: "r1",
      step_id: "s2",
      id: 7,
      state: "running",
    });
    expect(again).toBe(once);
  });

  it("keeps streamed text across a refetch of the same run", () => {
    const streamed = applyRunEvent(base, {
      type: "step.progress",
      run_id: "r1",
      step_id: "s1",
      data: { delta: "abc" },
    });
    expect(fromRun(run([step("s1", "a")]), streamed).streamed.s1).toBe("abc");
  });
});

describe("applyRunEvents", () => {
  it("gives what the events give one by one, and leaves the states it was given alone", () => {
    const base = fromRun(run([step("s1", "a"), step("s2", "b")]));
    const before = structuredClone(base);
    const events = [
      { type: "step.running", run_id: "r1", id: 1, step_id: "s1", state: "running", ts: T0 },
      { type: "step.running", run_id: "r1", id: 2, step_id: "s2", state: "running", ts: T0 },
      { type: "step.logs", run_id: "r1", id: 3, step_id: "s1", data: { lines: 2 } },
      { type: "step.progress", run_id: "r1", step_id: "s2", data: { delta: "hi" } },
      { type: "step.succeeded", run_id: "r1", id: 4, step_id: "s1", state: "succeeded", ts: T1 },
      { type: "step.failed", run_id: "r1", id: 5, step_id: "s2", state: "failed", ts: T1 },
      { type: "step.failed", run_id: "r1", id: 5, step_id: "s2", state: "failed", ts: T1 },
    ];
    const oneByOne = events.reduce(applyRunEvent, base);
    const middle = applyRunEvents(base, events.slice(0, 3));
    const middleCopy = structuredClone(middle);
    const batched = applyRunEvents(middle, events.slice(3));
    expect(batched).toEqual(oneByOne);
    expect(batched.recentIds).toEqual([1, 2, 3, 4, 5]);
    expect(base).toEqual(before);
    // A later batch copies what an earlier one made instead of changing it.
    expect(middle).toEqual(middleCopy);
  });
});

describe("the timeline's streamed text", () => {
  it("parses SSE frames, skipping comments and keeping a partial frame", () => {
    const text =
      'id: 1\nevent: step.progress\ndata: {"type":"step.progress","step_id":"s1","data":{"delta":"Hel"}}\n\n' +
      ": keep-alive\n\n" +
      'id: 2\nevent: step.progress\ndata: {"type":"step.progress","step_id":"s1","data":{"delta":"lo"}}\n\n' +
      "id: 3\nevent: step.succ";
    const { events, rest } = parseSse(text);
    expect(events.map((e) => e.data?.delta)).toEqual(["Hel", "lo"]);
    expect(rest).toBe("id: 3\nevent: step.succ");
    expect(streamedText(events)).toEqual({ s1: "Hello" });
  });

  it("keeps the longer of the live and the timeline's text", () => {
    const base = fromRun(run([step("s1", "a"), step("s2", "b")]));
    const live = applyRunEvent(base, {
      type: "step.progress",
      run_id: "r1",
      step_id: "s2",
      data: { delta: "all of it" },
    });
    const next = withStreamed(live, { s1: "from history", s2: "all" });
    expect(next.streamed).toEqual({ s1: "from history", s2: "all of it" });
  });
});
