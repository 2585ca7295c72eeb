/**
 * The run graph's layout: node positions from a workflow spec, computed by dagre (top to
 * bottom). Only the run view imports this, so dagre never weighs on the first screen.
 */
import dagre from "@dagrejs/dagre";

import type { Spec } from "../api/runs";

/** Size of a node box in the graph, in pixels. */
export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;

/** A laid-out node: its id, spec type and display name, and the top-left corner. */
export interface PlacedNode {
  id: string;
  type: string;
  label: string;
  x: number;
  y: number;
}

/** A laid-out edge between two nodes. */
export interface PlacedEdge {
  id: string;
  source: string;
  target: string;
  label?: string;
}

/** Positions for every node of `spec`; connections to unknown nodes are ignored. */
export function layoutSpec(spec: Spec): { nodes: PlacedNode[]; edges: PlacedEdge[] } {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 50, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set<string>();
  for (const node of spec.nodes) {
    ids.add(node.id);
    graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  const edges: PlacedEdge[] = [];
  for (const connection of spec.connections ?? []) {
    if (!ids.has(connection.from) || !ids.has(connection.to)) continue;
    graph.setEdge(connection.from, connection.to);
    edges.push({
      id: `${connection.from}->${connection.to}`,
      source: connection.from,
      target: connection.to,
      ...(connection.when ? { label: connection.when } : {}),
    });
  }
  dagre.layout(graph);
  const nodes = spec.nodes.map((node) => {
    const placed = graph.node(node.id);
    return {
      id: node.id,
      type: node.type,
      label: node.name ?? node.id,
      // dagre gives centres; React Flow wants top-left corners.
      x: placed.x - NODE_WIDTH / 2,
      y: placed.y - NODE_HEIGHT / 2,
    };
  });
  return { nodes, edges };
}
