/**
 * The run's graph: the version's nodes and connections, laid out by dagre, read-only, each
 * node coloured by its step's state and showing the state's icon and word (colour is never
 * the only signal). Node components are memoised and node objects are reused while their
 * step is unchanged, so a live update of one step re-renders one node, even with 500.
 */
import {
  memo,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import type { KeyboardEvent } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  type ReactFlowInstance,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";

import type { Spec } from "../../api/runs";
import { layoutSpec, NODE_HEIGHT, NODE_WIDTH } from "../../lib/runsGraph";
import { STATE_ICONS } from "../../lib/stateIcons";

/** What a graph node shows. */
interface StepNodeData extends Record<string, unknown> {
  label: string;
  nodeType: string;
  state: string;
  children: number;
  /** A big graph: the running icon does not pulse (see `STILL_NODES`). */
  still: boolean;
}

/**
 * Graphs with more nodes than this do not animate their running icons: every pulsing icon is
 * a layer the compositor must place on each frame, which made the frames of a burst of a few
 * hundred running steps slow; such a graph is drawn so small that the pulse is invisible.
 */
const STILL_NODES = 200;

type StepNode = Node<StepNodeData, "step">;

const StepNodeView = memo(function StepNodeView({ id, data, selected }: NodeProps<StepNode>) {
  return (
    <div
      className={`rg-node rg-${data.state}${data.still ? " rg-still" : ""}${selected ? " rg-selected" : ""}`}
      data-testid={`step-${id}`}
      data-state={data.state}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="rg-title">
        <span className="rg-icon" aria-hidden="true">
          {STATE_ICONS[data.state] ?? "•"}
        </span>
        <span className="rg-label">{data.label}</span>
      </div>
      <div className="rg-meta">
        <span className="rg-state">{data.state.replace("_", " ")}</span>
        <span className="rg-type">{data.nodeType}</span>
        {data.children > 0 ? <span className="rg-children">{data.children} sub-steps</span> : null}
      </div>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const NODE_TYPES = { step: StepNodeView };
/** Follows the page's theme (`data-theme` on the root element, set by the theme toggle). */
function subscribeTheme(onChange: () => void): () => void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  return () => {
    observer.disconnect();
  };
}

function isDark(): boolean {
  return document.documentElement.dataset.theme === "dark";
}

/** Fit the whole graph, but never zoom a small one in past its natural size. */
const FIT = { padding: 0.1, maxZoom: 1 };

/** Props of `RunGraph`. */
export interface RunGraphProps {
  spec: Spec;
  /** The state of each node's step ("pending" when the run has no step for it yet). */
  stateOf: (nodeId: string) => string;
  /** How many children (map items, agent turns and tool calls) each node's step has. */
  childCountOf: (nodeId: string) => number;
  selected: string | null;
  onSelect: (nodeId: string) => void;
}

/** The read-only graph of a run. */
export function RunGraph({ spec, stateOf, childCountOf, selected, onSelect }: RunGraphProps) {
  const layout = useMemo(() => layoutSpec(spec), [spec]);
  const cache = useRef(new Map<string, StepNode>());
  const nodes = useMemo(() => {
    const next = new Map<string, StepNode>();
    const still = layout.nodes.length > STILL_NODES;
    const list = layout.nodes.map((placed) => {
      const state = stateOf(placed.id);
      const children = childCountOf(placed.id);
      const isSelected = placed.id === selected;
      const old = cache.current.get(placed.id);
      const node: StepNode =
        old?.data.state === state &&
        old.data.children === children &&
        old.selected === isSelected &&
        old.position.x === placed.x
          ? old
          : {
              id: placed.id,
              type: "step",
              position: { x: placed.x, y: placed.y },
              width: NODE_WIDTH,
              height: NODE_HEIGHT,
              // Known, so React Flow keeps the handles it measured when a node object is
              // replaced: without it each changed node is hidden, measured again (a forced
              // layout) and its edges redrawn, which made a burst of changes slow.
              measured: { width: NODE_WIDTH, height: NODE_HEIGHT },
              selected: isSelected,
              ariaLabel: `${placed.label} (${placed.type}): ${state}. Press Enter for details.`,
              data: { label: placed.label, nodeType: placed.type, state, children, still },
            };
      next.set(placed.id, node);
      return node;
    });
    cache.current = next;
    return list;
  }, [layout, stateOf, childCountOf, selected]);
  const edges = useMemo<Edge[]>(
    () =>
      layout.edges.map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        type: "smoothstep",
        markerEnd: { type: MarkerType.ArrowClosed },
        ...(edge.label ? { label: edge.label } : {}),
      })),
    [layout],
  );
  const onNodeClick = useCallback(
    (_: unknown, node: StepNode) => {
      onSelect(node.id);
    },
    [onSelect],
  );
  // React Flow selects a focused node on Enter/Space internally but, being read-only here,
  // it has no change handler: open the step panel ourselves.
  const onKeyDown = useCallback(
    (event: KeyboardEvent<HTMLDivElement>) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      const target = event.target as HTMLElement;
      const id = target.closest(".react-flow__node")?.getAttribute("data-id");
      if (id) {
        event.preventDefault();
        onSelect(id);
      }
    },
    [onSelect],
  );
  // The frame narrows when the step panel opens: fit the graph again so nothing is cut off.
  const frame = useRef<HTMLDivElement>(null);
  const [flow, setFlow] = useState<ReactFlowInstance<StepNode> | null>(null);
  useEffect(() => {
    const element = frame.current;
    if (!flow || !element || typeof ResizeObserver !== "function") return;
    let width = element.clientWidth;
    const observer = new ResizeObserver(() => {
      if (element.clientWidth === width) return;
      width = element.clientWidth;
      void flow.fitView(FIT);
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, [flow]);
  const dark = useSyncExternalStore(subscribeTheme, isDark);
  return (
    <div className="rg-frame" ref={frame}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        elementsSelectable
        onNodeClick={onNodeClick}
        onKeyDown={onKeyDown}
        fitView
        fitViewOptions={FIT}
        onInit={setFlow}
        // Every node stays in the DOM (findable, focusable); a big graph zooms far out to fit.
        minZoom={0.01}
        colorMode={dark ? "dark" : "light"}
        aria-label={`Graph of the run's ${layout.nodes.length} steps`}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
