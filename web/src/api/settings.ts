/**
 * Calls and answer shapes of the Settings screens: members, API keys, secrets and the audit log.
 * The server's OpenAPI schema types the request bodies but leaves the answers open
 * (`{[key: string]: unknown}`), so the interfaces below mirror `api/account_schemas.py`,
 * `api/schemas.py::secret_out` and `api/audit.py::audit_entry_out`.
 */
import { api, unwrap } from "./client";
import type { Page } from "./client";
import type { components } from "./schema";

/** A member's role (`domain/auth.py::Role`). */
export type Role = components["schemas"]["Role"];

/** Roles from least to most powerful (`domain/auth.py::ROLE_RANK`). */
export const ROLES: readonly Role[] = ["viewer", "operator", "editor", "admin", "owner"];

/** A member of a workspace (`member_out`). */
export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  created_at: string | null;
}

/** An API key's metadata (`api_key_out`); never the key itself. */
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  workspace_id: string;
  created_by: string | null;
  created_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
}

/** The answer to creating or rotating a key: the only time `key` is ever sent. */
export interface IssuedApiKey extends ApiKey {
  key: string;
}

/** A secret's name and timestamps (`secret_out`); the API never returns values. */
export interface Secret {
  name: string;
  created_at: string | null;
  updated_at: string | null;
  last_used_at: string | null;
}

/** One audit log entry (`audit_entry_out`). */
export interface AuditEntry {
  seq: number;
  id: string;
  at: string | null;
  workspace_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  digest: string | null;
  details: unknown;
  prev_hash: string | null;
  hash: string | null;
}

/** The audit log's filters (`GET /api/v1/audit`); empty strings mean "any". */
export interface AuditFilter {
  action: string;
  actor_id: string;
  target_type: string;
  target_id: string;
  /** ISO 8601 with a time zone: at or after. */
  since: string;
  /** ISO 8601 with a time zone: before. */
  until: string;
}

/** How many audit entries one page asks for (the server caps it with its own limit). */
export const AUDIT_PAGE_SIZE = 50;

/** How many members, API keys or secrets one page asks for. */
export const SETTINGS_PAGE_SIZE = 50;

function items<T>(raw: unknown): T[] {
  const list = (raw as { items?: unknown } | undefined)?.items;
  return Array.isArray(list) ? (list as T[]) : [];
}

/** A page from a listing's raw answer (`{items, next_cursor}`). */
function page<T>(raw: unknown): Page<T> {
  const next = (raw as { next_cursor?: unknown } | undefined)?.next_cursor;
  return { items: items<T>(raw), next_cursor: typeof next === "string" ? next : null };
}

/**
 * The `limit` and `cursor` of one page. Typed loosely (`never` fits any slot) so the calls
 * compile against a `schema.d.ts` generated before these listings took them.
 */
function pageQuery(cursor: string | null): never {
  const query: Record<string, string | number> = { limit: SETTINGS_PAGE_SIZE };
  if (cursor) query.cursor = cursor;
  return query as never;
}

/** `GET /api/v1/workspaces/{id}/members`: one page, oldest membership first. */
export async function listMembers(
  workspaceId: string,
  cursor: string | null = null,
): Promise<Page<Member>> {
  const result = await api.GET("/api/v1/workspaces/{workspace_id}/members", {
    params: { path: { workspace_id: workspaceId }, query: pageQuery(cursor) },
  });
  return page<Member>(unwrap(result));
}

/** What `addMember` sends; a password creates the account when there is none for the e-mail. */
export interface NewMember {
  email: string;
  role: Role;
  name: string;
  password: string | null;
}

/** `POST /api/v1/workspaces/{id}/members`: add a user with a role no higher than the caller's. */
export async function addMember(workspaceId: string, member: NewMember): Promise<Member> {
  const result = await api.POST("/api/v1/workspaces/{workspace_id}/members", {
    params: { path: { workspace_id: workspaceId } },
    body: member,
  });
  return unwrap(result) as unknown as Member;
}

/** `PUT /api/v1/workspaces/{id}/members/{user_id}`: change a member's role. */
export async function setMemberRole(
  workspaceId: string,
  userId: string,
  role: Role,
): Promise<Member> {
  const result = await api.PUT("/api/v1/workspaces/{workspace_id}/members/{user_id}", {
    params: { path: { workspace_id: workspaceId, user_id: userId } },
    body: { role },
  });
  return unwrap(result) as unknown as Member;
}

/** `DELETE /api/v1/workspaces/{id}/members/{user_id}`: end a membership. */
export async function removeMember(workspaceId: string, userId: string): Promise<void> {
  unwrap(
    await api.DELETE("/api/v1/workspaces/{workspace_id}/members/{user_id}", {
      params: { path: { workspace_id: workspaceId, user_id: userId } },
    }),
  );
}

/** `GET /api/v1/api-keys`: one page of the keys that still work, newest first. */
export async function listApiKeys(cursor: string | null = null): Promise<Page<ApiKey>> {
  const result = await api.GET("/api/v1/api-keys", { params: { query: pageQuery(cursor) } });
  return page<ApiKey>(unwrap(result));
}

/** `POST /api/v1/api-keys`; the answer carries the key, once. */
export async function createApiKey(body: {
  name: string;
  role: Role;
  expires_at: string | null;
}): Promise<IssuedApiKey> {
  return unwrap(await api.POST("/api/v1/api-keys", { body })) as unknown as IssuedApiKey;
}

/**
 * `POST /api/v1/api-keys/{id}/rotate`: a new key replacing the old one, which keeps working for
 * `graceHours` (or the server's default when `null`) and then expires.
 */
export async function rotateApiKey(
  keyId: string,
  graceHours: number | null,
): Promise<IssuedApiKey> {
  const result = await api.POST("/api/v1/api-keys/{key_id}/rotate", {
    params: { path: { key_id: keyId } },
    body: graceHours === null ? null : { grace_hours: graceHours },
  });
  return unwrap(result) as unknown as IssuedApiKey;
}

/** `DELETE /api/v1/api-keys/{id}`: the key stops working at once. */
export async function revokeApiKey(keyId: string): Promise<void> {
  unwrap(await api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: keyId } } }));
}

/** `GET /api/v1/secrets`: one page of names and timestamps, by name. */
export async function listSecrets(cursor: string | null = null): Promise<Page<Secret>> {
  const result = await api.GET("/api/v1/secrets", { params: { query: pageQuery(cursor) } });
  return page<Secret>(unwrap(result));
}

/** `POST /api/v1/secrets` (409 when the name is taken). */
export async function createSecret(name: string, value: string): Promise<Secret> {
  return unwrap(await api.POST("/api/v1/secrets", { body: { name, value } })) as unknown as Secret;
}

/** `PUT /api/v1/secrets/{name}`: replace the value. */
export async function updateSecret(name: string, value: string): Promise<Secret> {
  const result = await api.PUT("/api/v1/secrets/{name}", {
    params: { path: { name } },
    body: { value },
  });
  return unwrap(result) as unknown as Secret;
}

/** `DELETE /api/v1/secrets/{name}`. */
export async function deleteSecret(name: string): Promise<void> {
  unwrap(await api.DELETE("/api/v1/secrets/{name}", { params: { path: { name } } }));
}

/** `GET /api/v1/audit`: one page, newest first. */
export async function listAudit(
  filter: AuditFilter,
  cursor: string | null,
): Promise<Page<AuditEntry>> {
  const query: Record<string, string | number> = { limit: AUDIT_PAGE_SIZE };
  if (cursor) query.cursor = cursor;
  for (const [key, value] of Object.entries(filter) as [keyof AuditFilter, string][]) {
    if (value.trim()) query[key] = value.trim();
  }
  return page<AuditEntry>(unwrap(await api.GET("/api/v1/audit", { params: { query } })));
}
