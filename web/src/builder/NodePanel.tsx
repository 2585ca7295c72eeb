/**
 * The side panel of a selected node: id (renameable, unique), name, params generated from the
 * node type's params schema, retry, timeout, trigger rule, pool, connections and deletion.
 */
import { useEffect, useState } from "react";

import type { NodeType } from "../api/workflows";
import { SchemaForm } from "../components/SchemaForm";
import type { SpecNode, WorkflowSpec } from "../lib/spec";
import {
  addConnection,
  connectionProblem,
  nodeIdProblem,
  removeElements,
  renameNode,
  updateNode,
} from "../lib/specEdit";
import { errorText, paramErrors } from "../lib/specErrors";
import type { LocatedError } from "../lib/specErrors";

const TRIGGER_RULES = ["all_success", "all_done", "one_success", "none_failed"];

/** `RetryPolicy` of `domain/spec.py`, for the retry fields. */
const RETRY_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    max_attempts: { type: "integer", minimum: 1, maximum: 100, description: "Attempts in all." },
    initial_interval: { type: "number", minimum: 0, maximum: 86400, description: "Seconds." },
    backoff: { type: "number", minimum: 1, maximum: 10 },
    max_interval: { type: "number", minimum: 0, maximum: 86400, description: "Seconds." },
  },
};

/** Props of `NodePanel`. */
export interface NodePanelProps {
  spec: WorkflowSpec;
  node: SpecNode;
  nodeType: NodeType | undefined;
  problems: LocatedError[];
  editable: boolean;
  onEdit: (spec: WorkflowSpec, coalesce?: string) => void;
  onRenamed: (id: string) => void;
  onDeleted: (id: string) => void;
  onProblem: (message: string) => void;
}

function IdField({ spec, node, onEdit, onRenamed }: NodePanelProps) {
  const [draft, setDraft] = useState(node.id);
  useEffect(() => {
    setDraft(node.id);
  }, [node.id]);
  const problem = nodeIdProblem(spec, node.id, draft);
  const commit = () => {
    if (problem || draft === node.id) return;
    onEdit(renameNode(spec, node.id, draft));
    onRenamed(draft);
  };
  return (
    <div className="qo-field">
      <label htmlFor="qo-node-id">Node id</label>
      <input
        id="qo-node-id"
        value={draft}
        aria-invalid={problem ? true : undefined}
        aria-describedby="qo-node-id-help"
        onChange={(e) => {
          setDraft(e.target.value);
        }}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit();
          if (e.key === "Escape") setDraft(node.id);
        }}
      />
      <p id="qo-node-id-help" className={problem ? "field-error" : "qo-hint"}>
        {problem ? (
          <>
            <span aria-hidden="true">⚠ </span>
            {problem}
          </>
        ) : (
          "Press Enter or leave the field to rename; connections follow."
        )}
      </p>
    </div>
  );
}

/** The selected node's editor. */
export function NodePanel(props: NodePanelProps) {
  const { spec, node, nodeType, problems, editable, onEdit } = props;
  const [target, setTarget] = useState("");
  const edit = (patch: Partial<SpecNode>, key: string) => {
    onEdit(updateNode(spec, node.id, patch), `${key}:${node.id}`);
  };
  const others = spec.nodes.filter((n) => n.id !== node.id);
  const nodeProblems = problems.filter((p) => p.paramPointer === undefined);
  const timeoutText = typeof node.timeout === "number" ? String(node.timeout) : "";
  return (
    <section className="qo-inspector" aria-labelledby="qo-node-title">
      <h2 id="qo-node-title" className="qo-panel-title">
        Node {node.id}
      </h2>
      <p className="qo-hint">
        Type <code>{node.type}</code>
        {nodeType ? ` — ${nodeType.description}` : " — not in this workspace's catalog."}
      </p>
      {nodeProblems.length ? (
        <ul className="qo-problems-inline" aria-label="Problems of this node">
          {nodeProblems.map((p) => (
            <li key={`${p.path}:${p.message}`} className="field-error">
              <span aria-hidden="true">⚠ </span>
              {errorText(p)}
            </li>
          ))}
        </ul>
      ) : null}
      <fieldset className="qo-plain" disabled={!editable}>
        <legend className="sr-only">Node settings</legend>
        <IdField {...props} />
        <div className="qo-field">
          <label htmlFor="qo-node-name">Display name</label>
          <input
            id="qo-node-name"
            value={node.name ?? ""}
            maxLength={200}
            onChange={(e) => {
              edit({ name: e.target.value === "" ? undefined : e.target.value }, "name");
            }}
          />
        </div>
        <h3>Parameters</h3>
        <SchemaForm
          key={node.id}
          schema={nodeType?.params_schema ?? {}}
          value={node.params ?? {}}
          errors={paramErrors(problems)}
          idPrefix={`qo-param-${node.id}`}
          allowTemplates
          onChange={(params) => {
            edit({ params }, "params");
          }}
        />
        <h3>Execution</h3>
        <div className="qo-field">
          <label htmlFor="qo-node-trigger">Trigger rule</label>
          <select
            id="qo-node-trigger"
            value={node.trigger_rule ?? ""}
            onChange={(e) => {
              edit({ trigger_rule: e.target.value || undefined }, "trigger");
            }}
          >
            <option value="">Default ({nodeType?.default_trigger_rule ?? "all_success"})</option>
            {TRIGGER_RULES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <div className="qo-field">
          <label htmlFor="qo-node-timeout">Timeout (seconds per attempt)</label>
          <input
            id="qo-node-timeout"
            inputMode="decimal"
            value={timeoutText}
            onChange={(e) => {
              const n = Number(e.target.value);
              const value =
                e.target.value.trim() === "" ? undefined : Number.isFinite(n) ? n : undefined;
              edit({ timeout: value }, "timeout");
            }}
          />
        </div>
        <div className="qo-field">
          <label htmlFor="qo-node-pool">Agent pool</label>
          <input
            id="qo-node-pool"
            value={node.pool ?? ""}
            aria-describedby="qo-node-pool-help"
            onChange={(e) => {
              edit({ pool: e.target.value === "" ? undefined : e.target.value }, "pool");
            }}
          />
          <p id="qo-node-pool-help" className="qo-hint">
            Empty: any agent offering the type may run it.
          </p>
        </div>
        <fieldset className="qo-group">
          <legend>Retry</legend>
          <SchemaForm
            key={`retry-${node.id}`}
            schema={RETRY_SCHEMA}
            value={node.retry ?? {}}
            idPrefix={`qo-retry-${node.id}`}
            onChange={(retry) => {
              edit({ retry: Object.keys(retry).length ? retry : undefined }, "retry");
            }}
          />
        </fieldset>
        <h3>Connections</h3>
        <div className="qo-row">
          <div className="qo-field">
            <label htmlFor="qo-node-target">Connect {node.id} to</label>
            <select
              id="qo-node-target"
              value={target}
              onChange={(e) => {
                setTarget(e.target.value);
              }}
            >
              <option value="">— choose a node —</option>
              {others.map((n) => (
                <option key={n.id} value={n.id}>
                  {n.id}
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            disabled={!target}
            onClick={() => {
              const problem = connectionProblem(spec, node.id, target);
              if (problem) props.onProblem(problem);
              else onEdit(addConnection(spec, node.id, target));
              setTarget("");
            }}
          >
            Add connection
          </button>
        </div>
        <button
          type="button"
          className="danger"
          onClick={() => {
            onEdit(removeElements(spec, [node.id]));
            props.onDeleted(node.id);
          }}
        >
          Delete node
        </button>
      </fieldset>
    </section>
  );
}
