/**
 * The agent control board (`/agents`): every agent of the workspace, page by page from the
 * server, kept current by `agent.*` live events, with Drain for those allowed to manage agents.
 */
import { useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";

import { drainAgent, listAgents } from "../../api/agents";
import type { Agent, AgentState } from "../../api/agents";
import { useSession } from "../../app/session";
import { ConfirmDialog } from "../../components/Confirm";
import { ACTIONS, PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import {
  AGENT_STATES,
  applyAgentEvent,
  isAgentEvent,
  matchesFilter,
  poolsOf,
  shouldRefetch,
} from "../../lib/agents";
import { useNow } from "../../lib/agentsTime";
import { useAsync } from "../../lib/useAsync";
import { useConfirmedAction } from "../../lib/useConfirmedAction";
import { useCursorPages } from "../../lib/useCursorPages";
import { useLive } from "../../live/LiveProvider";
import { AgentRow } from "./AgentRow";
import "./agents.css";

/** How long to gather live events that call for a refetch before doing one. */
const REFETCH_DELAY_MS = 1000;

function isState(value: string | null): value is AgentState {
  return AGENT_STATES.some((state) => state === value);
}

/** What to do when there is no agent at all: how to start one. */
function NoAgents() {
  const server = window.location.origin;
  return (
    <EmptyState title="No agents have registered in this workspace yet">
      <p>
        Agents run the steps of your workflows. Start one on any machine that can reach this server:
      </p>
      <pre className="ag-cmd">
        <code>{`qo agent --server ${server} --token <agent token> --pool default`}</code>
      </pre>
      <p>
        Create its token with <code>qo agent-tokens create NAME --pool default</code>; add{" "}
        <code>--import my_agents.py</code> to serve your own node types and{" "}
        <code>--concurrency N</code> to run several steps at once. <code>qo up</code> runs built-in
        agents next to the server. New agents appear here as soon as they register.
      </p>
    </EmptyState>
  );
}

/** The `/agents` screen. */
export default function Agents() {
  const { can } = useSession();
  const canManage = can("agents:manage");
  const now = useNow();
  const [params, setParams] = useSearchParams();
  const rawState = params.get("state");
  const state = isState(rawState) ? rawState : null;
  // An empty `?pool=` means any pool, like no parameter at all.
  const pool = params.get("pool")?.trim() ? params.get("pool") : null;
  const pages = useCursorPages();
  const list = useAsync(
    () => listAgents({ cursor: pages.cursor, state, pool }),
    [pages.cursor, state, pool],
  );
  const { data, loading, reload } = list;

  // The page as loaded, then patched by live events until the next load replaces it.
  const [rows, setRows] = useState<readonly Agent[]>([]);
  useEffect(() => {
    if (data) setRows(data.items);
  }, [data]);

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const scheduleReload = () => {
    // Several agents often register together (a restart): one refetch covers them all.
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      reload();
    }, REFETCH_DELAY_MS);
  };

  const firstPage = pages.page === 1;
  useLive((event) => {
    if (!isAgentEvent(event)) return;
    const complete = data?.next_cursor === null;
    if (shouldRefetch(rows, event, { firstPage, complete, filter: { state, pool } })) {
      scheduleReload();
    }
    setRows((current) => applyAgentEvent(current, event, { insertNew: firstPage }));
  }, reload);

  const drain = useConfirmedAction<Agent, Agent | null>({
    run: (agent) => drainAgent(agent.id),
    // The answer is the agent's new state: the row shows it without a refetch.
    onDone: (_agent, updated) => {
      if (updated) setRows((current) => current.map((a) => (a.id === updated.id ? updated : a)));
    },
    done: (agent) =>
      `${agent.name} is draining: it finishes the steps it holds and takes no new work.`,
    failed: (agent, why) => `Could not drain ${agent.name}: ${why}`,
    // A refusal usually means the agent changed state meanwhile (409): show what it is now.
    reload,
    reloadAfter: "failure",
  });

  const setFilter = (key: "state" | "pool", value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
    pages.first();
  };
  const filtered = state !== null || pool !== null;
  const shown = rows.filter((agent) => matchesFilter(agent, { state, pool }));

  return (
    <section aria-labelledby="agents-title">
      <div className="page-header">
        <h1 id="agents-title">Agents</h1>
        <form
          className="ag-filters"
          aria-label="Filter agents"
          onSubmit={(event) => {
            event.preventDefault();
          }}
        >
          <label>
            State{" "}
            <select
              value={state ?? ""}
              onChange={(event) => {
                setFilter("state", event.target.value);
              }}
            >
              <option value="">Any state</option>
              {AGENT_STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Pool{" "}
            <select
              value={pool ?? ""}
              onChange={(event) => {
                setFilter("pool", event.target.value);
              }}
            >
              <option value="">Any pool</option>
              {poolsOf(rows, pool).map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={reload} disabled={loading}>
            Refresh
          </button>
        </form>
      </div>
      {!canManage ? (
        <p className="muted ag-note">
          <span aria-hidden="true">ℹ </span>You need the admin role to drain agents.
        </p>
      ) : null}
      <PagedTable
        load={list}
        pages={pages}
        what="agents"
        rows={shown}
        staleError
        empty={
          pages.page === 1 && !filtered ? (
            <NoAgents />
          ) : (
            <EmptyState
              title={filtered ? "No agents match these filters" : "No agents on this page"}
            >
              {filtered ? (
                <button
                  type="button"
                  onClick={() => {
                    setParams(new URLSearchParams(), { replace: true });
                    pages.first();
                  }}
                >
                  Clear filters
                </button>
              ) : null}
            </EmptyState>
          )
        }
        scrollClassName="ag-scroll"
        className="ag-table"
        busy={loading}
        caption={<>Agents{filtered ? " (filtered)" : ""}, newest registration first</>}
        columns={[
          "Name",
          "Pool",
          "Capabilities",
          "Category",
          "State",
          "Host",
          "Version",
          "Load",
          "Last heartbeat",
          "Steps done",
          ACTIONS,
        ]}
        rowKey={(agent) => agent.id}
        row={(agent) => (
          <AgentRow
            agent={agent}
            now={now}
            canManage={canManage}
            busy={drain.busy?.id === agent.id}
            onDrain={drain.ask}
          />
        )}
      />
      <ConfirmDialog
        {...drain.dialog}
        title={`Drain ${drain.asked?.name ?? "agent"}?`}
        confirmLabel="Drain"
        danger
      >
        <p>
          Draining stops new work: the agent finishes the steps it is running and takes no more.
          There is no undo here: a drained agent takes work again only once it is restarted and
          registers anew.
        </p>
      </ConfirmDialog>
    </section>
  );
}
