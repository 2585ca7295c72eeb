import { describe, expect, it } from "vitest";

import {
  childPath,
  errorsUnder,
  fieldKind,
  parseJsonInput,
  parseNumberInput,
  pathId,
  validateAgainstSchema,
  withKey,
} from "./schemaForm";

const http = {
  type: "object",
  required: ["url"],
  properties: {
    url: { type: "string", pattern: "^https?://" },
    method: { type: "string", enum: ["GET", "POST"] },
    timeout: { type: "number", minimum: 0, maximum: 300 },
    retries: { type: "integer", minimum: 0 },
    follow: { type: "boolean" },
    tags: { type: "array", items: { type: "string" }, maxItems: 2 },
    auth: {
      type: "object",
      required: ["user"],
      properties: { user: { type: "string", minLength: 1 } },
    },
  },
};

describe("validateAgainstSchema", () => {
  it("accepts a valid value", () => {
    expect(validateAgainstSchema(http, { url: "https://x", method: "GET", timeout: 3 })).toEqual(
      {},
    );
  });

  it("reports required, pattern, enum, min/max and type by path", () => {
    expect(validateAgainstSchema(http, {})).toEqual({ "/url": "Required." });
    const errors = validateAgainstSchema(http, {
      url: "ftp://x",
      method: "PUT",
      timeout: 301,
      retries: 1.5,
      follow: "yes",
    });
    expect(errors["/url"]).toMatch(/pattern/);
    expect(errors["/method"]).toBe('Must be one of: "GET", "POST".');
    expect(errors["/timeout"]).toBe("Must be ≤ 300.");
    expect(errors["/retries"]).toBe("Must be a whole number.");
    expect(errors["/follow"]).toBe("Must be true or false.");
  });

  it("checks minimum, nested objects and array items", () => {
    const errors = validateAgainstSchema(http, {
      url: "http://x",
      timeout: -1,
      tags: ["a", 2, "c"],
      auth: {},
    });
    expect(errors["/timeout"]).toBe("Must be ≥ 0.");
    expect(errors["/tags"]).toBe("At most 2 items.");
    expect(errors["/tags/1"]).toBe("Must be text.");
    expect(errors["/auth/user"]).toBe("Required.");
  });

  it("handles nullable types, oneOf and additionalProperties", () => {
    expect(validateAgainstSchema({ type: ["string", "null"] }, null)).toEqual({});
    const one = { oneOf: [{ type: "string" }, { type: "integer" }] };
    expect(validateAgainstSchema(one, 3)).toEqual({});
    expect(validateAgainstSchema(one, true)).toEqual({
      "": "Does not match any of the allowed shapes.",
    });
    const closed = { type: "object", properties: { a: {} }, additionalProperties: false };
    expect(validateAgainstSchema(closed, { a: 1, b: 2 })).toEqual({ "": "Unknown field: b." });
  });

  it("lets templates stand for any value when asked", () => {
    const value = { url: "{{ inputs.url }}", timeout: "{{ inputs.t }}" };
    expect(validateAgainstSchema(http, value, { allowTemplates: true })).toEqual({});
    expect(validateAgainstSchema(http, value)["/timeout"]).toBe("Must be a number.");
  });

  it("escapes keys as JSON Pointer segments", () => {
    const schema = { type: "object", required: ["a/b"], properties: {} };
    expect(validateAgainstSchema(schema, {})).toEqual({ "/a~1b": "Required." });
  });
});

describe("fieldKind", () => {
  it("picks a widget for each schema shape", () => {
    expect(fieldKind({ type: "string" })).toBe("text");
    expect(fieldKind({ type: "string", format: "textarea" })).toBe("textarea");
    expect(fieldKind({ type: "string", description: "A multi-line prompt" })).toBe("textarea");
    expect(fieldKind({ type: "string" }, "a\nb")).toBe("textarea");
    expect(fieldKind({ type: "string", enum: ["a"] })).toBe("select");
    expect(fieldKind({ type: "integer" })).toBe("integer");
    expect(fieldKind({ type: ["number", "null"] })).toBe("number");
    expect(fieldKind({ type: "boolean" })).toBe("boolean");
    expect(fieldKind({ properties: { a: { type: "string" } } })).toBe("object");
    expect(fieldKind({ type: "object" })).toBe("json");
    expect(fieldKind({ type: "array", items: { type: "string" } })).toBe("array");
    expect(fieldKind({ type: "array", items: { type: "object" } })).toBe("json");
    expect(fieldKind({ oneOf: [{ type: "string" }] })).toBe("json");
    expect(fieldKind({})).toBe("json");
  });
});

describe("coercion helpers", () => {
  it("reads numbers", () => {
    expect(parseNumberInput("")).toBeUndefined();
    expect(parseNumberInput(" 2.5 ")).toBe(2.5);
    expect(parseNumberInput("x")).toBeNaN();
  });

  it("reads JSON", () => {
    expect(parseJsonInput("")).toEqual({ ok: true, value: undefined });
    expect(parseJsonInput('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    const bad = parseJsonInput("{");
    expect(bad.ok).toBe(false);
  });

  it("sets and removes keys without mutating", () => {
    const start = { a: 1 };
    expect(withKey(start, "b", 2)).toEqual({ a: 1, b: 2 });
    expect(withKey(start, "a", undefined)).toEqual({});
    expect(start).toEqual({ a: 1 });
  });

  it("builds paths and ids", () => {
    expect(childPath("", "a/b")).toBe("/a~1b");
    expect(childPath("/x", 0)).toBe("/x/0");
    expect(pathId("/a b")).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(pathId("/a_b")).not.toBe(pathId("/a/b"));
  });

  it("collects nested messages under a path", () => {
    expect(errorsUnder({ "/h": "Bad.", "/h/x": "Required.", "/y": "No." }, "/h")).toEqual([
      "Bad.",
      "x: Required.",
    ]);
  });
});
