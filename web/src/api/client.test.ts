import { describe, expect, it } from "vitest";

import { ApiError, problemMessage, unwrap } from "./client";

describe("problemMessage", () => {
  it("prefers the problem's detail", () => {
    expect(problemMessage(409, { title: "Conflict", detail: "name already taken" })).toBe(
      "name already taken",
    );
  });

  it("spells out FastAPI validation errors with their location", () => {
    const body = { detail: [{ loc: ["body", "email"], msg: "field required" }] };
    expect(problemMessage(422, body)).toBe("body.email: field required");
  });

  it("falls back to the status", () => {
    expect(problemMessage(502, "<html>")).toBe("The server answered 502.");
  });
});

describe("unwrap", () => {
  it("returns the data of a successful answer", () => {
    expect(unwrap({ data: { ok: 1 }, response: new Response(null, { status: 200 }) })).toEqual({
      ok: 1,
    });
  });

  it("throws an ApiError with the server's code and message", () => {
    const failed = {
      error: { detail: "you may not deploy", code: "forbidden" },
      response: new Response(null, { status: 403 }),
    };
    try {
      unwrap(failed);
      throw new Error("unwrap did not throw");
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      const apiError = error as ApiError;
      expect(apiError.status).toBe(403);
      expect(apiError.code).toBe("forbidden");
      expect(apiError.message).toBe("you may not deploy");
    }
  });
});
