/**
 * Pure logic of the agent control board: reading agents from the server's loose JSON, keeping
 * the list current from `agent.*` live events, filtering and describing load.
 *
 * Nothing here invents a number: a field the server did not send stays `null` and the board
 * shows a dash, so a stale or partial answer never reads as "0 running".
 */

/** An agent's lifecycle (`domain/states.py::AgentState`). */
export type AgentState = "online" | "draining" | "lost" | "offline";

/** Every state, in the order the filter lists them. */
export const AGENT_STATES: readonly AgentState[] = ["online", "draining", "lost", "offline"];

/** One node type an agent serves; the category is known when the server sends it. */
export interface Capability {
  name: string;
  category: string | null;
}

/** An agent as the board shows it (`api/schemas.py::agent_out`). */
export interface Agent {
  id: string;
  name: string;
  pool: string;
  capabilities: Capability[];
  /** One word for what the agent serves: its only category, or "mixed" (`agent_category`). */
  category: string | null;
  /** Every category the agent serves, in the dashboard's order (`agent_categories`). */
  categories: string[];
  state: string;
  host: string;
  version: string;
  pid: number | null;
  concurrency: number | null;
  running: number | null;
  steps_done: number | null;
  builtin: boolean;
  registered_at: string | null;
  last_heartbeat_at: string | null;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function capabilities(value: unknown): Capability[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Capability[] = [];
  for (const item of value) {
    // The server sends names today; objects with a category are accepted for when it adds them.
    if (typeof item === "string") out.push({ name: item, category: null });
    else if (isObject(item) && typeof item.name === "string") {
      out.push({ name: item.name, category: str(item.category) ?? null });
    }
  }
  return out;
}

/** The fields of `raw` that are an agent's, typed; absent or mistyped fields are left out. */
export function agentFields(raw: Json): Partial<Agent> {
  const out: Partial<Agent> = {};
  const id = str(raw.id);
  if (id !== undefined) out.id = id;
  for (const key of ["name", "pool", "state", "host", "version"] as const) {
    const value = str(raw[key]);
    if (value !== undefined) out[key] = value;
  }
  for (const key of ["category", "registered_at", "last_heartbeat_at"] as const) {
    const value = str(raw[key]);
    if (value !== undefined) out[key] = value;
  }
  for (const key of ["pid", "concurrency", "running", "steps_done"] as const) {
    const value = num(raw[key]);
    if (value !== undefined) out[key] = value;
  }
  if (typeof raw.builtin === "boolean") out.builtin = raw.builtin;
  const caps = capabilities(raw.capabilities);
  if (caps) out.capabilities = caps;
  if (Array.isArray(raw.categories)) {
    out.categories = raw.categories.filter((c): c is string => typeof c === "string");
  }
  return out;
}

/** An agent from the server's JSON, or `null` when it has no id. */
export function normaliseAgent(raw: unknown): Agent | null {
  if (!isObject(raw)) return null;
  const fields = agentFields(raw);
  if (!fields.id) return null;
  return {
    id: fields.id,
    name: fields.name ?? fields.id,
    pool: fields.pool ?? "",
    capabilities: fields.capabilities ?? [],
    category: fields.category ?? null,
    categories: fields.categories ?? [],
    state: fields.state ?? "offline",
    host: fields.host ?? "",
    version: fields.version ?? "",
    pid: fields.pid ?? null,
    concurrency: fields.concurrency ?? null,
    running: fields.running ?? null,
    steps_done: fields.steps_done ?? null,
    builtin: fields.builtin ?? false,
    registered_at: fields.registered_at ?? null,
    last_heartbeat_at: fields.last_heartbeat_at ?? null,
  };
}

/** A live event as the socket hands it over. */
export interface AgentEvent {
  type: string;
  [key: string]: unknown;
}

/** Whether a live event is about an agent. */
export function isAgentEvent(event: AgentEvent): boolean {
  return event.type.startsWith("agent.");
}

/** The agent an event is about: `agent_id`, else the id of its `agent` or `data` object. */
export function agentEventId(event: AgentEvent): string | null {
  // The event's own `id` is the event's, not the agent's, so it is never used.
  const agent = isObject(event.agent) ? event.agent : {};
  const data = isObject(event.data) ? event.data : {};
  return str(event.agent_id) ?? str(agent.id) ?? str(data.agent_id) ?? str(data.id) ?? null;
}

/**
 * What an event says about its agent: top-level fields, then `data`, then `agent` (the most
 * specific wins). A heartbeat without its own timestamp is dated by the event's `ts`.
 */
export function agentEventPatch(event: AgentEvent): Partial<Agent> {
  // The event's own `type` and `id` are not the agent's.
  const top: Json = { ...event };
  delete top.type;
  delete top.id;
  const data = isObject(event.data) ? event.data : {};
  const agent = isObject(event.agent) ? event.agent : {};
  const patch: Partial<Agent> = {
    ...agentFields(top),
    ...agentFields(data),
    ...agentFields(agent),
  };
  const id = agentEventId(event);
  if (id) patch.id = id;
  else delete patch.id;
  const ts = str(event.ts);
  if (patch.last_heartbeat_at === undefined && event.type.endsWith("heartbeat") && ts) {
    patch.last_heartbeat_at = ts;
  }
  if (event.type === "agent.registered") {
    // Registration is the agent's first sign of life, and a new agent id has run nothing yet
    // and holds nothing: these follow from the event, they are not guesses.
    if (ts) {
      patch.registered_at ??= ts;
      patch.last_heartbeat_at ??= ts;
    }
    patch.running ??= 0;
    patch.steps_done ??= 0;
    if (patch.category && patch.category !== "mixed") patch.categories ??= [patch.category];
  }
  return patch;
}

/** Options of `applyAgentEvent`. */
export interface ApplyOptions {
  /** Put agents not yet listed at the top (only the first page shows the newest). */
  insertNew: boolean;
}

/**
 * Whether the event describes a whole new agent: only a registration does. Every agent event
 * names the agent and its pool, but a heartbeat of an agent listed on another page must not
 * add a half-known row to this one.
 */
function isRegistration(event: AgentEvent, patch: Partial<Agent>): boolean {
  return (
    (event.type === "agent.registered" || isObject(event.agent)) &&
    !!patch.name &&
    patch.pool !== undefined
  );
}

/**
 * The list after one live event: a known agent is patched (state change, heartbeat, load); a
 * registration adds its agent at the top when `insertNew` is set; `agent.removed` and
 * `agent.deleted` take it out. Anything else leaves the list as it was (the same array, so
 * React skips a render).
 */
export function applyAgentEvent(
  agents: readonly Agent[],
  event: AgentEvent,
  options: ApplyOptions = { insertNew: true },
): readonly Agent[] {
  if (!isAgentEvent(event)) return agents;
  const id = agentEventId(event);
  if (!id) return agents;
  const index = agents.findIndex((agent) => agent.id === id);
  if (event.type.endsWith(".removed") || event.type.endsWith(".deleted")) {
    return index === -1 ? agents : agents.filter((agent) => agent.id !== id);
  }
  const patch = agentEventPatch(event);
  if (index === -1) {
    if (!options.insertNew || !isRegistration(event, patch)) return agents;
    const added = normaliseAgent(patch);
    return added ? [added, ...agents] : agents;
  }
  const current = agents[index];
  if (!current) return agents;
  const next = agents.slice();
  next[index] = { ...current, ...patch };
  return next;
}

/** Whether an event names an agent the list lacks and cannot add: the screen should refetch. */
export function needsRefetch(agents: readonly Agent[], event: AgentEvent): boolean {
  if (!isAgentEvent(event)) return false;
  const id = agentEventId(event);
  if (!id) return true;
  if (agents.some((agent) => agent.id === id)) return false;
  return !isRegistration(event, agentEventPatch(event));
}

/** Where the board is: refetching only makes sense when it could show the missing agent. */
export interface BoardPosition {
  /** The first page is shown (the newest agents, where a new one would appear). */
  firstPage: boolean;
  /** The server said there is no further page: every agent of the filter is listed. */
  complete: boolean;
  /** The board's filter: an agent it hides is no reason to refetch. */
  filter: AgentFilter;
}

/**
 * Whether an event should make the board refetch its page: it is about an agent the page lacks
 * and cannot add from the event alone, that the filter would show, and the board is on the
 * first page. A heartbeat of an unknown agent is usually of one on a later page, so it counts
 * only when the list is complete (then the agent was missed, e.g. during a reconnect).
 */
export function shouldRefetch(
  agents: readonly Agent[],
  event: AgentEvent,
  position: BoardPosition,
): boolean {
  if (!position.firstPage || !needsRefetch(agents, event)) return false;
  const { state, pool } = agentEventPatch(event);
  if (position.filter.state && state !== undefined && state !== position.filter.state) {
    return false;
  }
  if (position.filter.pool && pool !== undefined && pool !== position.filter.pool) return false;
  return position.complete || !event.type.endsWith("heartbeat");
}

/** The board's filter; `null` means any. */
export interface AgentFilter {
  state: string | null;
  pool: string | null;
}

/** Whether `agent` passes the filter (live events may bring agents the server would not list). */
export function matchesFilter(agent: Agent, filter: AgentFilter): boolean {
  if (filter.state && agent.state !== filter.state) return false;
  if (filter.pool && agent.pool !== filter.pool) return false;
  return true;
}

/** The distinct pools of the agents, sorted, for the pool filter. */
export function poolsOf(agents: readonly Agent[], extra: string | null = null): string[] {
  const pools = new Set(agents.map((agent) => agent.pool).filter(Boolean));
  if (extra) pools.add(extra);
  return [...pools].sort();
}

/** "2 / 8", or a dash for what the server did not say. */
export function loadText(agent: Pick<Agent, "running" | "concurrency">): string {
  const running = agent.running ?? "—";
  const concurrency = agent.concurrency ?? "—";
  return `${String(running)} / ${String(concurrency)}`;
}

/** Whether the board offers Drain: the server drains only online agents (409 otherwise). */
export function canDrain(agent: Agent): boolean {
  return agent.state === "online";
}
