/**
 * Reading and writing spec files: YAML out (View/Download YAML, the version diff) and YAML or
 * JSON in (Import). YAML is a superset of JSON, so one parser reads both.
 */
import { parse, stringify } from "yaml";

import type { SpecConnection, SpecNode, WorkflowSpec } from "./spec";

/** The spec as YAML, keys in the order the spec has them. */
export function specToYaml(spec: unknown): string {
  return stringify(spec, { lineWidth: 0 });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A spec document as the builder can edit it: an object with a `nodes` list of objects that
 * have string `id`s and `type`s. Anything else the document holds is kept for the server to
 * judge. Throws an `Error` saying what is wrong when the document cannot be drawn at all.
 */
export function toEditableSpec(document: unknown): WorkflowSpec {
  if (!isRecord(document)) throw new Error("The file does not hold a workflow spec (an object).");
  const nodes = document.nodes ?? [];
  if (!Array.isArray(nodes)) throw new Error("`nodes` must be a list.");
  nodes.forEach((node: unknown, i) => {
    if (!isRecord(node) || typeof node.id !== "string" || typeof node.type !== "string") {
      throw new Error(`nodes[${i}] needs a text \`id\` and \`type\`.`);
    }
  });
  const connections = document.connections ?? [];
  if (!Array.isArray(connections)) throw new Error("`connections` must be a list.");
  connections.forEach((c: unknown, i) => {
    if (!isRecord(c) || typeof c.from !== "string" || typeof c.to !== "string") {
      throw new Error(`connections[${i}] needs text \`from\` and \`to\`.`);
    }
  });
  return {
    ...document,
    name: typeof document.name === "string" ? document.name : "",
    nodes: nodes as SpecNode[],
    connections: connections as SpecConnection[],
  };
}

/** Parse the text of a `.yaml`, `.yml` or `.json` file into an editable spec. */
export function parseSpecText(text: string): WorkflowSpec {
  let document: unknown;
  try {
    document = parse(text);
  } catch (e) {
    throw new Error(`Not valid YAML or JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return toEditableSpec(document);
}

/** Read a chosen file into an editable spec. */
export async function readSpecFile(file: File): Promise<WorkflowSpec> {
  if (file.size > 5_000_000) throw new Error("The file is larger than 5 MB.");
  return parseSpecText(await file.text());
}

/** Offer `text` as a download named `filename` (an object URL: no inline script, CSP-safe). */
export function downloadText(filename: string, text: string, type = "application/yaml"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the click has been handled, or some browsers cancel the download.
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 0);
}
