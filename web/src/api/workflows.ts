/**
 * Workflows, versions and the node-type catalog. The OpenAPI schema types these answers as open
 * objects, so their shapes are written here from `api/schemas.py` (`workflow_out`,
 * `workflow_summary`, `version_out`) and `domain/node_types.py` (`NodeType.to_dict`).
 */
import { api, ApiError, unwrap } from "./client";
import type { Page } from "./client";

/** A workflow spec document (see docs/workflow-spec.md); kept open so nothing is lost. */
export type SpecDocument = Record<string, unknown>;

/** A workflow in the list (`workflow_summary`: no spec, a node count instead). */
export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  /** The newest deployed version, or null while only the draft exists. */
  latest_version: number | null;
  created_at: string;
  updated_at: string;
  nodes: number;
}

/** One workflow with its draft spec (`workflow_out`). */
export interface Workflow {
  id: string;
  name: string;
  description: string;
  spec: SpecDocument;
  latest_version: number | null;
  created_at: string;
  updated_at: string;
}

/** A deployed, immutable version (`version_out`); the server records no author. */
export interface WorkflowVersion {
  id: string;
  workflow_id: string;
  workflow_name: string | null;
  number: number;
  spec: SpecDocument;
  created_at: string;
}

/** One node type of the catalog (`NodeType.to_dict`). */
export interface NodeType {
  type: string;
  category: string;
  description: string;
  params_schema: Record<string, unknown>;
  executor: string;
  default_trigger_rule: string | null;
  builtin: boolean;
}

/** `GET /api/v1/node-types`. */
export interface NodeTypeCatalog {
  items: NodeType[];
  categories: string[];
}

/** One problem of a spec, located by a path such as `nodes[2].params.url`. */
export interface SpecError {
  path: string;
  message: string;
}

/** `POST /api/v1/workflows/validate`. */
export interface ValidationResult {
  valid: boolean;
  errors: SpecError[];
}

/** Options of `listWorkflows`. */
export interface WorkflowQuery {
  cursor?: string | null;
  /** Part of the name (the server matches names only). */
  search?: string | null;
  limit?: number;
}

/** A page of workflows, by name. */
export async function listWorkflows(query: WorkflowQuery = {}): Promise<Page<WorkflowSummary>> {
  const result = await api.GET("/api/v1/workflows", {
    params: {
      query: {
        cursor: query.cursor ?? undefined,
        search: query.search === "" ? undefined : query.search,
        limit: query.limit,
      },
    },
  });
  return unwrap(result) as unknown as Page<WorkflowSummary>;
}

/** One workflow by id or name. */
export async function getWorkflow(ref: string): Promise<Workflow> {
  const result = await api.GET("/api/v1/workflows/{ref}", { params: { path: { ref } } });
  return unwrap(result) as unknown as Workflow;
}

/** A new draft; the server refuses an invalid spec (422 with `errors`). */
export async function createWorkflow(spec: SpecDocument): Promise<Workflow> {
  const result = await api.POST("/api/v1/workflows", { body: { spec } });
  return unwrap(result) as unknown as Workflow;
}

/** Replace the draft's spec (a new `name` renames the workflow). */
export async function updateWorkflow(ref: string, spec: SpecDocument): Promise<Workflow> {
  const result = await api.PUT("/api/v1/workflows/{ref}", {
    params: { path: { ref } },
    body: { spec },
  });
  return unwrap(result) as unknown as Workflow;
}

/** Every problem of a spec, without saving it. */
export async function validateSpec(spec: SpecDocument): Promise<ValidationResult> {
  const result = await api.POST("/api/v1/workflows/validate", { body: { spec } });
  return unwrap(result) as unknown as ValidationResult;
}

/** Freeze the saved draft as a new version. */
export async function deployWorkflow(ref: string): Promise<WorkflowVersion> {
  const result = await api.POST("/api/v1/workflows/{ref}/deploy", { params: { path: { ref } } });
  return unwrap(result) as unknown as WorkflowVersion;
}

/** A page of versions, newest first. */
export async function listVersions(
  ref: string,
  cursor: string | null,
): Promise<Page<WorkflowVersion>> {
  const result = await api.GET("/api/v1/workflows/{ref}/versions", {
    params: { path: { ref }, query: { cursor: cursor ?? undefined } },
  });
  return unwrap(result) as unknown as Page<WorkflowVersion>;
}

/** One version by number. */
export async function getVersion(ref: string, number: number): Promise<WorkflowVersion> {
  const result = await api.GET("/api/v1/workflows/{ref}/versions/{number}", {
    params: { path: { ref, number } },
  });
  return unwrap(result) as unknown as WorkflowVersion;
}

/** The node types this workspace can use. */
export async function listNodeTypes(): Promise<NodeTypeCatalog> {
  const result = await api.GET("/api/v1/node-types");
  return unwrap(result) as unknown as NodeTypeCatalog;
}

/** The located spec problems a failed save carried (`errors` of a 422 problem), if any. */
export function specErrorsOf(error: unknown): SpecError[] {
  if (!(error instanceof ApiError) || typeof error.body !== "object" || error.body === null) {
    return [];
  }
  const list = (error.body as { errors?: unknown }).errors;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const { path, message } = item as { path?: unknown; message?: unknown };
    return typeof message === "string"
      ? [{ path: typeof path === "string" ? path : "", message }]
      : [];
  });
}
