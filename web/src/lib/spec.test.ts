import { describe, expect, it } from "vitest";

import {
  autoLayout,
  edgeIds,
  graphToSpec,
  readPosition,
  specToGraph,
  withPositions,
  writePosition,
} from "./spec";
import type { WorkflowSpec } from "./spec";

const full: WorkflowSpec = {
  name: "etl",
  description: "Fetch and store",
  inputs: { type: "object", properties: { url: { type: "string" } } },
  nodes: [
    {
      id: "fetch",
      type: "specialized.http_request",
      name: "Fetch",
      params: { url: "{{ inputs.url }}", custom_extra: { deep: [1, 2] } },
      retry: { max_attempts: 5, backoff: 3 },
      timeout: 12.5,
      pool: "gpu",
      position: { x: 10, y: 20, zoom_hint: "keep" },
    },
    {
      id: "pick",
      type: "core.branch",
      trigger_rule: "all_done",
      params: {},
      position: [100, 200],
    },
    {
      id: "store",
      type: "core.transform",
      params: { expression: "x" },
      position: { x: 0, y: 400 },
    },
  ],
  connections: [
    { from: "fetch", to: "pick" },
    { from: "pick", to: "store", when: "yes" },
  ],
  outputs: { result: "{{ nodes.store.output }}" },
  defaults: { timeout: 30 },
};

describe("positions", () => {
  it("reads objects and arrays", () => {
    expect(readPosition({ x: 1, y: 2, z: 3 })).toEqual({ x: 1, y: 2 });
    expect(readPosition([4, 5])).toEqual({ x: 4, y: 5 });
    expect(readPosition({ x: 1 })).toEqual({ x: 1, y: 0 });
    expect(readPosition(undefined)).toBeUndefined();
    expect(readPosition(["a", 1])).toBeUndefined();
  });

  it("writes in the original shape, keeping extra keys", () => {
    const original = { x: 1, y: 2, extra: true };
    expect(writePosition(original, { x: 1, y: 2 })).toBe(original);
    expect(writePosition(original, { x: 3, y: 4 })).toEqual({ x: 3, y: 4, extra: true });
    expect(writePosition([1, 2, 9], { x: 5, y: 6 })).toEqual([5, 6, 9]);
    expect(writePosition(undefined, { x: 5, y: 6 })).toEqual({ x: 5, y: 6 });
  });
});

describe("specToGraph / graphToSpec", () => {
  it("round-trips every field unchanged", () => {
    const { nodes, edges } = specToGraph(full);
    expect(graphToSpec(full, nodes, edges)).toEqual(full);
  });

  it("draws nodes at their positions with their id and whole spec node", () => {
    const { nodes } = specToGraph(full);
    expect(nodes.map((n) => n.id)).toEqual(["fetch", "pick", "store"]);
    expect(nodes[0]?.position).toEqual({ x: 10, y: 20 });
    expect(nodes[1]?.position).toEqual({ x: 100, y: 200 });
    expect(nodes[0]?.type).toBe("qo");
    expect(nodes[0]?.data.node.retry).toEqual({ max_attempts: 5, backoff: 3 });
  });

  it("turns connections into edges labelled with `when`", () => {
    const { edges } = specToGraph(full);
    expect(edges.map((e) => [e.id, e.source, e.target, e.label])).toEqual([
      ["fetch->pick", "fetch", "pick", undefined],
      ["pick->store", "pick", "store", "yes"],
    ]);
  });

  it("writes moved positions and edited labels back", () => {
    const { nodes, edges } = specToGraph(full);
    const moved = nodes.map((n) => (n.id === "pick" ? { ...n, position: { x: 7, y: 8 } } : n));
    const relabelled = edges.map((e) => (e.id === "pick->store" ? { ...e, label: "" } : e));
    const spec = graphToSpec(full, moved, relabelled);
    expect(spec.nodes[1]?.position).toEqual([7, 8]);
    expect(spec.connections?.[1]).toEqual({ from: "pick", to: "store" });
    expect(spec.nodes[0]).toEqual(full.nodes[0]);
  });

  it("lays out nodes without a position top to bottom", () => {
    const bare: WorkflowSpec = {
      name: "w",
      nodes: [
        { id: "a", type: "core.noop" },
        { id: "b", type: "core.noop" },
        { id: "c", type: "core.noop" },
      ],
      connections: [
        { from: "a", to: "b" },
        { from: "b", to: "c" },
      ],
    };
    const { nodes, edges } = specToGraph(bare);
    const [a, b, c] = nodes.map((n) => n.position);
    expect(a && b && c && a.y < b.y && b.y < c.y).toBe(true);
    const back = graphToSpec(bare, nodes, edges);
    // Only positions were added; every other field is as it was.
    expect(
      back.nodes.map((n) => {
        const rest = { ...n };
        delete rest.position;
        return rest;
      }),
    ).toEqual(bare.nodes);
    expect(back.nodes.every((n) => readPosition(n.position) !== undefined)).toBe(true);
  });

  it("keeps a spec without connections without them", () => {
    const spec: WorkflowSpec = {
      name: "w",
      nodes: [{ id: "a", type: "core.noop", position: [0, 0] }],
    };
    const { nodes, edges } = specToGraph(spec);
    expect(graphToSpec(spec, nodes, edges)).toEqual(spec);
  });

  it("gives repeated pairs distinct edge ids", () => {
    expect(
      edgeIds([
        { from: "a", to: "b" },
        { from: "a", to: "b" },
      ]),
    ).toEqual(["a->b", "a->b#2"]);
  });
});

describe("layout", () => {
  it("places only the nodes that have no position, below the placed ones", () => {
    const spec: WorkflowSpec = {
      name: "w",
      nodes: [
        { id: "a", type: "core.noop", position: { x: 0, y: 500 } },
        { id: "b", type: "core.noop" },
      ],
    };
    const placed = withPositions(spec);
    expect(placed.nodes[0]).toBe(spec.nodes[0]);
    expect(readPosition(placed.nodes[1]?.position)?.y).toBeGreaterThan(500);
    expect(withPositions(placed)).toBe(placed);
  });

  it("auto-layout re-places every node and keeps the other fields", () => {
    const laid = autoLayout(full);
    const ys = laid.nodes.map((n) => readPosition(n.position)?.y ?? Number.NaN);
    expect(ys[0]).toBeLessThan(ys[1] ?? 0);
    expect(ys[1]).toBeLessThan(ys[2] ?? 0);
    expect(laid.nodes[0]?.params).toEqual(full.nodes[0]?.params);
    expect((laid.nodes[0]?.position as Record<string, unknown>).zoom_hint).toBe("keep");
    expect(Array.isArray(laid.nodes[1]?.position)).toBe(true);
  });
});
