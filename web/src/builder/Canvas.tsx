/**
 * The React Flow canvas. It draws the spec (the single source of truth) and turns every gesture
 * (drag, connect, delete, select, drop from the palette) into a spec edit for the history.
 */
import { Background, Controls, MarkerType, ReactFlow, useReactFlow } from "@xyflow/react";
import type { Connection, EdgeChange, NodeChange, XYPosition } from "@xyflow/react";
import { useMemo, useRef, useState } from "react";
import type { DragEvent } from "react";

import { edgeIds, specToGraph } from "../lib/spec";
import type { QoEdge, QoNode, WorkflowSpec } from "../lib/spec";
import { addConnection, connectionProblem, moveNodes, removeElements } from "../lib/specEdit";
import { errorText } from "../lib/specErrors";
import type { LocatedErrors } from "../lib/specErrors";
import { NodeCard } from "./NodeCard";
import { NODE_TYPE_MIME } from "./Palette";

/** What is selected in the builder. */
export type Selection = { kind: "node"; id: string } | { kind: "edge"; id: string } | null;

/** Props of `Canvas`. */
export interface CanvasProps {
  spec: WorkflowSpec;
  selection: Selection;
  located: LocatedErrors;
  editable: boolean;
  onEdit: (spec: WorkflowSpec, coalesce?: string) => void;
  onSelect: (selection: Selection) => void;
  onDropType: (type: string, position: XYPosition) => void;
  onProblem: (message: string) => void;
}

const nodeTypes = { qo: NodeCard };

interface Size {
  width: number;
  height: number;
}

/** The workflow canvas (inside a `ReactFlowProvider`). */
export function Canvas(props: CanvasProps) {
  const { spec, selection, located, editable, onEdit, onSelect } = props;
  const { screenToFlowPosition } = useReactFlow();
  // React Flow measures nodes once; the sizes must travel with the nodes we rebuild from the spec.
  const [measured, setMeasured] = useState<Record<string, Size>>({});
  const dragSeq = useRef(0);

  const graph = useMemo(() => specToGraph(spec), [spec]);
  const nodes = useMemo(
    (): QoNode[] =>
      graph.nodes.map((n) => {
        const problems = located.byNode[n.id]?.map(errorText);
        return {
          ...n,
          measured: measured[n.id],
          selected: selection?.kind === "node" && selection.id === n.id,
          ariaLabel: `Node ${n.id} (${n.data.node.type})${problems ? ", has problems" : ""}`,
          data: problems ? { ...n.data, problems } : n.data,
        };
      }),
    [graph, measured, selection, located],
  );
  const edges = useMemo(
    (): QoEdge[] =>
      graph.edges.map((e) => {
        const problems = located.byEdge[e.id]?.map(errorText);
        const when = typeof e.label === "string" ? e.label : "";
        return {
          ...e,
          label: problems ? `⚠ ${when || "problem"}` : e.label,
          className: problems ? "qo-edge-invalid" : undefined,
          selected: selection?.kind === "edge" && selection.id === e.id,
          markerEnd: { type: MarkerType.ArrowClosed },
          ariaLabel: `Connection from ${e.source} to ${e.target}${when ? ` when ${when}` : ""}${problems ? ", has problems" : ""}`,
          data: problems && e.data ? { ...e.data, problems } : e.data,
        };
      }),
    [graph, selection, located],
  );

  const onNodesChange = (changes: NodeChange<QoNode>[]) => {
    const sizes: Record<string, Size> = {};
    const moves: Record<string, XYPosition> = {};
    let dragging = false;
    for (const change of changes) {
      if (change.type === "dimensions" && change.dimensions) sizes[change.id] = change.dimensions;
      if (change.type === "position" && change.position) {
        moves[change.id] = change.position;
        dragging ||= change.dragging === true;
      }
    }
    if (Object.keys(sizes).length) setMeasured((m) => ({ ...m, ...sizes }));
    if (Object.keys(moves).length && editable) {
      // One drag gesture (or one burst of arrow keys on a node) is one undo step.
      const key = dragging ? `drag-${dragSeq.current}` : `nudge-${Object.keys(moves).join(",")}`;
      onEdit(moveNodes(spec, moves), key);
    }
    applySelection(changes, "node");
  };

  const applySelection = (
    changes: (NodeChange<QoNode> | EdgeChange<QoEdge>)[],
    kind: "node" | "edge",
  ) => {
    let next: Selection | undefined;
    for (const change of changes) {
      if (change.type !== "select") continue;
      if (change.selected) next = { kind, id: change.id };
      else if (next === undefined && selection?.kind === kind && selection.id === change.id) {
        next = null;
      }
    }
    if (next !== undefined) onSelect(next);
  };

  const onConnect = (connection: Connection) => {
    const problem = connectionProblem(spec, connection.source, connection.target);
    if (problem) props.onProblem(problem);
    else onEdit(addConnection(spec, connection.source, connection.target));
  };

  const onDelete = ({ nodes: gone, edges: cut }: { nodes: QoNode[]; edges: QoEdge[] }) => {
    const ids = edgeIds(spec.connections ?? []);
    const indexes = cut.map((e) => ids.indexOf(e.id)).filter((i) => i >= 0);
    onEdit(
      removeElements(
        spec,
        gone.map((n) => n.id),
        indexes,
      ),
    );
    if (
      selection &&
      (gone.some((n) => n.id === selection.id) || cut.some((e) => e.id === selection.id))
    ) {
      onSelect(null);
    }
  };

  const onDragOver = (event: DragEvent) => {
    if (!editable || !event.dataTransfer.types.includes(NODE_TYPE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  };
  const onDrop = (event: DragEvent) => {
    const type = event.dataTransfer.getData(NODE_TYPE_MIME);
    if (!editable || !type) return;
    event.preventDefault();
    props.onDropType(type, screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  return (
    <div
      className="qo-canvas"
      role="region"
      aria-label="Workflow canvas"
      data-testid="workflow-canvas"
      onDragOver={onDragOver}
      onDrop={onDrop}
    >
      <ReactFlow<QoNode, QoEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={(changes) => {
          applySelection(changes, "edge");
        }}
        onNodeDragStart={() => {
          dragSeq.current += 1;
        }}
        onConnect={onConnect}
        onDelete={onDelete}
        isValidConnection={(c) => c.source !== c.target}
        onPaneClick={() => {
          onSelect(null);
        }}
        nodesDraggable={editable}
        nodesConnectable={editable}
        deleteKeyCode={editable ? ["Delete", "Backspace"] : null}
        multiSelectionKeyCode={null}
        fitView
        fitViewOptions={{ maxZoom: 1.2 }}
        minZoom={0.2}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
      {spec.nodes.length === 0 ? (
        <div className="qo-canvas-empty">
          <p>
            <strong>No nodes yet.</strong>
          </p>
          <p>
            {editable
              ? "Drag a node type from the list onto the canvas, or press Enter on it."
              : "This workflow has no nodes."}
          </p>
        </div>
      ) : null}
    </div>
  );
}
