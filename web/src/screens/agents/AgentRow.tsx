/** One row of the agent control board, and the compact cells it is made of. */
import { StateBadge } from "../../components/StateBadge";
import { canDrain, loadText } from "../../lib/agents";
import type { Agent, Capability } from "../../lib/agents";
import { absoluteTime, relativeTime } from "../../lib/agentsTime";

/** How many capabilities a row shows before folding the rest away. */
const SHOWN_CAPABILITIES = 3;

function Capabilities({ list }: { list: Capability[] }) {
  if (list.length === 0) return <span className="muted">none</span>;
  const shown = list.slice(0, SHOWN_CAPABILITIES);
  const rest = list.slice(SHOWN_CAPABILITIES);
  const chip = (cap: Capability) => (
    <li key={cap.name} className="ag-chip" title={cap.category ?? undefined}>
      {cap.name}
    </li>
  );
  return (
    <div className="ag-caps">
      <ul className="ag-chips">{shown.map(chip)}</ul>
      {rest.length > 0 ? (
        // A native disclosure: keyboard-operable and announced as expandable without scripting.
        <details className="ag-more">
          <summary>+{rest.length} more</summary>
          <ul className="ag-chips">{rest.map(chip)}</ul>
        </details>
      ) : null}
    </div>
  );
}

/** The agent's category; "mixed" names the categories it mixes. A dash when unknown. */
function categoryOf(agent: Agent): string {
  const named = agent.categories.filter((c) => c !== "mixed");
  if (agent.category === "mixed" && named.length > 0) return `mixed (${named.join(", ")})`;
  if (agent.category) return agent.category;
  const found = [
    ...new Set(agent.capabilities.map((c) => c.category).filter((c): c is string => !!c)),
  ];
  return found.length > 0 ? found.join(", ") : "—";
}

function Load({ agent }: { agent: Agent }) {
  const text = loadText(agent);
  const { running, concurrency } = agent;
  if (running === null || concurrency === null || concurrency <= 0) return <span>{text}</span>;
  return (
    <span className="ag-load">
      <meter
        min={0}
        max={concurrency}
        value={Math.min(running, concurrency)}
        aria-label={`Load of ${agent.name}`}
        aria-valuetext={`${running} of ${concurrency} steps running`}
      />
      <span>{text}</span>
    </span>
  );
}

/** Props of `AgentRow`. */
export interface AgentRowProps {
  agent: Agent;
  /** The ticking clock the relative times are measured from. */
  now: number;
  /** Whether the user may drain agents (`agents:manage`). */
  canManage: boolean;
  /** A drain of this agent is in flight. */
  busy: boolean;
  onDrain: (agent: Agent) => void;
}

/** An agent: identity, pool, capabilities, state, load, heartbeat and the Drain action. */
export function AgentRow({ agent, now, canManage, busy, onDrain }: AgentRowProps) {
  const nameId = `agent-name-${agent.id}`;
  const heartbeat = agent.last_heartbeat_at;
  return (
    <tr data-testid={`agent-${agent.id}`} className={`ag-row ag-row-${agent.state}`}>
      <th scope="row">
        <span id={nameId} className="ag-name">
          {agent.name}
        </span>
        {agent.builtin ? <span className="ag-tag">built-in</span> : null}
        <div className="muted ag-id">{agent.id}</div>
      </th>
      <td>{agent.pool || "—"}</td>
      <td>
        <Capabilities list={agent.capabilities} />
      </td>
      <td>{categoryOf(agent)}</td>
      <td>
        <StateBadge state={agent.state} />
      </td>
      <td>
        <span className="ag-host">{agent.host || "—"}</span>
        {agent.pid !== null ? <div className="muted">pid {agent.pid}</div> : null}
      </td>
      <td className="ag-version">{agent.version || "—"}</td>
      <td>
        <Load agent={agent} />
      </td>
      <td>
        {heartbeat ? (
          <time dateTime={heartbeat} title={absoluteTime(heartbeat)}>
            {relativeTime(heartbeat, now)}
          </time>
        ) : (
          "—"
        )}
      </td>
      <td className="ag-num">{agent.steps_done ?? "—"}</td>
      <td>
        {canManage && canDrain(agent) ? (
          <button
            type="button"
            aria-describedby={nameId}
            disabled={busy}
            onClick={() => {
              onDrain(agent);
            }}
          >
            {busy ? "Draining…" : "Drain"}
          </button>
        ) : null}
      </td>
    </tr>
  );
}
