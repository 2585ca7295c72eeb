/**
 * The live connection: one WebSocket to `/api/v1/ws` per workspace, shared by every screen.
 *
 * The server sends `hello`, then `event` messages from the event bus (or one `events` message
 * for several that were waiting: a burst costs one frame, not hundreds), a `resync` when it had
 * to drop events for us, and pings. When the socket drops we reconnect with capped exponential
 * backoff and jitter, and tell listeners to resync: events sent while we were away are lost to
 * the socket, but the database has them, so screens refetch.
 */

/** An event of the bus, as the server sends it. */
export interface LiveEvent {
  type: string;
  run_id?: string;
  workspace_id?: string;
  [key: string]: unknown;
}

/** Whether the socket is up; screens show it so a stale view is never silent. */
export type LiveStatus = "connecting" | "open" | "closed";

/** What a screen hears. */
export interface LiveListener {
  event?: (event: LiveEvent) => void;
  resync?: () => void;
  status?: (status: LiveStatus) => void;
  /** The server refused us (signed out, no access, no such workspace): do not retry. */
  denied?: (code: number) => void;
}

/** Close codes after which reconnecting cannot help: 4401 signed out, 4403, 4404. */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([4401, 4403, 4404]);

/** The wait before reconnect attempt `attempt` (0-based): 0.5 s doubling to 15 s, ±20 %. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(15_000, 500 * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

interface ServerMessage {
  type: string;
  event?: LiveEvent;
  events?: LiveEvent[];
}

/** The WebSocket address for a workspace on this page's origin. */
export function socketUrl(location: Location, workspaceId: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/ws?workspace=${encodeURIComponent(workspaceId)}`;
}

/** One reconnecting socket; `close()` ends it for good. */
export class LiveSocket {
  private readonly url: string;
  private readonly listeners = new Set<LiveListener>();
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private everOpened = false;
  status: LiveStatus = "connecting";

  constructor({ url }: { url: string }) {
    this.url = url;
    this.connect();
  }

  /** Listen; the returned function stops listening. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    listener.status?.(this.status);
    return () => this.listeners.delete(listener);
  }

  /** Close the socket and stop reconnecting. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
    this.listeners.clear();
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    for (const listener of this.listeners) listener.status?.(status);
  }

  private connect(): void {
    this.setStatus("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setStatus("open");
      // After a gap the screens' data may be stale; on the first connection it is fresh.
      if (this.everOpened) this.emitResync();
      this.everOpened = true;
    };
    socket.onmessage = (message: MessageEvent<string>) => {
      this.handle(message.data);
    };
    socket.onclose = (event: CloseEvent) => {
      this.socket = null;
      if (this.closed) return;
      this.setStatus("closed");
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.closed = true;
        for (const listener of this.listeners) listener.denied?.(event.code);
        return;
      }
      this.timer = setTimeout(() => {
        this.connect();
      }, backoffDelay(this.attempt));
      this.attempt += 1;
    };
  }

  private handle(raw: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === "event" && message.event) {
      for (const listener of this.listeners) listener.event?.(message.event);
    } else if (message.type === "events" && Array.isArray(message.events)) {
      for (const event of message.events) {
        for (const listener of this.listeners) listener.event?.(event);
      }
    } else if (message.type === "resync") {
      this.emitResync();
    }
  }

  private emitResync(): void {
    for (const listener of this.listeners) listener.resync?.();
  }
}
