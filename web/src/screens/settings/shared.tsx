/** Small pieces the Settings tabs share: the missing-role note and times. */
import { absoluteTime, relativeTime } from "../../lib/agentsTime";
import { needRoleText } from "./logic";

/** Props of `NeedRole`. */
export interface NeedRoleProps {
  permission: string;
  /** What the user could not do, e.g. "manage API keys". */
  doing: string;
}

/** Says which role is missing instead of a broken screen (the server would answer 403). */
export function NeedRole({ permission, doing }: NeedRoleProps) {
  return (
    <p className="st-need" role="note">
      <span aria-hidden="true">ℹ </span>
      {needRoleText(permission, doing)} Ask an admin or owner of this workspace.
    </p>
  );
}

/** Props of `When`. */
export interface WhenProps {
  iso: string | null | undefined;
  now: number;
  /** Said when there is no time, e.g. "never". */
  none?: string;
}

/** A time as "3 min ago", with the exact local time in its title. */
export function When({ iso, now, none = "—" }: WhenProps) {
  if (!iso) return <span className="muted">{none}</span>;
  return (
    <time dateTime={iso} title={absoluteTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}
