/**
 * A line diff of two specs' YAML for the versions screen. Each line carries a `+`, `−` or blank
 * marker and a word for screen readers, so the diff never relies on colour.
 */
import { diffLines } from "diff";

import { specToYaml } from "./specIo";

/** One line of a diff. */
export interface DiffLine {
  kind: "added" | "removed" | "same";
  /** The marker shown before the text: "+", "−" or " ". */
  marker: string;
  text: string;
}

/** The lines of `before` → `after` (both YAML text). */
export function diffText(before: string, after: string): DiffLine[] {
  const out: DiffLine[] = [];
  for (const change of diffLines(before, after)) {
    const kind = change.added ? "added" : change.removed ? "removed" : "same";
    const marker = kind === "added" ? "+" : kind === "removed" ? "−" : " ";
    // A change's value ends with a newline; splitting leaves one empty string to drop.
    const lines = change.value.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (const text of lines) out.push({ kind, marker, text });
  }
  return out;
}

/** The line diff of two spec documents' YAML. */
export function diffSpecs(before: unknown, after: unknown): DiffLine[] {
  return diffText(specToYaml(before), specToYaml(after));
}

/** How many lines were added and removed. */
export function diffCounts(lines: readonly DiffLine[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of lines) {
    if (line.kind === "added") added++;
    if (line.kind === "removed") removed++;
  }
  return { added, removed };
}
