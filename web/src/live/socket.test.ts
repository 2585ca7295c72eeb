import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { LiveSocket, backoffDelay, socketUrl } from "./socket";
import type { LiveEvent } from "./socket";

/** A stand-in for the browser's WebSocket that the test drives by hand (jsdom has none). */
class FakeSocket {
  static instances: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  close() {
    this.closed = true;
    this.onclose?.({ code: 1000 });
  }
  open() {
    this.onopen?.();
  }
  send(message: object) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
}

describe("backoffDelay", () => {
  it("doubles from half a second and caps at fifteen", () => {
    const middle = () => 0.5;
    expect(backoffDelay(0, middle)).toBe(500);
    expect(backoffDelay(1, middle)).toBe(1000);
    expect(backoffDelay(4, middle)).toBe(8000);
    expect(backoffDelay(10, middle)).toBe(15000);
  });

  it("spreads reconnects by twenty per cent either way", () => {
    expect(backoffDelay(2, () => 0)).toBe(1600);
    expect(backoffDelay(2, () => 1)).toBe(2400);
  });
});

describe("socketUrl", () => {
  it("follows the page's scheme and host", () => {
    const https = { protocol: "https:", host: "qo.example:8443" } as Location;
    expect(socketUrl(https, "w 1")).toBe("wss://qo.example:8443/api/v1/ws?workspace=w%201");
    const http = { protocol: "http:", host: "127.0.0.1:8000" } as Location;
    expect(socketUrl(http, "abc")).toBe("ws://127.0.0.1:8000/api/v1/ws?workspace=abc");
  });
});

describe("LiveSocket", () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("delivers events, asks for a resync after a gap, and reconnects with backoff", () => {
    const live = new LiveSocket({ url: "ws://x/api/v1/ws?workspace=a" });
    const events: LiveEvent[] = [];
    const statuses: string[] = [];
    let resyncs = 0;
    live.subscribe({
      event: (event) => events.push(event),
      resync: () => (resyncs += 1),
      status: (status) => statuses.push(status),
    });
    const first = FakeSocket.instances[0];
    if (!first) throw new Error("no socket opened");
    first.open();
    first.send({ type: "hello", workspace_id: "a" });
    first.send({ type: "event", event: { type: "step.succeeded", run_id: "r1" } });
    first.send({ type: "ping" });
    expect(events).toEqual([{ type: "step.succeeded", run_id: "r1" }]);
    expect(resyncs).toBe(0);

    first.send({ type: "resync" });
    expect(resyncs).toBe(1);

    first.drop();
    expect(statuses.at(-1)).toBe("closed");
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(15_000);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.instances[1]?.open();
    // Events sent while we were away are lost to the socket: the screens must refetch.
    expect(resyncs).toBe(2);
    expect(statuses.at(-1)).toBe("open");
    live.close();
  });

  it("delivers the events of a batch message one by one, in order", () => {
    const live = new LiveSocket({ url: "ws://x" });
    const events: LiveEvent[] = [];
    live.subscribe({ event: (event) => events.push(event) });
    const socket = FakeSocket.instances[0];
    if (!socket) throw new Error("no socket opened");
    socket.open();
    socket.send({
      type: "events",
      events: [
        { type: "step.running", run_id: "r1" },
        { type: "step.succeeded", run_id: "r1" },
      ],
    });
    expect(events.map((event) => event.type)).toEqual(["step.running", "step.succeeded"]);
    live.close();
  });

  it("ignores malformed messages and stops for good when closed", () => {
    const live = new LiveSocket({ url: "ws://x" });
    const events: LiveEvent[] = [];
    live.subscribe({ event: (event) => events.push(event) });
    const socket = FakeSocket.instances[0];
    if (!socket) throw new Error("no socket opened");
    socket.open();
    socket.onmessage?.({ data: "not json" });
    expect(events).toEqual([]);
    live.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("gives up and reports when the server refuses the session", () => {
    const live = new LiveSocket({ url: "ws://x" });
    const denied: number[] = [];
    live.subscribe({ denied: (code) => denied.push(code) });
    FakeSocket.instances[0]?.drop(4401);
    expect(denied).toEqual([4401]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
