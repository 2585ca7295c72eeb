/**
 * Settings › Secrets: names and timestamps of the workspace's secrets; add, replace a value,
 * delete. Values only ever go to the server (password inputs, cleared after sending); the API
 * never returns them, so nothing here can show one.
 */
import { useEffect, useId, useRef, useState } from "react";
import type { SubmitEvent } from "react";

import { createSecret, deleteSecret, listSecrets, updateSecret } from "../../api/settings";
import type { Secret } from "../../api/settings";
import { useSession } from "../../app/session";
import { ConfirmDialog } from "../../components/Confirm";
import { useNotify } from "../../components/Notice";
import { ACTIONS, PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { useNow } from "../../lib/agentsTime";
import { useAsync } from "../../lib/useAsync";
import { useConfirmedAction } from "../../lib/useConfirmedAction";
import { useCursorPages } from "../../lib/useCursorPages";
import { SECRET_NAME_PATTERN, errorText, secretNameError } from "./logic";
import { NeedRole, When } from "./shared";

function AddSecretForm({ onAdd }: { onAdd: (name: string, value: string) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const wrong = secretNameError(name) ?? (value ? null : "Enter a value.");
    setProblem(wrong);
    if (wrong) return;
    setBusy(true);
    const ok = await onAdd(name, value);
    setBusy(false);
    // The value is cleared either way: it should not linger in the page.
    setValue("");
    if (ok) setName("");
  };
  return (
    <form className="st-form" aria-labelledby="add-secret-title" onSubmit={(e) => void submit(e)}>
      <h2 id="add-secret-title">Add a secret</h2>
      <label>
        Name
        <input
          required
          pattern={SECRET_NAME_PATTERN}
          maxLength={100}
          autoComplete="off"
          spellCheck={false}
          value={name}
          aria-describedby="secret-name-hint"
          aria-invalid={problem !== null && secretNameError(name) !== null}
          onChange={(e) => {
            setName(e.target.value.toUpperCase());
          }}
        />
      </label>
      <label>
        Value
        <input
          type="password"
          required
          maxLength={65_536}
          autoComplete="new-password"
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
          }}
        />
      </label>
      <p id="secret-name-hint" className="muted st-hint">
        Upper-case letters, digits and _, e.g. <code>OPENAI_API_KEY</code>. Workflows refer to it by
        name; the value is encrypted and never shown again.
      </p>
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={busy}>
        Add secret
      </button>
    </form>
  );
}

/** A modal asking for a secret's new value. */
function NewValueDialog({
  secret,
  onSave,
  onCancel,
}: {
  secret: Secret | null;
  onSave: (value: string) => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [value, setValue] = useState("");
  const open = secret !== null;
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
    setValue("");
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={onCancel}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value) onSave(value);
        }}
      >
        <h2 id={titleId}>Update {secret?.name ?? "secret"}</h2>
        <p>The new value replaces the old one for every step that runs from now on.</p>
        <label className="st-field">
          New value
          <input
            type="password"
            required
            maxLength={65_536}
            autoComplete="new-password"
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
            }}
          />
        </label>
        <div className="dialog-actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!value}>
            Save value
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** The Secrets tab. */
export default function Secrets() {
  const { can } = useSession();
  const notify = useNotify();
  const now = useNow(30_000);
  const canRead = can("secrets:read");
  const canWrite = can("secrets:write");
  const pages = useCursorPages();
  const list = useAsync(
    () => (canRead ? listSecrets(pages.cursor) : Promise.resolve({ items: [], next_cursor: null })),
    [canRead, pages.cursor],
  );
  const { loading, reload } = list;
  const [toUpdate, setToUpdate] = useState<Secret | null>(null);
  // The new value's own dialog asks first; this runs the update once it is saved.
  const update = useConfirmedAction<{ secret: Secret; value: string }>({
    run: ({ secret, value }) => updateSecret(secret.name, value),
    done: ({ secret }) => `Secret ${secret.name} updated.`,
    failed: ({ secret }, why) => `Could not update ${secret.name}: ${why}`,
    reload,
  });
  const removal = useConfirmedAction<Secret>({
    run: (secret) => deleteSecret(secret.name),
    done: (secret) => `Secret ${secret.name} deleted.`,
    failed: (secret, why) => `Could not delete ${secret.name}: ${why}`,
    reload,
  });
  const pending = update.busy?.secret.name ?? removal.busy?.name ?? null;
  if (!canRead) return <NeedRole permission="secrets:read" doing="see the secrets" />;

  const add = async (name: string, value: string): Promise<boolean> => {
    try {
      await createSecret(name, value);
      notify("ok", `Secret ${name} added.`);
      reload();
      return true;
    } catch (reason) {
      notify("error", `Could not add ${name}: ${errorText(reason)}`);
      return false;
    }
  };

  return (
    <div className="st-panel">
      {canWrite ? (
        <AddSecretForm onAdd={add} />
      ) : (
        <NeedRole permission="secrets:write" doing="add, change or delete secrets" />
      )}
      <PagedTable
        load={list}
        pages={pages}
        what="secrets"
        empty={
          pages.page === 1 ? (
            <EmptyState title="No secrets yet">
              <p>
                Secrets hold credentials that workflow steps use without them appearing in specs.
              </p>
            </EmptyState>
          ) : undefined
        }
        className="st-table"
        busy={loading}
        caption="Secrets (names only; values are never shown)"
        columns={["Name", "Created", "Updated", "Last used", ACTIONS]}
        rowKey={(secret) => secret.name}
        row={(secret) => (
          <tr data-testid={`secret-${secret.name}`}>
            <th scope="row" id={`secret-name-${secret.name}`}>
              <code>{secret.name}</code>
            </th>
            <td>
              <When iso={secret.created_at} now={now} />
            </td>
            <td>
              <When iso={secret.updated_at} now={now} />
            </td>
            <td>
              <When iso={secret.last_used_at} now={now} none="never" />
            </td>
            <td>
              <div className="st-actions">
                {canWrite ? (
                  <>
                    <button
                      type="button"
                      disabled={pending === secret.name}
                      aria-describedby={`secret-name-${secret.name}`}
                      onClick={() => {
                        setToUpdate(secret);
                      }}
                    >
                      Update value
                    </button>
                    <button
                      type="button"
                      disabled={pending === secret.name}
                      aria-describedby={`secret-name-${secret.name}`}
                      onClick={() => {
                        removal.ask(secret);
                      }}
                    >
                      Delete
                    </button>
                  </>
                ) : null}
              </div>
            </td>
          </tr>
        )}
      />
      <NewValueDialog
        secret={toUpdate}
        onCancel={() => {
          setToUpdate(null);
        }}
        onSave={(value) => {
          const secret = toUpdate;
          setToUpdate(null);
          if (secret) void update.run({ secret, value });
        }}
      />
      <ConfirmDialog
        {...removal.dialog}
        title={`Delete ${removal.asked?.name ?? "secret"}?`}
        confirmLabel="Delete"
        danger
      >
        <p>
          The value is gone for good. Steps that need this secret, including ones already queued,
          fail when they are claimed.
        </p>
      </ConfirmDialog>
    </div>
  );
}
