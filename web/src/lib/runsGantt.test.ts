import { describe, expect, it } from "vitest";

import type { Step } from "../api/runs";
import { ganttLayout } from "./runsGantt";

function step(
  id: string,
  start: string | null,
  end: string | null,
  extra: Partial<Step> = {},
): Step {
  return {
    id,
    node_id: id,
    node_type: "core.noop",
    parent_id: null,
    map_index: null,
    state: end ? "succeeded" : start ? "running" : "pending",
    params: {},
    output: null,
    error: null,
    attempt_count: 1,
    attempts: [],
    queued_at: null,
    started_at: start,
    finished_at: end,
    duration_ms: null,
    ...extra,
  };
}

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();

describe("ganttLayout", () => {
  it("is empty when nothing started", () => {
    const layout = ganttLayout([step("a", null, null)], 0);
    expect(layout.bars).toEqual([]);
    expect(layout.unstarted.map((s) => s.id)).toEqual(["a"]);
  });

  it("places bars as fractions of the span, children after their parent", () => {
    const steps = [
      step("b", at(5), at(10)),
      step("a", at(0), at(5)),
      step("a[0]", at(1), at(2), { parent_id: "a", map_index: 0 }),
    ];
    const layout = ganttLayout(steps, Date.parse(at(20)));
    expect(layout.bars.map((b) => [b.step.id, b.depth])).toEqual([
      ["a", 0],
      ["a[0]", 1],
      ["b", 0],
    ]);
    const [a, child, b] = layout.bars;
    expect(a?.offset).toBe(0);
    expect(a?.width).toBeCloseTo(0.5);
    expect(child?.offset).toBeCloseTo(0.1);
    expect(b?.offset).toBeCloseTo(0.5);
    expect(b?.durationMs).toBe(5000);
  });

  it("extends running steps to now and keeps instant steps visible", () => {
    const layout = ganttLayout(
      [step("a", at(0), null), step("b", at(4), at(4))],
      Date.parse(at(10)),
    );
    const [a, b] = layout.bars;
    expect(a?.open).toBe(true);
    expect(a?.width).toBeCloseTo(1);
    expect(b?.width).toBeGreaterThan(0);
    expect(layout.endMs - layout.startMs).toBe(10_000);
  });
});
