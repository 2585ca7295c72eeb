import { describe, expect, it } from "vitest";

import type { WorkflowSpec } from "./spec";
import {
  addConnection,
  addNode,
  connectionProblem,
  moveNodes,
  nodeIdProblem,
  removeElements,
  renameNode,
  setConnectionWhen,
  uniqueNodeId,
  updateNode,
} from "./specEdit";
import { currentErrors, dottedToPointer, locateErrors, paramErrors } from "./specErrors";
import { initialHistory, isDirty, specHistoryReducer } from "./specHistory";
import { parseSpecText, specToYaml } from "./specIo";

const base: WorkflowSpec = {
  name: "w",
  nodes: [
    { id: "a", type: "core.transform", params: {}, position: { x: 0, y: 0 } },
    { id: "b", type: "core.noop", timeout: 3 },
  ],
  connections: [{ from: "a", to: "b", when: "{{ output }}" }],
};

describe("spec edits", () => {
  it("adds nodes with unique ids from the type", () => {
    expect(uniqueNodeId(base, "core.transform")).toBe("transform");
    const first = addNode(base, "core.transform", { x: 1.4, y: 2.6 });
    expect(first.id).toBe("transform");
    expect(first.spec.nodes[2]).toEqual({
      id: "transform",
      type: "core.transform",
      params: {},
      position: { x: 1, y: 3 },
    });
    expect(addNode(first.spec, "core.transform", { x: 0, y: 0 }).id).toBe("transform_2");
  });

  it("renames a node and its connections, refusing bad or taken ids", () => {
    expect(nodeIdProblem(base, "a", "b")).toMatch(/already/);
    expect(nodeIdProblem(base, "a", "9x")).toMatch(/letter/);
    expect(nodeIdProblem(base, "a", "")).toMatch(/required/);
    expect(nodeIdProblem(base, "a", "fetch-1")).toBeNull();
    const renamed = renameNode(base, "a", "fetch");
    expect(renamed.nodes[0]?.id).toBe("fetch");
    expect(renamed.connections).toEqual([{ from: "fetch", to: "b", when: "{{ output }}" }]);
  });

  it("updates and clears node fields", () => {
    const next = updateNode(base, "b", { timeout: undefined, pool: "gpu", name: "B" });
    expect(next.nodes[1]).toEqual({ id: "b", type: "core.noop", pool: "gpu", name: "B" });
    expect(base.nodes[1]?.timeout).toBe(3);
  });

  it("moves, removes and connects", () => {
    expect(moveNodes(base, { a: { x: 5, y: 6 } }).nodes[0]?.position).toEqual({ x: 5, y: 6 });
    const gone = removeElements(base, ["a"]);
    expect(gone.nodes.map((n) => n.id)).toEqual(["b"]);
    expect(gone.connections).toEqual([]);
    expect(removeElements(base, [], [0]).connections).toEqual([]);
    expect(connectionProblem(base, "a", "a")).toMatch(/itself/);
    expect(connectionProblem(base, "a", "b")).toMatch(/already/);
    expect(addConnection(base, "a", "b")).toBe(base);
    expect(addConnection(base, "b", "a").connections?.[1]).toEqual({ from: "b", to: "a" });
  });

  it("sets and clears `when`", () => {
    expect(setConnectionWhen(base, 0, "yes").connections?.[0]?.when).toBe("yes");
    expect(setConnectionWhen(base, 0, "").connections?.[0]).toEqual({ from: "a", to: "b" });
  });
});

describe("locateErrors", () => {
  it("puts errors on the node, the edge or the workflow", () => {
    const located = locateErrors(base, [
      { path: "nodes[0].params.headers.x", message: "required" },
      { path: "nodes[1]", message: "bad node" },
      { path: "connections[0].when", message: "bad template" },
      { path: "name", message: "required" },
      { path: "nodes[9].id", message: "unknown index" },
    ]);
    expect(located.byNode.a?.[0]).toMatchObject({
      field: "params.headers.x",
      paramPointer: "/headers/x",
    });
    expect(located.byNode.b?.[0]?.field).toBe("");
    expect(located.byEdge["a->b"]?.[0]?.field).toBe("when");
    expect(located.list[3]?.nodeId).toBeUndefined();
    expect(located.list[4]?.nodeId).toBeUndefined();
    expect(paramErrors(located.byNode.a)).toEqual({ "/headers/x": "required" });
  });

  it("drops the markers of nodes edited since the check, not of moved ones", () => {
    const located = locateErrors(base, [
      { path: "nodes[0].params", message: "bad" },
      { path: "nodes[1].timeout", message: "bad" },
    ]);
    const moved = moveNodes(base, { a: { x: 9, y: 9 } });
    expect(currentErrors(located, base, moved)).toBe(located);
    const edited = updateNode(moved, "b", { timeout: 4 });
    const now = currentErrors(located, base, edited);
    expect(Object.keys(now.byNode)).toEqual(["a"]);
    expect(now.list).toHaveLength(1);
  });

  it("converts dotted paths to pointers", () => {
    expect(dottedToPointer(".items[2].name")).toBe("/items/2/name");
    expect(dottedToPointer("")).toBe("");
  });
});

describe("history", () => {
  it("undoes, redoes, coalesces and tracks unsaved changes", () => {
    let h = initialHistory(base, true);
    expect(isDirty(h)).toBe(false);
    const one = { ...base, name: "x" };
    const two = { ...base, name: "xy" };
    h = specHistoryReducer(h, { type: "edit", spec: one, coalesce: "name" });
    h = specHistoryReducer(h, { type: "edit", spec: two, coalesce: "name" });
    expect(h.past).toHaveLength(1);
    expect(isDirty(h)).toBe(true);
    h = specHistoryReducer(h, { type: "undo" });
    expect(h.present).toBe(base);
    expect(isDirty(h)).toBe(false);
    h = specHistoryReducer(h, { type: "redo" });
    expect(h.present).toBe(two);
    h = specHistoryReducer(h, { type: "saved", spec: two });
    expect(isDirty(h)).toBe(false);
    expect(specHistoryReducer(h, { type: "redo" })).toBe(h);
  });

  it("starts unsaved for a new workflow", () => {
    expect(isDirty(initialHistory(base, false))).toBe(true);
  });
});

describe("spec files", () => {
  it("round-trips through YAML", () => {
    expect(parseSpecText(specToYaml(base))).toEqual(base);
  });

  it("reads JSON and explains what is wrong", () => {
    expect(parseSpecText('{"name": "j", "nodes": []}')).toEqual({
      name: "j",
      nodes: [],
      connections: [],
    });
    expect(() => parseSpecText("- 1")).toThrow(/workflow spec/);
    expect(() => parseSpecText("nodes: [{id: a}]")).toThrow(/nodes\[0\]/);
    expect(() => parseSpecText("a: [")).toThrow(/Not valid/);
  });
});
