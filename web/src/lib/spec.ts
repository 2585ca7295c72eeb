/**
 * A workflow spec ⇄ the React Flow graph the builder draws. The spec stays the source of truth:
 * every graph node carries its whole spec node (retry, timeout, pool, unknown params…) and every
 * edge its whole connection, so converting back loses nothing but what the user changed.
 */
import dagre from "@dagrejs/dagre";
import type { Edge, Node, XYPosition } from "@xyflow/react";

/** One node of a spec (docs/workflow-spec.md#nodes); unknown fields are kept as they are. */
export interface SpecNode {
  id: string;
  type: string;
  name?: string;
  params?: Record<string, unknown>;
  retry?: Record<string, unknown>;
  timeout?: number;
  trigger_rule?: string;
  pool?: string;
  /** `{x, y, ...}` or `[x, y]`: only editors read it. */
  position?: unknown;
  [extra: string]: unknown;
}

/** One connection (`from` → `to`, optionally `when`). */
export interface SpecConnection {
  from: string;
  to: string;
  when?: string;
  [extra: string]: unknown;
}

/** A whole spec as the builder edits it. */
export interface WorkflowSpec {
  name: string;
  description?: string;
  inputs?: Record<string, unknown>;
  nodes: SpecNode[];
  connections?: SpecConnection[];
  outputs?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** What a drawn node carries: its spec node and the problems found in it. */
// A type, not an interface: React Flow requires data assignable to Record<string, unknown>.
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions
export type QoNodeData = {
  node: SpecNode;
  problems?: string[];
};

/** What a drawn edge carries: its connection and the problems found in it. */
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions
export type QoEdgeData = {
  connection: SpecConnection;
  problems?: string[];
};

/** A node as React Flow draws it. */
export type QoNode = Node<QoNodeData, "qo">;
/** An edge as React Flow draws it. */
export type QoEdge = Edge<QoEdgeData>;

/** The size auto-layout reserves for a node (the node card's CSS uses the same width). */
export const NODE_WIDTH = 220;
/** The height auto-layout reserves for a node. */
export const NODE_HEIGHT = 72;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `{x, y}` a spec position means, or `undefined` when the node has none (or a broken one). */
export function readPosition(position: unknown): XYPosition | undefined {
  if (Array.isArray(position)) {
    const [x, y] = position as unknown[];
    return typeof x === "number" && typeof y === "number" ? { x, y } : undefined;
  }
  if (isRecord(position)) {
    // The server fills a missing coordinate with 0.
    const x = typeof position.x === "number" ? position.x : 0;
    const y = typeof position.y === "number" ? position.y : 0;
    return { x, y };
  }
  return undefined;
}

/**
 * The spec position for `at`, in the form the node already used: the original value when it
 * did not move, the same array or object shape (with its extra keys) when it did.
 */
export function writePosition(original: unknown, at: XYPosition): unknown {
  const before = readPosition(original);
  if (before?.x === at.x && before.y === at.y) return original;
  if (Array.isArray(original)) return [at.x, at.y, ...(original as unknown[]).slice(2)];
  if (isRecord(original)) return { ...original, x: at.x, y: at.y };
  return { x: at.x, y: at.y };
}

/** The edge id of a connection: `from->to`, made unique if a (broken) spec repeats a pair. */
export function edgeIds(connections: readonly SpecConnection[]): string[] {
  const seen = new Map<string, number>();
  return connections.map((c) => {
    const base = `${c.from}->${c.to}`;
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    return count === 0 ? base : `${base}#${count + 1}`;
  });
}

/**
 * Top-to-bottom dagre positions (top-left corners) for `ids`; connections to unknown ids are
 * ignored so a half-edited spec can still be laid out.
 */
export function layoutPositions(
  ids: readonly string[],
  connections: readonly SpecConnection[],
): Record<string, XYPosition> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 60, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(ids);
  for (const id of ids) graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const c of connections) {
    if (known.has(c.from) && known.has(c.to) && c.from !== c.to) graph.setEdge(c.from, c.to);
  }
  dagre.layout(graph);
  const out: Record<string, XYPosition> = {};
  for (const id of ids) {
    const { x, y } = graph.node(id);
    // dagre gives centres; React Flow wants top-left corners.
    out[id] = { x: Math.round(x - NODE_WIDTH / 2), y: Math.round(y - NODE_HEIGHT / 2) };
  }
  return out;
}

/**
 * The spec with a position on every node: nodes that have none are laid out by dagre, placed
 * below the ones the author already placed so they never land on top of them.
 */
export function withPositions(spec: WorkflowSpec): WorkflowSpec {
  const missing = spec.nodes.filter((n) => readPosition(n.position) === undefined);
  if (missing.length === 0) return spec;
  const placed = spec.nodes.map((n) => readPosition(n.position)).filter((p) => p !== undefined);
  const offsetY = placed.length ? Math.max(...placed.map((p) => p.y)) + NODE_HEIGHT + 60 : 0;
  const laid = layoutPositions(
    missing.map((n) => n.id),
    spec.connections ?? [],
  );
  return {
    ...spec,
    nodes: spec.nodes.map((n) => {
      const at = laid[n.id];
      if (readPosition(n.position) !== undefined || !at) return n;
      return { ...n, position: writePosition(n.position, { x: at.x, y: at.y + offsetY }) };
    }),
  };
}

/** Every node re-placed by dagre, top to bottom (the "Auto-layout" button). */
export function autoLayout(spec: WorkflowSpec): WorkflowSpec {
  const laid = layoutPositions(
    spec.nodes.map((n) => n.id),
    spec.connections ?? [],
  );
  return {
    ...spec,
    nodes: spec.nodes.map((n) => {
      const at = laid[n.id];
      return at ? { ...n, position: writePosition(n.position, at) } : n;
    }),
  };
}

/** The React Flow nodes and edges of a spec; nodes without a position are laid out by dagre. */
export function specToGraph(spec: WorkflowSpec): { nodes: QoNode[]; edges: QoEdge[] } {
  const connections = spec.connections ?? [];
  const missing = spec.nodes.filter((n) => readPosition(n.position) === undefined);
  const laid = missing.length
    ? layoutPositions(
        missing.map((n) => n.id),
        connections,
      )
    : {};
  const nodes: QoNode[] = spec.nodes.map((node) => ({
    id: node.id,
    type: "qo",
    position: readPosition(node.position) ?? laid[node.id] ?? { x: 0, y: 0 },
    data: { node },
  }));
  const ids = edgeIds(connections);
  const edges: QoEdge[] = connections.map((connection, i) => ({
    id: ids[i] ?? `${connection.from}->${connection.to}`,
    source: connection.from,
    target: connection.to,
    label: connection.when,
    data: { connection },
  }));
  return { nodes, edges };
}

/**
 * The spec a graph stands for: `base`'s other fields, each node's spec node at its drawn
 * position, and each edge's connection between its drawn endpoints (`label` is `when`).
 */
export function graphToSpec(
  base: WorkflowSpec,
  nodes: readonly QoNode[],
  edges: readonly QoEdge[],
): WorkflowSpec {
  const specNodes = nodes.map((n) => {
    const node: SpecNode = { ...n.data.node, id: n.id };
    const position = writePosition(n.data.node.position, n.position);
    return { ...node, position };
  });
  const connections = edges.map((e) => {
    const connection: SpecConnection = { ...e.data?.connection, from: e.source, to: e.target };
    if (typeof e.label === "string" && e.label !== "") connection.when = e.label;
    else delete connection.when;
    return connection;
  });
  const spec: WorkflowSpec = { ...base, nodes: specNodes };
  // Keep "no connections" in the form the author wrote it (absent or an empty list).
  if (connections.length > 0 || base.connections !== undefined) spec.connections = connections;
  return spec;
}
