/** Shapes of the answers the dashboard reads that the OpenAPI schema leaves open. */

/** A workspace the signed-in user belongs to. */
export interface Workspace {
  id: string;
  slug: string;
  name: string;
  role?: string;
  created_at: string;
}

/** `GET /api/v1/auth/me`. */
export interface Me {
  user: { id: string; email: string };
  workspace_id: string | null;
  role: string | null;
  permissions: string[];
  workspaces: Workspace[];
}
