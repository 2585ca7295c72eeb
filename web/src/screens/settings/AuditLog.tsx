/**
 * Settings › Audit log: who did what to which object, when and from where, newest first, with
 * the filters `GET /api/v1/audit` supports and the server's cursor pagination.
 */
import { useState } from "react";
import type { SubmitEvent } from "react";

import { listAudit } from "../../api/settings";
import type { AuditEntry, AuditFilter } from "../../api/settings";
import { useSession } from "../../app/session";
import { PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { useAsync } from "../../lib/useAsync";
import { useCursorPages } from "../../lib/useCursorPages";
import { localToIso } from "./logic";
import { NeedRole } from "./shared";

const NO_FILTER: AuditFilter = {
  action: "",
  actor_id: "",
  target_type: "",
  target_id: "",
  since: "",
  until: "",
};

/** The text inputs of the filter form, with their labels and hints. */
const TEXT_FIELDS: {
  key: "action" | "actor_id" | "target_type" | "target_id";
  label: string;
  hint: string;
}[] = [
  { key: "action", label: "Action", hint: "e.g. workflow.deploy" },
  { key: "actor_id", label: "Actor id", hint: "user or key id" },
  { key: "target_type", label: "Target type", hint: "e.g. api_key" },
  { key: "target_id", label: "Target id", hint: "" },
];

function Outcome({ outcome }: { outcome: string }) {
  const ok = outcome === "success";
  return (
    <span className={`badge st-outcome-${ok ? "ok" : "bad"}`}>
      <span aria-hidden="true">{ok ? "✓" : "✗"}</span> {outcome}
    </span>
  );
}

function exactTime(iso: string | null): string {
  if (!iso) return "—";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString();
}

function EntryRow({ entry }: { entry: AuditEntry }) {
  // Everything not already in a column, so nothing the server recorded is hidden.
  const more = {
    details: entry.details,
    actor_type: entry.actor_type,
    actor_id: entry.actor_id,
    user_agent: entry.user_agent,
    request_id: entry.request_id,
    seq: entry.seq,
    id: entry.id,
    digest: entry.digest,
    hash: entry.hash,
    prev_hash: entry.prev_hash,
  };
  return (
    <tr data-testid={`audit-${entry.id}`}>
      <td>{entry.at ? <time dateTime={entry.at}>{exactTime(entry.at)}</time> : "—"}</td>
      <td>
        <span className="st-strong">{entry.actor_label ?? entry.actor_id ?? "—"}</span>
        <div className="muted">{entry.actor_type}</div>
      </td>
      <td>
        <code>{entry.action}</code>
      </td>
      <td>
        {entry.target_type ? <span className="muted">{entry.target_type} </span> : null}
        {entry.target_id ? <code className="st-break">{entry.target_id}</code> : null}
        {!entry.target_type && !entry.target_id ? "—" : null}
      </td>
      <td>
        <Outcome outcome={entry.outcome} />
      </td>
      <td>{entry.source_ip ?? "—"}</td>
      <td>
        <details className="st-details">
          <summary>Details</summary>
          <pre>{JSON.stringify(more, null, 2)}</pre>
        </details>
      </td>
    </tr>
  );
}

/** The Audit log tab. */
export default function AuditLog() {
  const { can } = useSession();
  const canRead = can("audit:read");
  const [draft, setDraft] = useState<AuditFilter>(NO_FILTER);
  const [applied, setApplied] = useState<AuditFilter>(NO_FILTER);
  const [problem, setProblem] = useState<string | null>(null);
  const pages = useCursorPages();
  const list = useAsync(
    () =>
      canRead
        ? listAudit(applied, pages.cursor)
        : Promise.resolve({ items: [], next_cursor: null }),
    [canRead, applied, pages.cursor],
  );
  if (!canRead) return <NeedRole permission="audit:read" doing="read the audit log" />;

  const apply = (event: SubmitEvent) => {
    event.preventDefault();
    // The form holds local times; the API wants ISO 8601 with a time zone.
    const since = draft.since ? localToIso(draft.since) : "";
    const until = draft.until ? localToIso(draft.until) : "";
    if (since === null || until === null) {
      setProblem("Enter the times as a date and a time.");
      return;
    }
    setProblem(null);
    setApplied({ ...draft, since, until });
    pages.first();
  };
  const clear = () => {
    setDraft(NO_FILTER);
    setApplied(NO_FILTER);
    setProblem(null);
    pages.first();
  };
  const filtered = Object.values(applied).some(Boolean);

  return (
    <div className="st-panel">
      <form className="st-form st-filters" aria-label="Filter the audit log" onSubmit={apply}>
        {TEXT_FIELDS.map((field) => (
          <label key={field.key}>
            {field.label}
            <input
              value={draft[field.key]}
              maxLength={field.key === "target_id" ? 200 : 64}
              placeholder={field.hint}
              onChange={(e) => {
                setDraft({ ...draft, [field.key]: e.target.value });
              }}
            />
          </label>
        ))}
        <label>
          From
          <input
            type="datetime-local"
            value={draft.since}
            onChange={(e) => {
              setDraft({ ...draft, since: e.target.value });
            }}
          />
        </label>
        <label>
          Before
          <input
            type="datetime-local"
            value={draft.until}
            onChange={(e) => {
              setDraft({ ...draft, until: e.target.value });
            }}
          />
        </label>
        <div className="st-buttons">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button type="button" onClick={clear} disabled={!filtered}>
            Clear
          </button>
        </div>
        {problem ? (
          <p className="field-error" role="alert">
            {problem}
          </p>
        ) : null}
      </form>
      <PagedTable
        load={list}
        pages={pages}
        what="the audit log"
        staleError
        empty={
          <EmptyState
            title={filtered ? "No entries match these filters" : "The audit log is empty"}
          >
            {filtered ? (
              <button type="button" onClick={clear}>
                Clear filters
              </button>
            ) : (
              <p>Sign-ins, deployments, key and member changes are recorded here.</p>
            )}
          </EmptyState>
        }
        scrollClassName="st-scroll"
        className="st-table"
        busy={list.loading}
        caption="Audit log, newest first"
        columns={["Time", "Actor", "Action", "Target", "Outcome", "Source IP", "Details"]}
        rowKey={(entry) => entry.id}
        row={(entry) => <EntryRow entry={entry} />}
      />
    </div>
  );
}
