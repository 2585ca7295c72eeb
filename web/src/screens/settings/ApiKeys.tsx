/**
 * Settings › API keys: the workspace's keys (metadata only), creating, rotating and revoking
 * them. A new key is shown once in `RevealKey` and kept nowhere else.
 */
import { useState } from "react";
import type { SubmitEvent } from "react";

import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from "../../api/settings";
import type { ApiKey, IssuedApiKey, Role } from "../../api/settings";
import { useSession } from "../../app/session";
import { ConfirmDialog } from "../../components/Confirm";
import { useNotify } from "../../components/Notice";
import { ACTIONS, PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { absoluteTime, relativeTime, useNow } from "../../lib/agentsTime";
import { useAsync } from "../../lib/useAsync";
import { useConfirmedAction } from "../../lib/useConfirmedAction";
import { useCursorPages } from "../../lib/useCursorPages";
import { errorText, keyStatus, localToIso, parseGraceHours, rolesUpTo } from "./logic";
import { RevealKey } from "./RevealKey";
import { NeedRole, When } from "./shared";

const STATUS_ICON = { active: "✓", expiring: "◷", expired: "✗" } as const;

function KeyState({ apiKey, now }: { apiKey: ApiKey; now: number }) {
  const status = keyStatus(apiKey, now);
  const text =
    status === "active"
      ? "active"
      : status === "expired"
        ? "expired"
        : `expires ${relativeTime(apiKey.expires_at, now)}`;
  return (
    <span className={`badge st-key-${status}`} title={absoluteTime(apiKey.expires_at)}>
      <span aria-hidden="true">{STATUS_ICON[status]}</span> {text}
    </span>
  );
}

function CreateKeyForm({
  roles,
  onCreate,
}: {
  roles: Role[];
  onCreate: (b: NewKey) => Promise<boolean>;
}) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [expires, setExpires] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const expiresAt = localToIso(expires);
    if (expires && (!expiresAt || Date.parse(expiresAt) <= Date.now())) {
      setProblem("The expiry must be a time in the future.");
      return;
    }
    setProblem(null);
    setBusy(true);
    const ok = await onCreate({ name: name.trim(), role, expires_at: expiresAt });
    setBusy(false);
    if (ok) {
      setName("");
      setExpires("");
    }
  };
  return (
    <form className="st-form" aria-labelledby="create-key-title" onSubmit={(e) => void submit(e)}>
      <h2 id="create-key-title">Create an API key</h2>
      <label>
        Name
        <input
          required
          maxLength={100}
          value={name}
          onChange={(e) => {
            setName(e.target.value);
          }}
        />
      </label>
      <label>
        Role
        <select
          value={role}
          onChange={(e) => {
            setRole(e.target.value as Role);
          }}
        >
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>
          Expires <span className="muted">(optional; empty = never)</span>
        </span>
        <input
          type="datetime-local"
          value={expires}
          aria-invalid={problem !== null}
          aria-describedby={problem ? "key-expiry-error" : undefined}
          onChange={(e) => {
            setExpires(e.target.value);
          }}
        />
      </label>
      {problem ? (
        <p id="key-expiry-error" className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={busy}>
        Create key
      </button>
    </form>
  );
}

interface NewKey {
  name: string;
  role: Role;
  expires_at: string | null;
}

interface Revealed {
  issued: IssuedApiKey;
  /** The key it replaced, after a rotation. */
  replaced: ApiKey | null;
  graceHours: number | null;
}

/** A key and what to do with it, once the user confirms. */
interface KeyAction {
  kind: "rotate" | "revoke";
  key: ApiKey;
}

/** The API keys tab. */
export default function ApiKeys() {
  const { me, can } = useSession();
  const notify = useNotify();
  const now = useNow(30_000);
  const canRead = can("keys:read");
  const canWrite = can("keys:write");
  const pages = useCursorPages();
  const list = useAsync(
    () => (canRead ? listApiKeys(pages.cursor) : Promise.resolve({ items: [], next_cursor: null })),
    [canRead, pages.cursor],
  );
  const { data, loading, reload } = list;
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [grace, setGrace] = useState("");
  const graceHours = parseGraceHours(grace);
  // What a rotation sends: `ready` below holds it back while the text is invalid.
  const hours = graceHours === "invalid" ? null : graceHours;
  // One action for both buttons, so that one dialog serves both (as it always has).
  const keyAction = useConfirmedAction<KeyAction, IssuedApiKey | null>({
    // A rotation waits for a valid grace period; the dialog says what is wrong meanwhile.
    ready: ({ kind }) => kind === "revoke" || graceHours !== "invalid",
    run: async ({ kind, key }) => {
      if (kind === "revoke") {
        await revokeApiKey(key.id);
        return null;
      }
      setGrace("");
      return rotateApiKey(key.id, hours);
    },
    onDone: ({ key }, issued) => {
      if (issued) setRevealed({ issued, replaced: key, graceHours: hours });
    },
    done: ({ kind, key }) =>
      kind === "revoke"
        ? `API key ${key.name} revoked: it no longer works.`
        : `API key ${key.name} rotated.`,
    failed: ({ kind, key }, why) => `Could not ${kind} ${key.name}: ${why}`,
    reload,
  });
  if (!canRead) return <NeedRole permission="keys:read" doing="see or manage API keys" />;

  const create = async (body: NewKey): Promise<boolean> => {
    try {
      const issued = await createApiKey(body);
      setRevealed({ issued, replaced: null, graceHours: null });
      notify("ok", `API key ${issued.name} created.`);
      reload();
      return true;
    } catch (reason) {
      notify("error", `Could not create the key: ${errorText(reason)}`);
      return false;
    }
  };

  // After a rotation the list holds the old key with the end of its grace period.
  const replacedNow = revealed?.replaced
    ? data?.items.find((k) => k.id === revealed.replaced?.id)
    : undefined;

  const asked = keyAction.asked;
  return (
    <div className="st-panel">
      {canWrite ? (
        <CreateKeyForm roles={rolesUpTo(me?.role)} onCreate={create} />
      ) : (
        <NeedRole permission="keys:write" doing="create, rotate or revoke API keys" />
      )}
      <PagedTable
        load={list}
        pages={pages}
        what="API keys"
        empty={
          pages.page === 1 ? (
            <EmptyState title="No API keys yet">
              <p>API keys let programs and CI call the API with a role you choose.</p>
            </EmptyState>
          ) : undefined
        }
        className="st-table"
        busy={loading}
        caption="API keys that still work"
        columns={["Name", "Prefix", "Role", "Created", "Last used", "Expires", "State", ACTIONS]}
        rowKey={(key) => key.id}
        row={(key) => (
          <tr data-testid={`api-key-${key.id}`}>
            <th scope="row" id={`key-name-${key.id}`} className="st-strong">
              {key.name}
            </th>
            <td>
              <code>{key.prefix}…</code>
            </td>
            <td>{key.role}</td>
            <td>
              <When iso={key.created_at} now={now} />
            </td>
            <td>
              <When iso={key.last_used_at} now={now} none="never" />
            </td>
            <td>
              <When iso={key.expires_at} now={now} none="never" />
            </td>
            <td>
              <KeyState apiKey={key} now={now} />
            </td>
            <td>
              <div className="st-actions">
                {canWrite
                  ? (["rotate", "revoke"] as const).map((kind) => (
                      <button
                        key={kind}
                        type="button"
                        disabled={keyAction.busy?.key.id === key.id}
                        aria-describedby={`key-name-${key.id}`}
                        onClick={() => {
                          keyAction.ask({ kind, key });
                        }}
                      >
                        {kind === "rotate" ? "Rotate" : "Revoke"}
                      </button>
                    ))
                  : null}
              </div>
            </td>
          </tr>
        )}
      />
      <RevealKey
        secret={revealed?.issued.key ?? null}
        title={revealed?.replaced ? `New key for ${revealed.replaced.name}` : "Your new API key"}
        onClose={() => {
          setRevealed(null);
        }}
      >
        {revealed?.replaced ? (
          <p>
            The old key keeps working for the grace period
            {revealed.graceHours === null
              ? " (the server's default, 24 hours unless configured otherwise)"
              : ` (${revealed.graceHours} hours)`}
            {replacedNow?.expires_at ? `, until ${absoluteTime(replacedNow.expires_at)}` : ""}, then
            expires. Switch your programs to the new key before then.
          </p>
        ) : null}
      </RevealKey>
      <ConfirmDialog
        {...keyAction.dialog}
        title={`${asked?.kind === "revoke" ? "Revoke" : "Rotate"} ${asked?.key.name ?? "key"}?`}
        confirmLabel={asked?.kind === "revoke" ? "Revoke" : "Rotate"}
        danger={asked?.kind === "revoke"}
        onCancel={() => {
          keyAction.cancel();
          setGrace("");
        }}
      >
        {asked?.kind === "revoke" ? (
          <p>Programs using this key are refused from their next request. This cannot be undone.</p>
        ) : (
          <>
            <p>
              A new key with the same name and role replaces this one and is shown once. The old key
              keeps working for a grace period, then expires.
            </p>
            <label className="st-field">
              <span>
                Grace period in hours <span className="muted">(empty = server default, 24 h)</span>
              </span>
              <input
                type="number"
                min={0}
                max={8760}
                step="any"
                value={grace}
                aria-invalid={graceHours === "invalid"}
                onChange={(e) => {
                  setGrace(e.target.value);
                }}
              />
            </label>
            {graceHours === "invalid" ? (
              <p className="field-error" role="alert">
                Enter 0 to 8760 hours, or leave it empty.
              </p>
            ) : null}
          </>
        )}
      </ConfirmDialog>
    </div>
  );
}
