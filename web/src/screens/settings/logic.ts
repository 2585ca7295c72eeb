/** Pure helpers of the Settings screens: roles, who may do what, key states, input checks. */
import { ROLES } from "../../api/settings";
import type { ApiKey, Role } from "../../api/settings";

/** How powerful `role` is (`domain/auth.py::ROLE_RANK`); 0 for no or an unknown role. */
export function roleRank(role: string | null | undefined): number {
  return ROLES.findIndex((r) => r === role) + 1;
}

/** The roles someone with `role` may hand out: none higher than their own (the server's rule). */
export function rolesUpTo(role: string | null | undefined): Role[] {
  const rank = roleRank(role);
  return ROLES.filter((r) => roleRank(r) <= rank);
}

/**
 * The least role holding a permission, mirroring `domain/auth.py::ROLE_PERMISSIONS`, so a
 * note can say which role is missing. The server remains the judge; this only words the note.
 */
export const MIN_ROLE: Readonly<Record<string, Role>> = {
  "members:read": "viewer",
  "members:write": "admin",
  "keys:read": "admin",
  "keys:write": "admin",
  "secrets:read": "editor",
  "secrets:write": "admin",
  "audit:read": "admin",
  "agents:manage": "admin",
};

/** "You need the admin role to manage API keys." */
export function needRoleText(permission: string, doing: string): string {
  return `You need the ${MIN_ROLE[permission] ?? "admin"} role to ${doing}.`;
}

/** What a key's expiry says about it now. */
export type KeyStatus = "active" | "expiring" | "expired";

/** A key never expiring is active; one with an end ahead is expiring; one past it expired. */
export function keyStatus(key: Pick<ApiKey, "expires_at">, now: number): KeyStatus {
  if (!key.expires_at) return "active";
  const end = Date.parse(key.expires_at);
  if (Number.isNaN(end)) return "active";
  return end <= now ? "expired" : "expiring";
}

/** Secret names the server accepts (`domain/secrets.py::NAME_PATTERN`). */
export const SECRET_NAME_PATTERN = "^[A-Z_][A-Z0-9_]{0,99}$";

/** Why `name` is not a valid secret name, or `null` when it is. */
export function secretNameError(name: string): string | null {
  if (!name) return "Enter a name.";
  if (!new RegExp(SECRET_NAME_PATTERN).test(name)) {
    return "Use upper-case letters, digits and _ (not starting with a digit), at most 100.";
  }
  return null;
}

/**
 * A `datetime-local` input's value as ISO 8601 with a time zone (the API refuses naive times),
 * or `null` for an empty or unreadable value.
 */
export function localToIso(value: string): string | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** A grace period typed in hours: `null` for the server's default, else 0 to 8760 (a year). */
export function parseGraceHours(text: string): number | null | "invalid" {
  if (!text.trim()) return null;
  const hours = Number(text);
  if (!Number.isFinite(hours) || hours < 0 || hours > 8760) return "invalid";
  return hours;
}

/** The message of whatever a failed call threw (shared with the other screens' notices). */
export { errorText } from "../../lib/errorText";
