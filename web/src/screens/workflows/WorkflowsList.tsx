/**
 * `/workflows`: the workspace's workflows, a server page at a time, searchable by name (the
 * server's `search` matches names). Editors can start a new one or import a YAML/JSON file,
 * which opens in the builder unsaved so it can be checked before it is stored.
 */
import "./workflows.css";

import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { listWorkflows } from "../../api/workflows";
import type { WorkflowSummary } from "../../api/workflows";
import { useSession } from "../../app/session";
import type { BuilderState } from "../../builder/Builder";
import { useNotify } from "../../components/Notice";
import { PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { readSpecFile } from "../../lib/specIo";
import { useAsync } from "../../lib/useAsync";
import { useCursorPages } from "../../lib/useCursorPages";

const SEARCH_DELAY_MS = 300;

function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function Row({ workflow }: { workflow: WorkflowSummary }) {
  const ref = encodeURIComponent(workflow.name);
  return (
    <tr>
      <td>
        <Link to={`/workflows/${ref}`}>{workflow.name}</Link>
      </td>
      <td>{workflow.description || <span className="muted">No description</span>}</td>
      <td>
        {workflow.latest_version !== null ? (
          `v${workflow.latest_version}`
        ) : (
          <span className="muted">Draft only</span>
        )}
      </td>
      <td>{workflow.nodes}</td>
      <td>
        <time dateTime={workflow.updated_at}>{when(workflow.updated_at)}</time>
      </td>
      <td>
        <Link to={`/workflows/${ref}/versions`} aria-label={`Versions of ${workflow.name}`}>
          Versions
        </Link>
      </td>
    </tr>
  );
}

/** The workflows list screen. */
export default function WorkflowsList() {
  const editable = useSession().can("workflows:write");
  const notify = useNotify();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const search = params.get("q") ?? "";
  const [typed, setTyped] = useState(search);
  const pages = useCursorPages();
  const fileRef = useRef<HTMLInputElement>(null);
  const list = useAsync(
    () => listWorkflows({ cursor: pages.cursor, search }),
    [pages.cursor, search],
  );

  // Ask the server once typing pauses, not on every keystroke.
  const { first } = pages;
  useEffect(() => {
    if (typed.trim() === search) return;
    const timer = setTimeout(() => {
      const next = new URLSearchParams(params);
      if (typed.trim()) next.set("q", typed.trim());
      else next.delete("q");
      setParams(next, { replace: true });
      first();
    }, SEARCH_DELAY_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [typed, search, params, setParams, first]);

  const importFile = async (file: File) => {
    try {
      const spec = await readSpecFile(file);
      const state: BuilderState = { importedSpec: spec };
      notify("ok", `Opened ${file.name} in the builder. Save draft to store it.`);
      void navigate("/workflows/new", { state });
    } catch (reason) {
      notify(
        "error",
        `Could not import ${file.name}: ${reason instanceof Error ? reason.message : String(reason)}`,
      );
    }
  };

  return (
    <section aria-labelledby="workflows-title">
      <div className="page-header">
        <h1 id="workflows-title">Workflows</h1>
        <label className="workflows-search">
          Search workflows by name{" "}
          <input
            type="search"
            value={typed}
            onChange={(e) => {
              setTyped(e.target.value);
            }}
          />
        </label>
        {editable ? (
          <>
            <button type="button" onClick={() => fileRef.current?.click()}>
              Import
            </button>
            <input
              ref={fileRef}
              type="file"
              hidden
              accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"
              aria-label="Import a workflow file"
              data-testid="import-file"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = "";
                if (file) void importFile(file);
              }}
            />
            <button
              type="button"
              className="primary"
              onClick={() => {
                void navigate("/workflows/new");
              }}
            >
              New workflow
            </button>
          </>
        ) : null}
      </div>
      <PagedTable
        load={list}
        pages={pages}
        what="workflows"
        empty={
          search ? (
            <EmptyState title={`No workflow name contains “${search}”`}>
              <button
                type="button"
                onClick={() => {
                  setTyped("");
                }}
              >
                Clear the search
              </button>
            </EmptyState>
          ) : pages.page === 1 ? (
            <EmptyState title="No workflows yet">
              {editable
                ? "Create one with “New workflow”, or import a YAML or JSON spec file."
                : "Someone with the editor role can create one; ask them, or check another workspace."}
            </EmptyState>
          ) : (
            <EmptyState title="No more workflows on this page" />
          )
        }
        caption={<>Workflows{search ? ` whose name contains “${search}”` : ""}, by name</>}
        captionClassName="wf-sr-caption"
        columns={[
          "Name",
          "Description",
          "Latest version",
          "Nodes",
          "Updated",
          <span className="muted">History</span>,
        ]}
        rowKey={(w) => w.id}
        row={(w) => <Row workflow={w} />}
      />
    </section>
  );
}
