/** Routes: every screen but sign-in needs a session; screens load on demand to keep the first
 * screen small. */
import { lazy, Suspense } from "react";
import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";

import { NoticeProvider } from "../components/Notice";
import { Loading } from "../components/States";
import { LiveProvider } from "../live/LiveProvider";
import Login from "../screens/Login";
import { Layout } from "./Layout";
import { SessionProvider, useSession } from "./session";

const Overview = lazy(() => import("../screens/Overview"));
const WorkflowsList = lazy(() => import("../screens/workflows/WorkflowsList"));
const Builder = lazy(() => import("../builder/Builder"));
const Versions = lazy(() => import("../screens/workflows/Versions"));
const RunsList = lazy(() => import("../screens/runs/RunsList"));
const RunView = lazy(() => import("../screens/runs/RunView"));
const Agents = lazy(() => import("../screens/agents/Agents"));
const Settings = lazy(() => import("../screens/settings/Settings"));

function RequireSession({ children }: { children: ReactNode }) {
  const { me, loading } = useSession();
  const location = useLocation();
  if (loading && !me) return <Loading what="your session" />;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return children;
}

/** The whole dashboard. */
export function App() {
  return (
    <BrowserRouter>
      <SessionProvider>
        <NoticeProvider>
          <LiveProvider>
            <Suspense fallback={<Loading what="the screen" />}>
              <Routes>
                <Route path="/login" element={<Login />} />
                <Route
                  element={
                    <RequireSession>
                      <Layout />
                    </RequireSession>
                  }
                >
                  <Route index element={<Overview />} />
                  <Route path="workflows" element={<WorkflowsList />} />
                  <Route path="workflows/new" element={<Builder />} />
                  <Route path="workflows/:ref" element={<Builder />} />
                  <Route path="workflows/:ref/versions" element={<Versions />} />
                  <Route path="runs" element={<RunsList />} />
                  <Route path="runs/:runId" element={<RunView />} />
                  <Route path="agents" element={<Agents />} />
                  <Route path="settings/*" element={<Settings />} />
                  <Route path="*" element={<NotFound />} />
                </Route>
              </Routes>
            </Suspense>
          </LiveProvider>
        </NoticeProvider>
      </SessionProvider>
    </BrowserRouter>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>There is no screen at this address. Use the navigation to find your way.</p>
    </section>
  );
}
