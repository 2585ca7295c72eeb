/**
 * The edits the builder makes to a spec, as pure functions returning a new spec. Keeping them
 * pure means undo/redo is just a list of snapshots and every edit can be tested on its own.
 */
import type { XYPosition } from "@xyflow/react";

import { writePosition } from "./spec";
import type { SpecConnection, SpecNode, WorkflowSpec } from "./spec";

/** The node id rule of the server (`domain/spec.py` `ID_PATTERN`). */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;
/** The workflow name rule of the server (`NAME_PATTERN`). */
export const WORKFLOW_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** An empty spec for a new workflow (the author names it and adds nodes). */
export function emptySpec(): WorkflowSpec {
  return { name: "", description: "", inputs: {}, nodes: [], connections: [] };
}

/** A fresh id for a node of `type`: its last segment, numbered when taken (`http_request_2`). */
export function uniqueNodeId(spec: WorkflowSpec, type: string): string {
  const last = type.split(".").pop() ?? "node";
  const base = NODE_ID_PATTERN.test(last) ? last : "node";
  const taken = new Set(spec.nodes.map((n) => n.id));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}_${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** A new node of `type` at `position`; returns the spec and the node's id. */
export function addNode(
  spec: WorkflowSpec,
  type: string,
  position: XYPosition,
): { spec: WorkflowSpec; id: string } {
  const id = uniqueNodeId(spec, type);
  const node: SpecNode = {
    id,
    type,
    params: {},
    position: { x: Math.round(position.x), y: Math.round(position.y) },
  };
  return { spec: { ...spec, nodes: [...spec.nodes, node] }, id };
}

/** Why `next` cannot be the new id of node `current`, or `null` when it can. */
export function nodeIdProblem(spec: WorkflowSpec, current: string, next: string): string | null {
  if (next === current) return null;
  if (!next) return "An id is required.";
  if (!NODE_ID_PATTERN.test(next)) {
    return "Use a letter or _ first, then letters, digits, _ or - (at most 100).";
  }
  if (spec.nodes.some((n) => n.id === next)) return `Another node is already called ${next}.`;
  return null;
}

/**
 * Rename a node and the connections that name it. Templates in params (`nodes.old.output`) are
 * not rewritten: validation points out any that still use the old id.
 */
export function renameNode(spec: WorkflowSpec, current: string, next: string): WorkflowSpec {
  if (current === next) return spec;
  return {
    ...spec,
    nodes: spec.nodes.map((n) => (n.id === current ? { ...n, id: next } : n)),
    connections: spec.connections?.map((c) => ({
      ...c,
      from: c.from === current ? next : c.from,
      to: c.to === current ? next : c.to,
    })),
  };
}

/** Replace fields of node `id`; a field set to `undefined` is removed. */
export function updateNode(
  spec: WorkflowSpec,
  id: string,
  patch: Partial<Omit<SpecNode, "id">>,
): WorkflowSpec {
  return {
    ...spec,
    nodes: spec.nodes.map((n) => {
      if (n.id !== id) return n;
      const next: SpecNode = { ...n };
      for (const [key, value] of Object.entries(patch)) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- clearing an optional field
        if (value === undefined) delete next[key];
        else next[key] = value;
      }
      return next;
    }),
  };
}

/** Move nodes to new positions (a drag, arrow keys). */
export function moveNodes(spec: WorkflowSpec, moves: Record<string, XYPosition>): WorkflowSpec {
  return {
    ...spec,
    nodes: spec.nodes.map((n) => {
      const at = moves[n.id];
      return at ? { ...n, position: writePosition(n.position, at) } : n;
    }),
  };
}

/** Remove nodes (and every connection touching them) and connections by index. */
export function removeElements(
  spec: WorkflowSpec,
  nodeIds: readonly string[],
  connectionIndexes: readonly number[] = [],
): WorkflowSpec {
  const gone = new Set(nodeIds);
  const dropped = new Set(connectionIndexes);
  const connections = spec.connections?.filter(
    (c, i) => !dropped.has(i) && !gone.has(c.from) && !gone.has(c.to),
  );
  return { ...spec, nodes: spec.nodes.filter((n) => !gone.has(n.id)), connections };
}

/** Why `from` → `to` cannot be added, or `null`. */
export function connectionProblem(spec: WorkflowSpec, from: string, to: string): string | null {
  if (from === to) return "A node cannot connect to itself.";
  if ((spec.connections ?? []).some((c) => c.from === from && c.to === to)) {
    return `${from} is already connected to ${to}.`;
  }
  return null;
}

/** Add `from` → `to` (no-op when `connectionProblem` objects). */
export function addConnection(spec: WorkflowSpec, from: string, to: string): WorkflowSpec {
  if (connectionProblem(spec, from, to)) return spec;
  const connection: SpecConnection = { from, to };
  return { ...spec, connections: [...(spec.connections ?? []), connection] };
}

/** Set or clear (`""`) the `when` of connection `index`. */
export function setConnectionWhen(spec: WorkflowSpec, index: number, when: string): WorkflowSpec {
  return {
    ...spec,
    connections: (spec.connections ?? []).map((c, i) => {
      if (i !== index) return c;
      const next: SpecConnection = { ...c };
      if (when === "") delete next.when;
      else next.when = when;
      return next;
    }),
  };
}
