/** Settings › Members: who belongs to the workspace, with which role; add, re-role, remove. */
import { useEffect, useState } from "react";
import type { SubmitEvent } from "react";

import { addMember, listMembers, removeMember, setMemberRole } from "../../api/settings";
import type { Member, Role } from "../../api/settings";
import { useSession } from "../../app/session";
import { ConfirmDialog } from "../../components/Confirm";
import { useNotify } from "../../components/Notice";
import { ACTIONS, PagedTable } from "../../components/PagedTable";
import { EmptyState } from "../../components/States";
import { useNow } from "../../lib/agentsTime";
import { useAsync } from "../../lib/useAsync";
import { useConfirmedAction } from "../../lib/useConfirmedAction";
import { useCursorPages } from "../../lib/useCursorPages";
import { errorText, roleRank, rolesUpTo } from "./logic";
import { NeedRole, When } from "./shared";

function AddMemberForm({
  roles,
  onAdd,
}: {
  roles: Role[];
  onAdd: (m: NewMemberForm) => Promise<boolean>;
}) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    const ok = await onAdd({ email: email.trim(), role, name: name.trim(), password });
    setBusy(false);
    if (ok) {
      setEmail("");
      setName("");
      setPassword("");
    }
  };
  return (
    <form className="st-form" aria-labelledby="add-member-title" onSubmit={(e) => void submit(e)}>
      <h2 id="add-member-title">Add a member</h2>
      <label>
        E-mail
        <input
          type="email"
          required
          minLength={3}
          maxLength={254}
          autoComplete="off"
          value={email}
          onChange={(e) => {
            setEmail(e.target.value);
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
          Name <span className="muted">(optional)</span>
        </span>
        <input
          maxLength={200}
          value={name}
          onChange={(e) => {
            setName(e.target.value);
          }}
        />
      </label>
      <label>
        <span>
          Initial password <span className="muted">(only to create a new account)</span>
        </span>
        <input
          type="password"
          autoComplete="new-password"
          value={password}
          aria-describedby="member-password-hint"
          onChange={(e) => {
            setPassword(e.target.value);
          }}
        />
      </label>
      <p id="member-password-hint" className="muted st-hint">
        Leave the password empty to add someone who already has an account. With a password, an
        account is created for this e-mail if there is none.
      </p>
      <button type="submit" className="primary" disabled={busy}>
        Add member
      </button>
    </form>
  );
}

interface NewMemberForm {
  email: string;
  role: Role;
  name: string;
  password: string;
}

/** The Members tab. */
export default function Members() {
  const { me, workspaceId, can } = useSession();
  const notify = useNotify();
  const now = useNow(30_000);
  const canRead = can("members:read");
  const canWrite = can("members:write");
  const pages = useCursorPages();
  const { first } = pages;
  // A cursor belongs to one workspace's listing: another workspace starts at its first page.
  useEffect(() => {
    first();
  }, [workspaceId, first]);
  const list = useAsync(
    () =>
      workspaceId && canRead
        ? listMembers(workspaceId, pages.cursor)
        : Promise.resolve({ items: [], next_cursor: null }),
    [workspaceId, canRead, pages.cursor],
  );
  const { loading, reload } = list;
  // The workspace travels with the subject: it is known to be set where a row offers an action.
  const roleChange = useConfirmedAction<{ workspaceId: string; member: Member; role: Role }>({
    run: ({ workspaceId: ws, member, role }) => setMemberRole(ws, member.user_id, role),
    done: ({ member, role }) => `${member.email} is now ${role}.`,
    failed: ({ member }, why) => `Could not change the role of ${member.email}: ${why}`,
    reload,
  });
  const removal = useConfirmedAction<{ workspaceId: string; member: Member }>({
    run: ({ workspaceId: ws, member }) => removeMember(ws, member.user_id),
    done: ({ member }) => `${member.email} was removed from the workspace.`,
    failed: ({ member }, why) => `Could not remove ${member.email}: ${why}`,
    reload,
  });
  const pending = roleChange.busy?.member.user_id ?? removal.busy?.member.user_id ?? null;
  if (!canRead) return <NeedRole permission="members:read" doing="see the members" />;

  const myRank = roleRank(me?.role);
  const grantable = rolesUpTo(me?.role);
  const add = async (form: NewMemberForm): Promise<boolean> => {
    if (!workspaceId) return false;
    try {
      const member = await addMember(workspaceId, {
        email: form.email,
        role: form.role,
        name: form.name,
        password: form.password ? form.password : null,
      });
      notify("ok", `${member.email} is now a member (${member.role}).`);
      reload();
      return true;
    } catch (reason) {
      notify("error", `Could not add ${form.email}: ${errorText(reason)}`);
      return false;
    }
  };

  return (
    <div className="st-panel">
      {canWrite ? (
        <AddMemberForm roles={grantable} onAdd={add} />
      ) : (
        <NeedRole permission="members:write" doing="add members or change roles" />
      )}
      <PagedTable
        load={list}
        pages={pages}
        what="members"
        empty={pages.page === 1 ? <EmptyState title="This workspace has no members" /> : undefined}
        className="st-table"
        busy={loading}
        caption="Members of this workspace"
        columns={["Member", "Role", "Member since", ACTIONS]}
        rowKey={(member) => member.user_id}
        row={(member) => {
          const self = member.user_id === me?.user.id;
          // The server lets no one manage a member who outranks them, nor grant a higher role.
          const manageable = canWrite && !self && roleRank(member.role) <= myRank;
          const label = member.name || member.email;
          return (
            <tr data-testid={`member-${member.user_id}`}>
              <th scope="row">
                <span className="st-strong">{label}</span>
                {self ? <span className="muted"> (you)</span> : null}
                {member.name ? <div className="muted">{member.email}</div> : null}
              </th>
              <td>
                {manageable ? (
                  <select
                    aria-label={`Role of ${member.email}`}
                    value={member.role}
                    disabled={pending === member.user_id}
                    onChange={(e) => {
                      const role = e.target.value as Role;
                      if (workspaceId && role !== member.role) {
                        void roleChange.run({ workspaceId, member, role });
                      }
                    }}
                  >
                    {grantable.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  <span className="st-role">{member.role}</span>
                )}
              </td>
              <td>
                <When iso={member.created_at} now={now} />
              </td>
              <td>
                {manageable ? (
                  <button
                    type="button"
                    disabled={pending === member.user_id}
                    aria-label={`Remove ${member.email}`}
                    onClick={() => {
                      if (workspaceId) removal.ask({ workspaceId, member });
                    }}
                  >
                    Remove
                  </button>
                ) : null}
              </td>
            </tr>
          );
        }}
      />
      <ConfirmDialog
        {...removal.dialog}
        title={`Remove ${removal.asked?.member.email ?? "member"}?`}
        confirmLabel="Remove"
        danger
      >
        <p>
          They lose access to this workspace at once. Their account stays; you can add them again
          later.
        </p>
      </ConfirmDialog>
    </div>
  );
}
