/**
 * `/workflows/:ref/versions`: the deployed versions, newest first, and a line diff of the YAML
 * of any two of them (or of a version and the current draft). The server records when a
 * version was deployed but not by whom, so no author is shown.
 */
import "./workflows.css";

import { useState } from "react";
import { Link, useParams } from "react-router";

import { getWorkflow, listVersions } from "../../api/workflows";
import type { SpecDocument, WorkflowVersion } from "../../api/workflows";
import { PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { diffCounts, diffSpecs } from "../../lib/specDiff";
import { useAsync } from "../../lib/useAsync";
import { useCursorPages } from "../../lib/useCursorPages";

const DRAFT = "draft";

function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function nodeCount(spec: SpecDocument): number {
  return Array.isArray(spec.nodes) ? spec.nodes.length : 0;
}

/** The diff of two specs, with a summary and +/− markers on every changed line. */
function DiffView({
  before,
  after,
  labels,
}: {
  before: unknown;
  after: unknown;
  labels: [string, string];
}) {
  const lines = diffSpecs(before, after);
  const { added, removed } = diffCounts(lines);
  return (
    <section className="wf-diff" aria-labelledby="wf-diff-title">
      <h2 id="wf-diff-title">
        {labels[0]} → {labels[1]}
      </h2>
      <p role="status">
        {added === 0 && removed === 0
          ? "The two specs are identical."
          : `${added} line${added === 1 ? "" : "s"} added (+), ${removed} line${removed === 1 ? "" : "s"} removed (−).`}
      </p>
      <pre
        className="wf-diff-lines"
        role="region"
        tabIndex={0}
        aria-label={`Differences from ${labels[0]} to ${labels[1]}`}
      >
        {lines.map((line, i) => {
          // Every line is its own block: no newline characters needed, and none doubled.
          const text = `${line.marker} ${line.text}`;
          // Lines repeat freely; their position in the diff is their identity.
          if (line.kind === "added") {
            return (
              <ins key={i} className="wf-diff-added">
                <span className="wf-sr">added: </span>
                {text}
              </ins>
            );
          }
          if (line.kind === "removed") {
            return (
              <del key={i} className="wf-diff-removed">
                <span className="wf-sr">removed: </span>
                {text}
              </del>
            );
          }
          return (
            <span key={i} className="wf-diff-same">
              {text}
            </span>
          );
        })}
      </pre>
    </section>
  );
}

/** The versions screen. */
export default function Versions() {
  const ref = useParams().ref ?? "";
  const pages = useCursorPages();
  const workflow = useAsync(() => getWorkflow(ref), [ref]);
  const versions = useAsync(() => listVersions(ref, pages.cursor), [ref, pages.cursor]);
  const [left, setLeft] = useState("");
  const [right, setRight] = useState("");
  const [compared, setCompared] = useState<[string, string] | null>(null);

  const items = versions.data?.items ?? [];
  const name = workflow.data?.name ?? ref;
  // Defaults: the previous version against the newest, or the newest against the draft.
  const leftKey =
    left || (items[1] ? String(items[1].number) : items[0] ? String(items[0].number) : "");
  const rightKey = right || (items[1] && items[0] ? String(items[0].number) : DRAFT);
  const specOf = (key: string): SpecDocument | undefined =>
    key === DRAFT ? workflow.data?.spec : items.find((v) => String(v.number) === key)?.spec;
  const labelOf = (key: string) => (key === DRAFT ? "Draft" : `Version ${key}`);

  const options = [
    ...items.map((v) => ({ key: String(v.number), label: `Version ${v.number}` })),
    ...(workflow.data ? [{ key: DRAFT, label: "Draft (current)" }] : []),
  ];
  const pair = compared ? ([specOf(compared[0]), specOf(compared[1])] as const) : null;

  return (
    <section aria-labelledby="versions-title">
      <div className="page-header">
        <h1 id="versions-title">Versions of {name}</h1>
        <Link to={`/workflows/${encodeURIComponent(ref)}`}>Open in builder</Link>
      </div>
      <PagedTable
        load={versions}
        pages={pages}
        what="versions"
        empty={
          pages.page === 1 ? (
            <EmptyState title="Not deployed yet">
              Only the draft exists. Deploy it from the{" "}
              <Link to={`/workflows/${encodeURIComponent(ref)}`}>builder</Link> to create version 1.
            </EmptyState>
          ) : undefined
        }
        columns={["Version", "Deployed at", "Nodes"]}
        rowKey={(v) => v.id}
        row={(v: WorkflowVersion) => (
          <tr>
            <td>v{v.number}</td>
            <td>
              <time dateTime={v.created_at}>{when(v.created_at)}</time>
            </td>
            <td>{nodeCount(v.spec)}</td>
          </tr>
        )}
      />
      {options.length >= 2 ? (
        <form
          className="wf-compare"
          aria-label="Compare versions"
          onSubmit={(e) => {
            e.preventDefault();
            setCompared([leftKey, rightKey]);
          }}
        >
          <label>
            From{" "}
            <select
              value={leftKey}
              onChange={(e) => {
                setLeft(e.target.value);
              }}
            >
              {options.map((o) => (
                <option key={o.key} value={o.key}>
                  {o.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            To{" "}
            <select
              value={rightKey}
              onChange={(e) => {
                setRight(e.target.value);
              }}
            >
              {options.map((o) => (
                <option key={o.key} value={o.key}>
                  {o.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Compare</button>
        </form>
      ) : null}
      {compared && pair?.[0] && pair[1] ? (
        <DiffView
          before={pair[0]}
          after={pair[1]}
          labels={[labelOf(compared[0]), labelOf(compared[1])]}
        />
      ) : compared ? (
        <p className="field-error" role="alert">
          <span aria-hidden="true">⚠ </span>That version is not on this page any more; pick it
          again.
        </p>
      ) : null}
    </section>
  );
}
