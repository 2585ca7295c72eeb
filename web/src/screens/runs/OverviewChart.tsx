/**
 * The overview's hourly chart: runs created per hour, stacked by state, as a hand-written SVG
 * (no chart library on the first screen). The picture is one labelled image; the numbers are
 * in a visually hidden table for screen readers, and the legend names every state.
 */
import type { ChartBucket } from "../../api/overview";
import "./overview.css";

/**
 * States stacked bottom-up. Colours come from classes (`ov-fill-<state>` in overview.css), not
 * attributes: the CSP forbids inline styles and `var()` is not valid in SVG attributes.
 */
const STACK: { state: string; label: string }[] = [
  { state: "succeeded", label: "succeeded" },
  { state: "failed", label: "failed" },
  { state: "cancelled", label: "cancelled" },
  { state: "running", label: "running" },
  { state: "waiting", label: "waiting" },
  { state: "queued", label: "queued" },
];

const WIDTH = 720;
const HEIGHT = 180;
const AXIS = 24;
/** Room at both ends so the first and last hour labels are not cut. */
const PAD = 24;

function hourLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** A sentence summarising the chart, for its accessible name. */
export function chartSummary(buckets: readonly ChartBucket[]): string {
  const total = buckets.reduce((sum, b) => sum + b.runs_total, 0);
  if (total === 0) return `No runs were created in the last ${buckets.length} hours.`;
  const busiest = buckets.reduce((best, b) => (b.runs_total > best.runs_total ? b : best));
  const byState = STACK.map(
    ({ state }) => [state, buckets.reduce((sum, b) => sum + (b.runs[state] ?? 0), 0)] as const,
  )
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  return (
    `${total} runs created in the last ${buckets.length} hours (${byState}); ` +
    `the busiest hour, starting ${hourLabel(busiest.start)}, had ${busiest.runs_total}.`
  );
}

/** Runs per hour, stacked by state. */
export function OverviewChart({ buckets }: { buckets: readonly ChartBucket[] }) {
  const max = Math.max(1, ...buckets.map((b) => b.runs_total));
  const slot = (WIDTH - 2 * PAD) / Math.max(1, buckets.length);
  const barWidth = Math.max(2, slot * 0.7);
  const plot = HEIGHT - AXIS;
  return (
    <figure className="ov-chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={chartSummary(buckets)}
        className="ov-chart-svg"
      >
        <line x1={PAD} x2={WIDTH - PAD} y1={plot} y2={plot} className="ov-axis" />
        {buckets.map((bucket, index) => {
          let y = plot;
          const x = PAD + index * slot + (slot - barWidth) / 2;
          return (
            <g key={bucket.start}>
              {STACK.map(({ state }) => {
                const count = bucket.runs[state] ?? 0;
                if (count === 0) return null;
                const height = (count / max) * (plot - 4);
                y -= height;
                return (
                  <rect
                    key={state}
                    x={x}
                    y={y}
                    width={barWidth}
                    height={height}
                    className={`ov-fill-${state}`}
                  >
                    <title>{`${hourLabel(bucket.start)}: ${count} ${state}`}</title>
                  </rect>
                );
              })}
              {index % 3 === 0 ? (
                <text x={x + barWidth / 2} y={HEIGHT - 6} textAnchor="middle" className="ov-tick">
                  {hourLabel(bucket.start)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul className="ov-legend" aria-label="Legend">
          {STACK.map(({ state, label }) => (
            <li key={state}>
              <span className={`ov-swatch ov-fill-${state}`} aria-hidden="true" />
              {label}
            </li>
          ))}
        </ul>
        <span className="ov-scale">Tallest bar: {max} runs</span>
      </figcaption>
      <div className="sr-only">
        <table>
          <caption>Runs created per hour, by state</caption>
          <thead>
            <tr>
              <th scope="col">Hour starting</th>
              {STACK.map(({ state }) => (
                <th key={state} scope="col">
                  {state}
                </th>
              ))}
              <th scope="col">total</th>
            </tr>
          </thead>
          <tbody>
            {buckets.map((bucket) => (
              <tr key={bucket.start}>
                <th scope="row">{hourLabel(bucket.start)}</th>
                {STACK.map(({ state }) => (
                  <td key={state}>{bucket.runs[state] ?? 0}</td>
                ))}
                <td>{bucket.runs_total}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
