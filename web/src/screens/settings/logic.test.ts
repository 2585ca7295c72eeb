import { describe, expect, it } from "vitest";

import {
  keyStatus,
  localToIso,
  needRoleText,
  parseGraceHours,
  roleRank,
  rolesUpTo,
  secretNameError,
} from "./logic";

describe("roles", () => {
  it("ranks roles and lists those one may grant", () => {
    expect(roleRank("owner")).toBeGreaterThan(roleRank("admin"));
    expect(roleRank(null)).toBe(0);
    expect(rolesUpTo("editor")).toEqual(["viewer", "operator", "editor"]);
    expect(rolesUpTo(null)).toEqual([]);
  });

  it("names the missing role", () => {
    expect(needRoleText("keys:write", "create API keys")).toBe(
      "You need the admin role to create API keys.",
    );
    expect(needRoleText("secrets:read", "see the secrets")).toMatch(/editor role/);
  });
});

describe("keyStatus", () => {
  const now = Date.parse("2026-12-06T02:00:00Z");
  it("tells active, expiring and expired keys apart", () => {
    expect(keyStatus({ expires_at: null }, now)).toBe("active");
    expect(keyStatus({ expires_at: "2026-12-07T02:00:00Z" }, now)).toBe("expiring");
    expect(keyStatus({ expires_at: "2026-12-05T02:00:00Z" }, now)).toBe("expired");
  });
});

describe("input checks", () => {
  it("accepts the server's secret names only", () => {
    expect(secretNameError("OPENAI_API_KEY")).toBeNull();
    expect(secretNameError("_X1")).toBeNull();
    expect(secretNameError("")).toBe("Enter a name.");
    expect(secretNameError("lower")).not.toBeNull();
    expect(secretNameError("1ABC")).not.toBeNull();
  });

  it("reads grace hours", () => {
    expect(parseGraceHours("")).toBeNull();
    expect(parseGraceHours("1.5")).toBe(1.5);
    expect(parseGraceHours("0")).toBe(0);
    expect(parseGraceHours("-1")).toBe("invalid");
    expect(parseGraceHours("9000")).toBe("invalid");
    expect(parseGraceHours("abc")).toBe("invalid");
  });

  it("turns local times into ISO 8601 with a zone", () => {
    expect(localToIso("")).toBeNull();
    expect(localToIso("2026-12-06T10:30")).toMatch(/^2026-12-06T\d\d:30:00\.000Z$/);
    expect(localToIso("garbage")).toBeNull();
  });
});
