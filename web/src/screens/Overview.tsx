/**
 * The Overview screen (route `/`): the workspace at a glance, every figure from
 * `GET /api/v1/overview` (nothing is computed or invented here), refreshed live.
 *
 * This is the first screen, so it stays light: no React Flow, no dagre, only an SVG chart.
 */
import { useCallback } from "react";
import { Link } from "react-router";

import { fetchOverview } from "../api/overview";
import type { Overview as OverviewData, Percentiles } from "../api/overview";
import { StateBadge } from "../components/StateBadge";
import { ErrorState, Loading } from "../components/States";
import { useAsync } from "../lib/useAsync";
import { formatCount, formatDuration, formatTime } from "../lib/runsFormat";
import { useLive } from "../live/LiveProvider";
import type { LiveEvent } from "../live/socket";
import { OverviewChart } from "./runs/OverviewChart";
import { useCoalesced } from "./runs/useCoalesced";
import "./runs/overview.css";

const WINDOW_HOURS = 24;
/** Live events refresh the figures at most this often. */
const REFRESH_MS = 1000;
const NO_FINISHED = "no finished runs yet";

/**
 * Events that change a figure. Streamed text (`step.progress`), log lines (`step.logs`) and
 * heartbeats (an agent's load, which the overview does not show; state changes have their own
 * events) change none.
 */
function changesFigures(event: LiveEvent): boolean {
  if (
    event.type === "step.progress" ||
    event.type === "step.logs" ||
    event.type === "agent.heartbeat"
  ) {
    return false;
  }
  return /^(run|step|agent)\./.test(event.type);
}

function Kpi({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div className="ov-kpi card">
      <dt>{label}</dt>
      <dd>
        <span className="ov-value">{value}</span>
        {note ? <span className="ov-note muted">{note}</span> : null}
      </dd>
    </div>
  );
}

function percentileText(p: Percentiles): { value: string; note?: string } {
  if (p.p50_ms === null && p.p95_ms === null) return { value: "—", note: NO_FINISHED };
  return { value: `${formatDuration(p.p50_ms)} / ${formatDuration(p.p95_ms)}`, note: "p50 / p95" };
}

function CountList({ counts, badges }: { counts: Record<string, number>; badges?: boolean }) {
  const entries = Object.entries(counts);
  if (entries.length === 0) return <p className="muted">None.</p>;
  return (
    <ul className="ov-counts">
      {entries.map(([key, count]) => (
        <li key={key}>
          {badges ? <StateBadge state={key} /> : <span>{key}</span>}
          <span className="ov-count">{formatCount(count)}</span>
        </li>
      ))}
    </ul>
  );
}

function Figures({ data }: { data: OverviewData }) {
  const rate = data.runs.success_rate;
  const steps = percentileText(data.steps.duration);
  const runs = percentileText(data.runs.duration);
  const hours = data.window_hours;
  return (
    <>
      <dl className="ov-kpis">
        <Kpi
          label="Success rate"
          value={rate === null ? "—" : `${(rate * 100).toFixed(1)} %`}
          note={rate === null ? NO_FINISHED : `of ${formatCount(data.runs.finished)} finished runs`}
        />
        <Kpi
          label={`Runs (last ${hours} h)`}
          value={formatCount(data.runs.created)}
          note="created"
        />
        <Kpi
          label="Step throughput"
          value={`${data.steps.per_minute.toLocaleString()} / min`}
          note={`${formatCount(data.steps.finished)} steps finished`}
        />
        <Kpi label="Step duration" {...steps} />
        <Kpi label="Run duration" {...runs} />
        <Kpi
          label="Queue depth"
          value={formatCount(data.queue_depth)}
          note="steps waiting for an agent"
        />
        <Kpi label="Agents online" value={formatCount(data.agents.online)} />
        <Kpi
          label="LLM tokens"
          value={formatCount(data.llm.prompt_tokens + data.llm.completion_tokens)}
          note={`${formatCount(data.llm.prompt_tokens)} prompt, ${formatCount(data.llm.completion_tokens)} completion`}
        />
        <Kpi
          label="LLM cost"
          value={data.llm.cost.toLocaleString(undefined, { maximumFractionDigits: 4 })}
          note={`${formatCount(data.llm.calls)} calls`}
        />
      </dl>
      <div className="ov-panels">
        <section className="card" aria-labelledby="ov-runs-by-state">
          <h2 id="ov-runs-by-state">Runs by state</h2>
          <CountList counts={data.runs.by_state} badges />
          <p>
            <Link to="/runs">See all runs</Link>
          </p>
        </section>
        <section className="card" aria-labelledby="ov-agents-cat">
          <h2 id="ov-agents-cat">Agents online by category</h2>
          <CountList counts={data.agents.online_by_category} />
          <p className="muted">An agent counts under every category it serves.</p>
        </section>
        <section className="card" aria-labelledby="ov-agents-state">
          <h2 id="ov-agents-state">Agents by state</h2>
          <CountList counts={data.agents.by_state} badges />
        </section>
      </div>
      <section className="card" aria-labelledby="ov-chart-title">
        <h2 id="ov-chart-title">Runs per hour</h2>
        <OverviewChart buckets={data.chart} />
      </section>
    </>
  );
}

/** The home screen. */
export default function Overview() {
  const load = useCallback(() => fetchOverview(WINDOW_HOURS), []);
  const { data, error, loading, reload } = useAsync(load, [load]);
  const refresh = useCoalesced(reload, REFRESH_MS);
  useLive((event) => {
    if (changesFigures(event)) refresh();
  }, reload);
  return (
    <section className="overview" aria-busy={loading}>
      <div className="page-header">
        <h1>Overview</h1>
        {data ? (
          <span className="muted">
            Last {data.window_hours} h · updated {formatTime(data.generated_at)}
          </span>
        ) : null}
        <button type="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      {error && !data ? <ErrorState error={error} retry={reload} /> : null}
      {error && data ? (
        <p className="form-error" role="alert">
          Could not refresh: {error.message} The figures below are from the last success.
        </p>
      ) : null}
      {!data && !error ? <Loading what="the overview" /> : null}
      {data ? <Figures data={data} /> : null}
    </section>
  );
}
