/**
 * The other side panels: a selected connection (its `when`), the workflow itself when nothing
 * is selected (description, inputs schema, outputs, defaults), and the problems list.
 */
import type { SpecConnection, WorkflowSpec } from "../lib/spec";
import { removeElements, setConnectionWhen } from "../lib/specEdit";
import { errorText } from "../lib/specErrors";
import type { LocatedError } from "../lib/specErrors";
import type { Selection } from "./Canvas";
import { JsonBox } from "./JsonBox";

/** Props of `EdgePanel`. */
export interface EdgePanelProps {
  spec: WorkflowSpec;
  index: number;
  connection: SpecConnection;
  problems: LocatedError[];
  editable: boolean;
  onEdit: (spec: WorkflowSpec, coalesce?: string) => void;
  onDeleted: () => void;
}

/** The selected connection's editor. */
export function EdgePanel({
  spec,
  index,
  connection,
  problems,
  editable,
  onEdit,
  onDeleted,
}: EdgePanelProps) {
  return (
    <section className="qo-inspector" aria-labelledby="qo-edge-title">
      <h2 id="qo-edge-title" className="qo-panel-title">
        Connection {connection.from} → {connection.to}
      </h2>
      {problems.length ? (
        <ul className="qo-problems-inline" aria-label="Problems of this connection">
          {problems.map((p) => (
            <li key={`${p.path}:${p.message}`} className="field-error">
              <span aria-hidden="true">⚠ </span>
              {errorText(p)}
            </li>
          ))}
        </ul>
      ) : null}
      <fieldset className="qo-plain" disabled={!editable}>
        <legend className="sr-only">Connection settings</legend>
        <div className="qo-field">
          <label htmlFor="qo-edge-when">Condition (when)</label>
          <input
            id="qo-edge-when"
            value={connection.when ?? ""}
            aria-describedby="qo-edge-when-help"
            onChange={(e) => {
              onEdit(setConnectionWhen(spec, index, e.target.value), `when:${index}`);
            }}
          />
          <p id="qo-edge-when-help" className="qo-hint">
            Empty: always taken. A template such as <code>{"{{ output.ok }}"}</code> is taken when
            true; plain text is a branch label of a <code>core.branch</code> node.
          </p>
        </div>
        <button
          type="button"
          className="danger"
          onClick={() => {
            onEdit(removeElements(spec, [], [index]));
            onDeleted();
          }}
        >
          Delete connection
        </button>
      </fieldset>
    </section>
  );
}

/** Props of `WorkflowPanel`. */
export interface WorkflowPanelProps {
  spec: WorkflowSpec;
  problems: LocatedError[];
  editable: boolean;
  onEdit: (spec: WorkflowSpec, coalesce?: string) => void;
}

function problemsAt(problems: LocatedError[], field: string): string[] {
  return problems
    .filter(
      (p) => p.path === field || p.path.startsWith(`${field}.`) || p.path.startsWith(`${field}[`),
    )
    .map((p) => (p.path === field ? p.message : `${p.path}: ${p.message}`));
}

/** The workflow's object fields, each edited as JSON in the same kind of box, in this order. */
const JSON_FIELDS = [
  {
    key: "inputs",
    label: "Inputs schema",
    help: 'A JSON Schema for the run\'s inputs, e.g. {"type": "object", "properties": {…}}.',
  },
  {
    key: "outputs",
    label: "Outputs",
    help: "The run's outputs; strings are templates rendered when the run succeeds.",
  },
  {
    key: "defaults",
    label: "Defaults",
    help: "{retry, timeout} for nodes that do not set their own.",
  },
] as const;

/** The workflow's own fields (shown when nothing is selected). */
export function WorkflowPanel({ spec, problems, editable, onEdit }: WorkflowPanelProps) {
  const set = (key: string, value: unknown) => {
    const next: WorkflowSpec = { ...spec };
    if (value === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- clearing an optional field
      delete next[key];
    } else {
      next[key] = value;
    }
    onEdit(next, `workflow:${key}`);
  };
  const description = typeof spec.description === "string" ? spec.description : "";
  return (
    <section className="qo-inspector" aria-labelledby="qo-wf-title">
      <h2 id="qo-wf-title" className="qo-panel-title">
        Workflow settings
      </h2>
      <p className="qo-hint">Select a node or a connection on the canvas to edit it.</p>
      <fieldset className="qo-plain" disabled={!editable}>
        <legend className="sr-only">Workflow settings</legend>
        <div className="qo-field">
          <label htmlFor="qo-wf-description">Description</label>
          <textarea
            id="qo-wf-description"
            rows={3}
            maxLength={10000}
            value={description}
            onChange={(e) => {
              set("description", e.target.value);
            }}
          />
        </div>
        {JSON_FIELDS.map((field) => (
          <JsonBox
            key={field.key}
            label={field.label}
            help={field.help}
            value={spec[field.key]}
            problems={problemsAt(problems, field.key)}
            onChange={(v) => {
              set(field.key, v);
            }}
          />
        ))}
      </fieldset>
    </section>
  );
}

/** Props of `ProblemsPanel`. */
export interface ProblemsPanelProps {
  /** `null` until the spec was checked (Validate or a failed save). */
  problems: LocatedError[] | null;
  onSelect: (selection: Selection) => void;
}

/** The problems the last check found; each one located on a node or connection selects it. */
export function ProblemsPanel({ problems, onSelect }: ProblemsPanelProps) {
  if (problems === null) return null;
  return (
    <section className="qo-problems" aria-labelledby="qo-problems-title">
      <h2 id="qo-problems-title" className="qo-panel-title">
        {problems.length ? `Problems (${problems.length})` : "Problems"}
      </h2>
      {problems.length === 0 ? (
        <p role="status">
          <span aria-hidden="true">✓ </span>No problems found by the last check.
        </p>
      ) : (
        <ul>
          {problems.map((p, i) => {
            const where = p.nodeId ?? (p.edgeId ? p.edgeId.replace("->", " → ") : null);
            const text = `${where ? `${where}: ` : p.path ? `${p.path}: ` : ""}${errorText(p)}`;
            const target: Selection =
              p.nodeId !== undefined
                ? { kind: "node", id: p.nodeId }
                : p.edgeId !== undefined
                  ? { kind: "edge", id: p.edgeId }
                  : null;
            return (
              // Two errors may repeat a path and message: the position keeps keys unique.
              <li key={`${i}:${p.path}`}>
                <span aria-hidden="true">⚠ </span>
                {target ? (
                  <button
                    type="button"
                    className="qo-link"
                    onClick={() => {
                      onSelect(target);
                    }}
                  >
                    {text}
                  </button>
                ) : (
                  text
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
