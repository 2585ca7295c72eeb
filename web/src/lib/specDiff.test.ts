import { describe, expect, it } from "vitest";

import { diffCounts, diffSpecs, diffText } from "./specDiff";

describe("spec diff", () => {
  it("marks added, removed and unchanged lines", () => {
    const lines = diffText("a\nb\nc\n", "a\nc\nd\n");
    expect(lines).toEqual([
      { kind: "same", marker: " ", text: "a" },
      { kind: "removed", marker: "−", text: "b" },
      { kind: "same", marker: " ", text: "c" },
      { kind: "added", marker: "+", text: "d" },
    ]);
    expect(diffCounts(lines)).toEqual({ added: 1, removed: 1 });
  });

  it("diffs specs through their YAML", () => {
    const before = { name: "w", nodes: [{ id: "a", type: "core.noop", timeout: 5 }] };
    const after = { name: "w", nodes: [{ id: "a", type: "core.noop", timeout: 9 }] };
    const lines = diffSpecs(before, after);
    expect(lines.filter((l) => l.kind === "removed").map((l) => l.text.trim())).toEqual([
      "timeout: 5",
    ]);
    expect(lines.filter((l) => l.kind === "added").map((l) => l.text.trim())).toEqual([
      "timeout: 9",
    ]);
    expect(diffCounts(diffSpecs(before, before))).toEqual({ added: 0, removed: 0 });
  });
});
