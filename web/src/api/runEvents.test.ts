import { afterEach, describe, expect, it, vi } from "vitest";

import { fetchRunEvents } from "./runEvents";

function streamOf(chunks: string[], stayOpen: boolean): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!stayOpen) controller.close();
    },
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const frame = (id: number, delta: string) =>
  `id: ${id}\nevent: step.progress\ndata: ${JSON.stringify({ id, type: "step.progress", step_id: "s", data: { delta } })}\n\n`;

describe("fetchRunEvents", () => {
  it("reads a finished run's timeline to its end, frames split across chunks", async () => {
    const body = frame(1, "a") + frame(2, "b");
    const fetchMock = vi
      .fn()
      .mockResolvedValue(
        new Response(streamOf([body.slice(0, 30), body.slice(30)], false), { status: 200 }),
      );
    vi.stubGlobal("fetch", fetchMock);
    const events = await fetchRunEvents("r 1");
    expect(events.map((e) => e.id)).toEqual([1, 2]);
    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/v1/runs/r%201/events");
  });

  it("stops once an active run's replay goes quiet", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn().mockResolvedValue(new Response(streamOf([frame(1, "a")], true), { status: 200 })),
    );
    const started = Date.now();
    const events = await fetchRunEvents("r");
    expect(events).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("turns an error answer into an ApiError", async () => {
    vi.stubGlobal(
      "fetch",
      vi
        .fn()
        .mockResolvedValue(new Response(JSON.stringify({ detail: "no run r" }), { status: 404 })),
    );
    await expect(fetchRunEvents("r")).rejects.toMatchObject({ status: 404, message: "no run r" });
  });
});
