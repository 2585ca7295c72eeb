/**
 * The agent control board's calls. The server answers these with untyped JSON objects (its
 * OpenAPI schema says `{[key: string]: unknown}`), so the shapes below mirror
 * `api/schemas.py::agent_out`; `normaliseAgent` tolerates fields the server adds or omits.
 */
import { normaliseAgent } from "../lib/agents";
import type { Agent, AgentState } from "../lib/agents";
import { api, unwrap } from "./client";
import type { Page } from "./client";

export type { Agent, AgentState };

/** How many agents one page asks for (the server caps it with its own limit). */
export const AGENT_PAGE_SIZE = 50;

/** Query of `GET /api/v1/agents`. */
export interface AgentQuery {
  cursor: string | null;
  state: AgentState | null;
  /** The server filters by pool too; live events are filtered on the page (`matchesFilter`). */
  pool: string | null;
}

/** `GET /api/v1/agents`: one page, newest registration first. */
export async function listAgents(query: AgentQuery): Promise<Page<Agent>> {
  const params: Record<string, string | number> = { limit: AGENT_PAGE_SIZE };
  if (query.cursor) params.cursor = query.cursor;
  if (query.state) params.state = query.state;
  if (query.pool) params.pool = query.pool;
  const raw = unwrap(await api.GET("/api/v1/agents", { params: { query: params } })) as {
    items?: unknown;
    next_cursor?: unknown;
  };
  const items = Array.isArray(raw.items) ? raw.items : [];
  return {
    items: items.map(normaliseAgent).filter((agent): agent is Agent => agent !== null),
    next_cursor: typeof raw.next_cursor === "string" ? raw.next_cursor : null,
  };
}

/** `POST /api/v1/agents/{id}/drain`: the agent takes no new work; 409 unless it is online. */
export async function drainAgent(agentId: string): Promise<Agent | null> {
  const raw = unwrap(
    await api.POST("/api/v1/agents/{agent_id}/drain", {
      params: { path: { agent_id: agentId } },
    }),
  );
  return normaliseAgent(raw);
}
