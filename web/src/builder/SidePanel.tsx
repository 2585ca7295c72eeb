/** The side panel: the selected node's or connection's editor, else the workflow's settings. */
import type { NodeType } from "../api/workflows";
import { edgeIds } from "../lib/spec";
import type { WorkflowSpec } from "../lib/spec";
import type { LocatedErrors } from "../lib/specErrors";
import type { Selection } from "./Canvas";
import { NodePanel } from "./NodePanel";
import { EdgePanel, WorkflowPanel } from "./Panels";

/** Props of `SidePanel`. */
export interface SidePanelProps {
  spec: WorkflowSpec;
  types: readonly NodeType[];
  selection: Selection;
  located: LocatedErrors;
  editable: boolean;
  onEdit: (spec: WorkflowSpec, coalesce?: string) => void;
  onSelect: (selection: Selection) => void;
  notify: (kind: "ok" | "error", text: string) => void;
}

/** The editor for whatever is selected. */
export function SidePanel(props: SidePanelProps) {
  const { spec, types, selection, located, editable, onEdit, onSelect, notify } = props;
  const selectedNode =
    selection?.kind === "node" ? spec.nodes.find((n) => n.id === selection.id) : undefined;
  const edgeIndex =
    selection?.kind === "edge" ? edgeIds(spec.connections ?? []).indexOf(selection.id) : -1;
  const selectedEdge = edgeIndex >= 0 ? spec.connections?.[edgeIndex] : undefined;

  if (selectedNode) {
    return (
      <NodePanel
        spec={spec}
        node={selectedNode}
        nodeType={types.find((t) => t.type === selectedNode.type)}
        problems={located.byNode[selectedNode.id] ?? []}
        editable={editable}
        onEdit={onEdit}
        onRenamed={(id) => {
          onSelect({ kind: "node", id });
        }}
        onDeleted={(id) => {
          onSelect(null);
          notify("ok", `Deleted node ${id}. Undo brings it back.`);
        }}
        onProblem={(text) => {
          notify("error", text);
        }}
      />
    );
  }
  if (selectedEdge && selection) {
    return (
      <EdgePanel
        spec={spec}
        index={edgeIndex}
        connection={selectedEdge}
        problems={located.byEdge[selection.id] ?? []}
        editable={editable}
        onEdit={onEdit}
        onDeleted={() => {
          onSelect(null);
          notify("ok", "Deleted the connection. Undo brings it back.");
        }}
      />
    );
  }
  return (
    <WorkflowPanel
      spec={spec}
      problems={located.list.filter((e) => e.nodeId === undefined && e.edgeId === undefined)}
      editable={editable}
      onEdit={onEdit}
    />
  );
}
