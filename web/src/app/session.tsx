/**
 * Who is signed in and which workspace the dashboard acts in. The server decides every access;
 * the permissions here only hide what the caller could not do anyway.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";

import { api, setWorkspace, unwrap } from "../api/client";
import type { Me } from "../api/types";

const WORKSPACE_KEY = "qo.workspace";

/** What every screen can ask about the session. */
export interface Session {
  me: Me | null;
  loading: boolean;
  workspaceId: string | null;
  can: (permission: string) => boolean;
  switchWorkspace: (id: string) => void;
  refresh: () => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

async function fetchMe(workspaceId: string | null): Promise<Me | null> {
  const headers: Record<string, string> = workspaceId ? { "X-QO-Workspace": workspaceId } : {};
  const result = await api.GET("/api/v1/auth/me", { headers });
  if (result.response.status === 401) return null;
  if (result.response.status === 403 && workspaceId) {
    // The remembered workspace is no longer ours: fall back to the default choice.
    localStorage.removeItem(WORKSPACE_KEY);
    return fetchMe(null);
  }
  return unwrap(result) as unknown as Me;
}

/** Provides the session to the whole app. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);

  const refresh = useCallback(async () => {
    setLoading(true);
    try {
      const found = await fetchMe(localStorage.getItem(WORKSPACE_KEY));
      const workspaceId = found?.workspace_id ?? found?.workspaces[0]?.id ?? null;
      setWorkspace(workspaceId);
      setMe(found ? { ...found, workspace_id: workspaceId } : null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const switchWorkspace = useCallback(
    (id: string) => {
      localStorage.setItem(WORKSPACE_KEY, id);
      setWorkspace(id);
      void refresh();
    },
    [refresh],
  );

  const logout = useCallback(async () => {
    await api.POST("/api/v1/auth/logout");
    setWorkspace(null);
    setMe(null);
  }, []);

  const value = useMemo<Session>(
    () => ({
      me,
      loading,
      workspaceId: me?.workspace_id ?? null,
      can: (permission: string) => me?.permissions.includes(permission) ?? false,
      switchWorkspace,
      refresh,
      logout,
    }),
    [me, loading, switchWorkspace, refresh, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The current session; only inside `SessionProvider`. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
