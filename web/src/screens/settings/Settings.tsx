/**
 * The Settings screen (`/settings/*`): one tab per concern, each its own nested route so a tab
 * can be linked to and the browser's back button moves between them.
 */
import { NavLink, Navigate, Route, Routes } from "react-router";

import ApiKeys from "./ApiKeys";
import AuditLog from "./AuditLog";
import Members from "./Members";
import Secrets from "./Secrets";
import "./settings.css";

/** The tabs, in the order they are shown. */
const TABS = [
  { path: "members", label: "Members" },
  { path: "api-keys", label: "API keys" },
  { path: "secrets", label: "Secrets" },
  { path: "audit", label: "Audit log" },
] as const;

/** The `/settings/*` screen. */
export default function Settings() {
  return (
    <section aria-labelledby="settings-title">
      <div className="page-header">
        <h1 id="settings-title">Settings</h1>
      </div>
      {/* Links rather than ARIA tabs: each section is a page with its own address. */}
      <nav className="st-tabs" aria-label="Settings sections">
        <ul>
          {TABS.map((tab) => (
            <li key={tab.path}>
              <NavLink to={`/settings/${tab.path}`}>{tab.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Routes>
        <Route index element={<Navigate to="/settings/members" replace />} />
        <Route path="members" element={<Members />} />
        <Route path="api-keys" element={<ApiKeys />} />
        <Route path="secrets" element={<Secrets />} />
        <Route path="audit" element={<AuditLog />} />
        <Route
          path="*"
          element={<p className="st-need">There is no such settings section; pick one above.</p>}
        />
      </Routes>
    </section>
  );
}
