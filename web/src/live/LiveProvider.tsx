/** Shares one `LiveSocket` for the current workspace with every screen. */
import { createContext, useContext, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";

import { useSession } from "../app/session";
import { LiveSocket, socketUrl } from "./socket";
import type { LiveEvent, LiveStatus } from "./socket";

const LiveContext = createContext<LiveSocket | null>(null);

/** Opens the socket while someone is signed in to a workspace. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const { workspaceId, refresh } = useSession();
  const [socket, setSocket] = useState<LiveSocket | null>(null);
  useEffect(() => {
    if (!workspaceId) return;
    const live = new LiveSocket({ url: socketUrl(window.location, workspaceId) });
    // Refused for good (session ended or access removed): re-read the session, which sends a
    // signed-out user back to the sign-in screen.
    live.subscribe({ denied: () => void refresh() });
    setSocket(live);
    return () => {
      live.close();
      setSocket(null);
    };
  }, [workspaceId, refresh]);
  return <LiveContext.Provider value={socket}>{children}</LiveContext.Provider>;
}

/**
 * Call `onEvent` for each live event and `onResync` after a gap (refetch then). The callbacks
 * may change between renders without reconnecting.
 */
export function useLive(onEvent: (event: LiveEvent) => void, onResync: () => void): void {
  const socket = useContext(LiveContext);
  const handlers = useRef({ onEvent, onResync });
  useEffect(() => {
    handlers.current = { onEvent, onResync };
  });
  useEffect(() => {
    if (!socket) return;
    return socket.subscribe({
      event: (event) => {
        handlers.current.onEvent(event);
      },
      resync: () => {
        handlers.current.onResync();
      },
    });
  }, [socket]);
}

/** The socket's status, for the "live" indicator. */
export function useLiveStatus(): LiveStatus {
  const socket = useContext(LiveContext);
  const [status, setStatus] = useState<LiveStatus>("connecting");
  useEffect(() => {
    if (!socket) return;
    return socket.subscribe({ status: setStatus });
  }, [socket]);
  return status;
}
