/**
 * Start a run: pick a deployed workflow, fill its inputs (a form generated from the version's
 * `inputs` JSON Schema by `SchemaForm`), submit, and land on the new run. The server checks
 * the inputs; its 422 field errors are shown next to the fields they name.
 */
import { useCallback, useEffect, useId, useState } from "react";
import type { SubmitEvent } from "react";
import { useNavigate } from "react-router";

import { ApiError } from "../../api/client";
import { getVersion, listWorkflows, startRun } from "../../api/runs";
import { SchemaForm } from "../../components/SchemaForm";
import { ErrorState, Loading } from "../../components/States";
import { useAsync } from "../../lib/useAsync";

/** Props of `StartRun`. */
export interface StartRunProps {
  /** A workflow name or id to preselect (from `?start=`). */
  initialWorkflow: string;
  onClose: () => void;
}

interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The server's field path (`inputs.headers.x`, `inputs.items[2]`) as the JSON-Pointer-like
 * path `SchemaForm` expects (`/headers/x`, `/items/2`); null when it is not about the inputs.
 */
export function inputsPointer(path: string): string | null {
  if (path !== "inputs" && !path.startsWith("inputs.") && !path.startsWith("inputs[")) return null;
  const rest = path.slice("inputs".length);
  return rest.replace(/\[(\d+)\]/g, ".$1").replace(/\./g, "/");
}

/** Field errors by pointer, and the messages that belong to no field. */
export function splitErrors(body: unknown): { fields: Record<string, string>; other: string[] } {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  const list = body && typeof body === "object" && "errors" in body ? body.errors : undefined;
  if (Array.isArray(list)) {
    for (const item of list as FieldProblem[]) {
      const pointer = inputsPointer(item.path);
      if (pointer === null) other.push(item.path ? `${item.path}: ${item.message}` : item.message);
      else fields[pointer] = fields[pointer] ? `${fields[pointer]}; ${item.message}` : item.message;
    }
  }
  return { fields, other };
}

function isEmptySchema(schema: Record<string, unknown> | undefined): boolean {
  return !schema || Object.keys(schema).length === 0;
}

/** The start-run form, shown inline above the runs list. */
export function StartRun({ initialWorkflow, onClose }: StartRunProps) {
  const id = useId();
  const navigate = useNavigate();
  const [workflow, setWorkflow] = useState(initialWorkflow);
  const [inputs, setInputs] = useState<Record<string, unknown>>({});
  const [rawInputs, setRawInputs] = useState("{}");
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadWorkflows = useCallback(() => listWorkflows("", null), []);
  const workflows = useAsync(loadWorkflows, [loadWorkflows]);
  const deployed = (workflows.data?.items ?? []).filter((w) => w.latest_version !== null);
  const chosen = deployed.find((w) => w.name === workflow || w.id === workflow);

  const loadVersion = useCallback(
    () =>
      chosen && chosen.latest_version !== null
        ? getVersion(chosen.id, chosen.latest_version)
        : Promise.resolve(undefined),
    [chosen],
  );
  const version = useAsync(loadVersion, [chosen?.id, chosen?.latest_version]);
  const schema = version.data?.spec.inputs;

  // A different workflow has different inputs: start from an empty value.
  useEffect(() => {
    setInputs({});
    setRawInputs("{}");
    setFieldErrors({});
    setFormError(null);
  }, [chosen?.id]);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    if (!chosen) return;
    let values = inputs;
    if (isEmptySchema(schema)) {
      try {
        values = JSON.parse(rawInputs || "{}") as Record<string, unknown>;
      } catch {
        setFormError("The inputs are not valid JSON.");
        return;
      }
    }
    setBusy(true);
    setFormError(null);
    setFieldErrors({});
    try {
      const run = await startRun(chosen.id, values, version.data?.number);
      void navigate(`/runs/${run.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const { fields, other } = splitErrors(error.body);
        setFieldErrors(fields);
        // The detail sums up the first problem; the fields show each next to its input.
        setFormError([error.message, ...other].join("; "));
      } else {
        setFormError(error instanceof Error ? error.message : String(error));
      }
      setBusy(false);
    }
  };

  return (
    <form
      className="card runs-start"
      aria-labelledby={`${id}-title`}
      onSubmit={(e) => {
        void submit(e);
      }}
    >
      <h2 id={`${id}-title`}>Start a run</h2>
      {workflows.error ? <ErrorState error={workflows.error} retry={workflows.reload} /> : null}
      {workflows.loading && !workflows.data ? <Loading what="workflows" /> : null}
      {workflows.data && deployed.length === 0 ? (
        <p className="muted">
          No workflow is deployed yet. Deploy one from the Workflows screen to start runs of it.
        </p>
      ) : null}
      {deployed.length > 0 ? (
        <label className="runs-field">
          Workflow
          <select
            value={chosen?.name ?? ""}
            onChange={(e) => {
              setWorkflow(e.target.value);
            }}
            required
          >
            <option value="">Choose a deployed workflow…</option>
            {deployed.map((w) => (
              <option key={w.id} value={w.name}>
                {w.name} (v{w.latest_version})
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {chosen?.description ? <p className="muted">{chosen.description}</p> : null}
      {chosen && version.loading && !version.data ? <Loading what="the inputs" /> : null}
      {chosen && version.error ? <ErrorState error={version.error} retry={version.reload} /> : null}
      {chosen && version.data ? (
        <fieldset className="runs-inputs">
          <legend>Inputs</legend>
          {isEmptySchema(schema) ? (
            <label className="runs-field">
              Inputs as a JSON object (this workflow declares no input schema)
              <textarea
                rows={4}
                value={rawInputs}
                aria-invalid={fieldErrors[""] ? true : undefined}
                onChange={(e) => {
                  setRawInputs(e.target.value);
                }}
              />
              {fieldErrors[""] ? <span className="field-error">{fieldErrors[""]}</span> : null}
            </label>
          ) : (
            <SchemaForm
              schema={schema ?? {}}
              value={inputs}
              onChange={setInputs}
              errors={fieldErrors}
              idPrefix={`${id}-inputs`}
            />
          )}
        </fieldset>
      ) : null}
      {formError ? (
        <p className="form-error" role="alert">
          <span aria-hidden="true">⚠ </span>
          {formError}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
        <button type="submit" className="primary" disabled={!chosen || !version.data || busy}>
          Start run
        </button>
      </div>
    </form>
  );
}
