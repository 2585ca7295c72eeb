/**
 * A node on the canvas: its id, type and display name, handles to connect it, and the problems
 * the last check found in it (an outline, an icon and the message: never colour alone).
 */
import { Handle, Position } from "@xyflow/react";
import type { NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { QoNode } from "../lib/spec";

function NodeCardInner({ id, data, selected }: NodeProps<QoNode>) {
  const problems = data.problems ?? [];
  const name = data.node.name;
  return (
    <div
      className={`qo-node${problems.length ? " qo-node-invalid" : ""}${selected ? " qo-node-selected" : ""}`}
      data-testid={`node-${id}`}
    >
      <Handle
        type="target"
        position={Position.Top}
        title={`Input of ${id}: drag a connection here`}
      />
      <div className="qo-node-id">
        {problems.length ? (
          <span className="qo-node-icon" aria-hidden="true">
            ⚠{" "}
          </span>
        ) : null}
        {id}
      </div>
      <div className="qo-node-type">{data.node.type}</div>
      {name ? <div className="qo-node-name">{name}</div> : null}
      {problems.length ? (
        <div className="qo-node-problem" role="note">
          <span className="sr-only">Problem: </span>
          {problems[0]}
          {problems.length > 1 ? ` (+${problems.length - 1} more)` : ""}
        </div>
      ) : null}
      <Handle
        type="source"
        position={Position.Bottom}
        title={`Output of ${id}: drag to another node to connect`}
      />
    </div>
  );
}

/** The `qo` node type of the builder's canvas. */
export const NodeCard = memo(NodeCardInner);
