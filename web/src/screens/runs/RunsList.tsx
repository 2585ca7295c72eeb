/**
 * The runs list (route `/runs`): server-paginated, filtered by workflow, state and creation
 * time, with the filters in the query string so a view can be shared and survives reloads.
 * Live: run events refetch the current page (coalesced), so new runs and state changes appear
 * without a reload. `?start=<workflow>` (or `?start=`) opens the start form.
 */
import { useCallback, useEffect, useState } from "react";
import type { SubmitEvent } from "react";
import { Link, useSearchParams } from "react-router";

import { listRuns, RUN_STATES } from "../../api/runs";
import type { RunFilters } from "../../api/runs";
import { useSession } from "../../app/session";
import { PagedTable } from "../../components/PagedTable";
import { StateBadge } from "../../components/StateBadge";
import { EmptyState } from "../../components/States";
import { formatDuration, formatTime, isoToLocalInput, localInputToIso } from "../../lib/runsFormat";
import { useAsync } from "../../lib/useAsync";
import { useCursorPages } from "../../lib/useCursorPages";
import { useLive } from "../../live/LiveProvider";
import { StartRun } from "./StartRun";
import { useCoalesced } from "./useCoalesced";
import "./runs.css";

const PAGE_SIZE = 25;
const FILTER_KEYS = ["workflow", "state", "created_after", "created_before"] as const;

function filtersFrom(params: URLSearchParams): RunFilters {
  const filters: RunFilters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key);
    if (value) filters[key] = value;
  }
  return filters;
}

/** The filter form; its fields are edited locally and applied on submit. */
function Filters({ value, onApply }: { value: RunFilters; onApply: (f: RunFilters) => void }) {
  const [workflow, setWorkflow] = useState(value.workflow ?? "");
  const [state, setState] = useState(value.state ?? "");
  const [after, setAfter] = useState(isoToLocalInput(value.created_after ?? ""));
  const [before, setBefore] = useState(isoToLocalInput(value.created_before ?? ""));
  // Navigating back and forth changes the URL: show its filters.
  useEffect(() => {
    setWorkflow(value.workflow ?? "");
    setState(value.state ?? "");
    setAfter(isoToLocalInput(value.created_after ?? ""));
    setBefore(isoToLocalInput(value.created_before ?? ""));
  }, [value.workflow, value.state, value.created_after, value.created_before]);
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    onApply({
      workflow: workflow.trim(),
      state,
      created_after: localInputToIso(after),
      created_before: localInputToIso(before),
    });
  };
  return (
    <form className="runs-filters" onSubmit={submit} aria-label="Filter runs">
      <label>
        Workflow
        <input
          type="search"
          value={workflow}
          placeholder="Name or id"
          onChange={(e) => {
            setWorkflow(e.target.value);
          }}
        />
      </label>
      <label>
        State
        <select
          value={state}
          onChange={(e) => {
            setState(e.target.value);
          }}
        >
          <option value="">Any state</option>
          {RUN_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Created after
        <input
          type="datetime-local"
          value={after}
          onChange={(e) => {
            setAfter(e.target.value);
          }}
        />
      </label>
      <label>
        Created before
        <input
          type="datetime-local"
          value={before}
          onChange={(e) => {
            setBefore(e.target.value);
          }}
        />
      </label>
      <div className="runs-filter-actions">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            onApply({});
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}

/** The runs screen. */
export default function RunsList() {
  const [params, setParams] = useSearchParams();
  const { can } = useSession();
  const filters = filtersFrom(params);
  // A stable key for the filters: effects and the loader depend on their values only.
  const key = JSON.stringify(filters);
  const pages = useCursorPages();
  const { first } = pages;
  // New filters start over from the first page.
  useEffect(() => {
    first();
  }, [key, first]);
  const { cursor } = pages;
  const load = useCallback(
    () => listRuns(JSON.parse(key) as RunFilters, cursor, PAGE_SIZE),
    [key, cursor],
  );
  const list = useAsync(load, [load]);
  const { error, loading, reload } = list;
  const refresh = useCoalesced(reload, 1000);
  useLive((event) => {
    if (event.type.startsWith("run.")) refresh();
  }, reload);

  const startOpen = params.has("start");
  const setStart = (open: boolean) => {
    const next = new URLSearchParams(params);
    if (open) next.set("start", "");
    else next.delete("start");
    setParams(next);
  };
  const apply = (f: RunFilters) => {
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      const v = f[k];
      if (v) next.set(k, v);
    }
    if (startOpen) next.set("start", params.get("start") ?? "");
    setParams(next);
  };
  const filtered = FILTER_KEYS.some((k) => params.get(k));

  return (
    <section aria-busy={loading}>
      <div className="page-header">
        <h1>Runs</h1>
        {can("runs:write") && !startOpen ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setStart(true);
            }}
          >
            Start run
          </button>
        ) : null}
      </div>
      {startOpen ? (
        <StartRun
          initialWorkflow={params.get("start") ?? ""}
          onClose={() => {
            setStart(false);
          }}
        />
      ) : null}
      <Filters value={filters} onApply={apply} />
      <PagedTable
        load={list}
        pages={pages}
        what="runs"
        // The page changes live, so the pager stays put; a failed refetch stays above the rows.
        alwaysPager
        staleError
        empty={
          // A failed refetch is not "no runs": nothing is claimed until the list answers again.
          error ? null : (
            <EmptyState title={filtered ? "No run matches these filters" : "No runs yet"}>
              {filtered
                ? "Clear or widen the filters to see more."
                : "Start a run of a deployed workflow, or let a trigger start one."}
            </EmptyState>
          )
        }
        className="runs-table"
        caption="Runs, newest first"
        columns={["Run", "Workflow", "Version", "State", "Created", "Duration"]}
        rowKey={(run) => run.id}
        row={(run) => (
          <tr data-testid={`run-${run.id}`}>
            <td>
              <Link to={`/runs/${run.id}`} className="runs-id">
                {run.id}
              </Link>
            </td>
            <td>{run.workflow_name}</td>
            <td>v{run.version}</td>
            <td>
              <StateBadge state={run.state} />
            </td>
            <td>
              <time dateTime={run.created_at}>{formatTime(run.created_at)}</time>
            </td>
            <td>
              {run.duration_ms === null ? (
                <span className="muted">not finished</span>
              ) : (
                formatDuration(run.duration_ms)
              )}
            </td>
          </tr>
        )}
      />
    </section>
  );
}
