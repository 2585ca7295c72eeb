/**
 * Server validation errors (`{path, message}`, paths such as `nodes[2].params.url`) placed on
 * what they concern: a node (by id), a connection (by edge id) or the workflow as a whole.
 * Indexes are resolved against the spec that was checked, so later edits do not move them.
 */
import { edgeIds } from "./spec";
import type { WorkflowSpec } from "./spec";

/** One server error with where it belongs. */
export interface LocatedError {
  path: string;
  message: string;
  /** The node it concerns, when the path starts with `nodes[i]`. */
  nodeId?: string;
  /** The edge it concerns, when the path starts with `connections[i]`. */
  edgeId?: string;
  /** Inside a node: the field (`params.url`, `timeout`), "" for the node itself. */
  field?: string;
  /** Inside a node's params: a JSON Pointer for `SchemaForm` (`/url`, `/headers/x`). */
  paramPointer?: string;
}

/** Errors grouped for the canvas, the side panel and the problems list. */
export interface LocatedErrors {
  list: LocatedError[];
  byNode: Record<string, LocatedError[]>;
  byEdge: Record<string, LocatedError[]>;
}

/** `.headers.x[0]` → `/headers/x/0`. */
export function dottedToPointer(rest: string): string {
  const parts: string[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]/g;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    const part = m[1] ?? m[2] ?? "";
    parts.push(part.replace(/~/g, "~0").replace(/\//g, "~1"));
  }
  return parts.map((p) => `/${p}`).join("");
}

/** Place each error of `errors` (found in `spec`). */
export function locateErrors(
  spec: WorkflowSpec,
  errors: readonly { path: string; message: string }[],
): LocatedErrors {
  const ids = edgeIds(spec.connections ?? []);
  const list = errors.map((error): LocatedError => {
    const node = /^nodes\[(\d+)\](?:\.(.*))?$/.exec(error.path);
    if (node) {
      const id = spec.nodes[Number(node[1])]?.id;
      if (id === undefined) return { ...error };
      const field = node[2] ?? "";
      const located: LocatedError = { ...error, nodeId: id, field };
      const params = /^params((?:\.|\[).*)?$/.exec(field);
      if (params) located.paramPointer = dottedToPointer(params[1] ?? "");
      return located;
    }
    const edge = /^connections\[(\d+)\](?:\.(.*))?$/.exec(error.path);
    if (edge) {
      const id = ids[Number(edge[1])];
      return id === undefined ? { ...error } : { ...error, edgeId: id, field: edge[2] ?? "" };
    }
    return { ...error };
  });
  const byNode: Record<string, LocatedError[]> = {};
  const byEdge: Record<string, LocatedError[]> = {};
  for (const e of list) {
    if (e.nodeId !== undefined) (byNode[e.nodeId] ??= []).push(e);
    if (e.edgeId !== undefined) (byEdge[e.edgeId] ??= []).push(e);
  }
  return { list, byNode, byEdge };
}

/** The params errors of one node, keyed by JSON Pointer for `SchemaForm`. */
export function paramErrors(errors: readonly LocatedError[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors ?? []) {
    if (e.paramPointer === undefined) continue;
    out[e.paramPointer] = out[e.paramPointer]
      ? `${out[e.paramPointer] ?? ""} ${e.message}`
      : e.message;
  }
  return out;
}

/** A short sentence for an error: `field: message`. */
export function errorText(e: LocatedError): string {
  return e.field ? `${e.field}: ${e.message}` : e.message;
}

function withoutPosition(node: unknown): string {
  if (typeof node !== "object" || node === null) return JSON.stringify(node);
  const copy: Record<string, unknown> = { ...(node as Record<string, unknown>) };
  delete copy.position;
  return JSON.stringify(copy);
}

/**
 * The errors of `located` that still apply to `current`: a node edited since the check (other
 * than moved) loses its markers, since they may describe what the author just fixed.
 */
export function currentErrors(
  located: LocatedErrors,
  checked: WorkflowSpec,
  current: WorkflowSpec,
): LocatedErrors {
  const before = new Map(checked.nodes.map((n) => [n.id, withoutPosition(n)]));
  const changed = new Set(
    current.nodes.filter((n) => before.get(n.id) !== withoutPosition(n)).map((n) => n.id),
  );
  if (changed.size === 0) return located;
  const keep = (e: LocatedError) => e.nodeId === undefined || !changed.has(e.nodeId);
  const byNode: Record<string, LocatedError[]> = {};
  for (const [id, list] of Object.entries(located.byNode)) if (!changed.has(id)) byNode[id] = list;
  return { list: located.list.filter(keep), byNode, byEdge: located.byEdge };
}
