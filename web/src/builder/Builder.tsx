/**
 * The workflow builder (`/workflows/new`, `/workflows/:ref`): a palette of node types, the React
 * Flow canvas and a side panel, over one spec kept in an undoable history. Saving sends the
 * spec as it is; the server validates it and its errors are drawn on the nodes they concern.
 */
import "@xyflow/react/dist/style.css";
import "./builder.css";

import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import type { XYPosition } from "@xyflow/react";
import { useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useLocation, useNavigate, useParams } from "react-router";

import {
  createWorkflow,
  deployWorkflow,
  getWorkflow,
  listNodeTypes,
  specErrorsOf,
  updateWorkflow,
  validateSpec,
} from "../api/workflows";
import type { SpecError } from "../api/workflows";
import { useSession } from "../app/session";
import { ConfirmDialog } from "../components/Confirm";
import { useNotify } from "../components/Notice";
import { ErrorState, Loading } from "../components/States";
import { useAsync } from "../lib/useAsync";
import { autoLayout, NODE_HEIGHT, NODE_WIDTH, readPosition, withPositions } from "../lib/spec";
import type { WorkflowSpec } from "../lib/spec";
import { addNode, emptySpec, WORKFLOW_NAME_PATTERN } from "../lib/specEdit";
import { currentErrors, locateErrors } from "../lib/specErrors";
import { initialHistory, isDirty, specHistoryReducer } from "../lib/specHistory";
import { downloadText, readSpecFile, specToYaml, toEditableSpec } from "../lib/specIo";
import { BuilderHeader } from "./BuilderHeader";
import type { Saved } from "./BuilderHeader";
import { Canvas } from "./Canvas";
import type { Selection } from "./Canvas";
import { Palette } from "./Palette";
import { ProblemsPanel } from "./Panels";
import { SidePanel } from "./SidePanel";
import { Toolbar } from "./Toolbar";
import { useUndoKeys } from "./useUndoKeys";
import { YamlDialog } from "./YamlDialog";

/** Router state that opens the builder with an imported spec (from the workflows list). */
export interface BuilderState {
  importedSpec?: WorkflowSpec;
}

function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** The builder screen. */
export default function Builder() {
  return (
    <ReactFlowProvider>
      <BuilderScreen />
    </ReactFlowProvider>
  );
}

function BuilderScreen() {
  const { ref } = useParams();
  const location = useLocation();
  const navigate = useNavigate();
  const editable = useSession().can("workflows:write");
  const notify = useNotify();
  const { screenToFlowPosition, fitView } = useReactFlow();
  // After a whole-graph change, show all of it once React Flow has measured the new nodes.
  const showAll = () => {
    setTimeout(() => void fitView({ maxZoom: 1.2, duration: 200 }), 50);
  };
  const catalog = useAsync(listNodeTypes, []);

  const [history, dispatch] = useReducer(specHistoryReducer, null, () =>
    initialHistory(emptySpec(), false),
  );
  const spec = history.present;
  const dirty = isDirty(history);
  const [saved, setSaved] = useState<Saved | null>(null);
  const savedRef = useRef<Saved | null>(null);
  savedRef.current = saved;
  const [loadError, setLoadError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(ref !== undefined);
  const [reloadTick, setReloadTick] = useState(0);
  const [selection, setSelection] = useState<Selection>(null);
  const [checked, setChecked] = useState<{ spec: WorkflowSpec; errors: SpecError[] } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmDeploy, setConfirmDeploy] = useState(false);
  const [showYaml, setShowYaml] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const canvasRef = useRef<HTMLDivElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const imported = (location.state as BuilderState | null)?.importedSpec;

  useEffect(() => {
    if (ref === undefined) {
      dispatch({ type: "load", spec: withPositions(imported ?? emptySpec()), saved: false });
      setSaved(null);
      setSelection(null);
      setChecked(null);
      setLoading(false);
      return;
    }
    // Just created or renamed here: the history in memory is the workflow, keep it.
    const known = savedRef.current;
    if (known && (known.id === ref || known.name === ref)) return;
    let stale = false;
    setLoading(true);
    getWorkflow(ref).then(
      (row) => {
        if (stale) return;
        try {
          dispatch({ type: "load", spec: withPositions(toEditableSpec(row.spec)), saved: true });
          setSaved({ id: row.id, name: row.name, latestVersion: row.latest_version });
          setLoadError(null);
        } catch (reason) {
          setLoadError(new Error(`The stored spec cannot be drawn: ${message(reason)}`));
        }
        setSelection(null);
        setChecked(null);
        setLoading(false);
      },
      (reason: unknown) => {
        if (stale) return;
        setLoadError(reason instanceof Error ? reason : new Error(String(reason)));
        setLoading(false);
      },
    );
    return () => {
      stale = true;
    };
  }, [ref, imported, reloadTick]);

  useUndoKeys(editable, dispatch);

  const located = useMemo(
    () =>
      checked
        ? currentErrors(locateErrors(checked.spec, checked.errors), checked.spec, spec)
        : { list: [], byNode: {}, byEdge: {} },
    [checked, spec],
  );
  const edit = (next: WorkflowSpec, coalesce?: string) => {
    dispatch({ type: "edit", spec: next, coalesce });
  };

  const placeNode = (type: string, at: XYPosition) => {
    // Nudge down-right until the spot is free, so repeated adds do not stack invisibly.
    let position = at;
    const taken = (p: XYPosition) =>
      spec.nodes.some((n) => {
        const q = readPosition(n.position);
        return q !== undefined && Math.abs(q.x - p.x) < 16 && Math.abs(q.y - p.y) < 16;
      });
    while (taken(position)) position = { x: position.x + 24, y: position.y + 24 };
    const added = addNode(spec, type, position);
    edit(added.spec);
    setSelection({ kind: "node", id: added.id });
    setAnnouncement(`Added node ${added.id} (${type}).`);
  };
  const addAtCentre = (type: string) => {
    const box = canvasRef.current?.getBoundingClientRect();
    const centre = box
      ? screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 })
      : { x: 0, y: 0 };
    placeNode(type, { x: centre.x - NODE_WIDTH / 2, y: centre.y - NODE_HEIGHT / 2 });
  };

  const save = async (): Promise<Saved | null> => {
    const sent = spec;
    if (!WORKFLOW_NAME_PATTERN.test(sent.name)) {
      notify("error", "Give the workflow a name first (letters, digits, _ . -; up to 100).");
      document.getElementById("qo-wf-name")?.focus();
      return null;
    }
    setBusy("save");
    try {
      const row = saved ? await updateWorkflow(saved.id, sent) : await createWorkflow(sent);
      const next = { id: row.id, name: row.name, latestVersion: row.latest_version };
      savedRef.current = next;
      setSaved(next);
      dispatch({ type: "saved", spec: sent });
      setChecked({ spec: sent, errors: [] });
      notify("ok", saved ? `Saved the draft of ${row.name}.` : `Created ${row.name} as a draft.`);
      if (ref !== row.name && ref !== row.id) {
        void navigate(`/workflows/${encodeURIComponent(row.name)}`, { replace: true });
      }
      return next;
    } catch (reason) {
      const errors = specErrorsOf(reason);
      if (errors.length) setChecked({ spec: sent, errors });
      const listed = errors.length
        ? ` ${errors.length} problem(s) are listed under the canvas.`
        : "";
      notify("error", `Could not save: ${message(reason)}.${listed}`);
      return null;
    } finally {
      setBusy(null);
    }
  };

  const validate = async () => {
    const sent = spec;
    setBusy("validate");
    try {
      const result = await validateSpec(sent);
      setChecked({ spec: sent, errors: result.errors });
      if (result.valid) notify("ok", "The spec is valid.");
      else
        notify(
          "error",
          `The spec has ${result.errors.length} problem(s), listed under the canvas.`,
        );
    } catch (reason) {
      notify("error", `Could not validate: ${message(reason)}`);
    } finally {
      setBusy(null);
    }
  };

  const deploy = async () => {
    setConfirmDeploy(false);
    // Deploy freezes the draft the server holds: unsaved edits are saved first.
    const target = dirty || !saved ? await save() : saved;
    if (!target) return;
    setBusy("deploy");
    try {
      const version = await deployWorkflow(target.id);
      setSaved({ ...target, latestVersion: version.number });
      notify("ok", `Deployed version ${version.number} of ${target.name}.`);
      setAnnouncement(`Deployed version ${version.number}.`);
    } catch (reason) {
      const errors = specErrorsOf(reason);
      if (errors.length) setChecked({ spec, errors });
      notify("error", `Could not deploy: ${message(reason)}`);
    } finally {
      setBusy(null);
    }
  };

  const importFile = async (file: File) => {
    try {
      const next = withPositions(await readSpecFile(file));
      edit(next);
      setSelection(null);
      setChecked(null);
      showAll();
      notify(
        "ok",
        `Imported ${file.name} (${next.nodes.length} nodes). ${editable ? "Save draft to keep it; Undo goes back." : ""}`,
      );
    } catch (reason) {
      notify("error", `Could not import ${file.name}: ${message(reason)}`);
    }
  };

  if (loading) return <Loading what="the workflow" />;
  if (loadError) {
    return (
      <section>
        <h1>Workflow {ref}</h1>
        <ErrorState
          error={loadError}
          retry={() => {
            setLoadError(null);
            setReloadTick((t) => t + 1);
          }}
        />
      </section>
    );
  }

  const types = catalog.data?.items ?? [];
  const title = saved ? saved.name : "New workflow";
  const nameProblem =
    spec.name !== "" && !WORKFLOW_NAME_PATTERN.test(spec.name)
      ? "Letters, digits, _ . - only; start with a letter or digit."
      : checked?.spec.name === spec.name
        ? located.list.find((e) => e.path === "name")?.message
        : undefined;

  return (
    <section className="qo-builder" aria-labelledby="qo-builder-title">
      <BuilderHeader
        title={title}
        name={spec.name}
        nameProblem={nameProblem}
        editable={editable}
        busy={busy}
        dirty={dirty}
        saved={saved}
        onName={(name) => {
          edit({ ...spec, name }, "workflow:name");
        }}
      />
      <Toolbar
        editable={editable}
        busy={busy}
        canUndo={history.past.length > 0}
        canRedo={history.future.length > 0}
        hasNodes={spec.nodes.length > 0}
        onSave={() => void save()}
        onValidate={() => void validate()}
        onDeploy={() => {
          setConfirmDeploy(true);
        }}
        onLayout={() => {
          edit(autoLayout(spec));
          showAll();
          setAnnouncement("Nodes laid out top to bottom.");
        }}
        onUndo={() => {
          dispatch({ type: "undo" });
        }}
        onRedo={() => {
          dispatch({ type: "redo" });
        }}
        onViewYaml={() => {
          setShowYaml(true);
        }}
        onDownloadYaml={() => {
          downloadText(`${spec.name || "workflow"}.yaml`, specToYaml(spec));
          notify("ok", `Downloaded ${spec.name || "workflow"}.yaml.`);
        }}
        onImport={() => fileRef.current?.click()}
      />
      <input
        ref={fileRef}
        type="file"
        accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"
        className="sr-only"
        aria-label="Import a workflow file"
        data-testid="import-file"
        tabIndex={-1}
        onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = "";
          if (file) void importFile(file);
        }}
      />
      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      <div className="qo-builder-body">
        {catalog.error && !catalog.data ? (
          <div className="qo-palette">
            <ErrorState error={catalog.error} retry={catalog.reload} />
          </div>
        ) : catalog.data ? (
          <Palette
            types={types}
            categories={catalog.data.categories}
            editable={editable}
            onAdd={addAtCentre}
          />
        ) : (
          <div className="qo-palette">
            <Loading what="node types" />
          </div>
        )}
        <div className="qo-canvas-column" ref={canvasRef}>
          <Canvas
            spec={spec}
            selection={selection}
            located={located}
            editable={editable}
            onEdit={edit}
            onSelect={setSelection}
            onDropType={placeNode}
            onProblem={(text) => {
              notify("error", text);
            }}
          />
          <ProblemsPanel problems={checked ? located.list : null} onSelect={setSelection} />
        </div>
        <div className="qo-side">
          <SidePanel
            spec={spec}
            types={types}
            selection={selection}
            located={located}
            editable={editable}
            onEdit={edit}
            onSelect={setSelection}
            notify={notify}
          />
        </div>
      </div>
      {/* Viewers cannot deploy: the dialog is not even in the page for them. */}
      {editable ? (
        <ConfirmDialog
          open={confirmDeploy}
          title={`Deploy ${spec.name || "this workflow"}?`}
          confirmLabel="Deploy now"
          onConfirm={() => void deploy()}
          onCancel={() => {
            setConfirmDeploy(false);
          }}
        >
          <p>
            This freezes the draft as version {(saved?.latestVersion ?? 0) + 1}, which cannot be
            changed afterwards. New runs will use it.
            {dirty ? " Your unsaved changes are saved first." : ""}
          </p>
        </ConfirmDialog>
      ) : null}
      <YamlDialog
        open={showYaml}
        title={`${spec.name || "New workflow"} as YAML`}
        yaml={showYaml ? specToYaml(spec) : ""}
        onClose={() => {
          setShowYaml(false);
        }}
      />
    </section>
  );
}
