/** The frame around every screen: navigation, workspace switcher, live status, user menu, theme. */
import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";

import { useLiveStatus } from "../live/LiveProvider";
import { useSession } from "./session";
import { applyTheme, initialTheme } from "./theme";
import type { Theme } from "./theme";

const NAV = [
  { to: "/", label: "Overview", end: true },
  { to: "/workflows", label: "Workflows", end: false },
  { to: "/runs", label: "Runs", end: false },
  { to: "/agents", label: "Agents", end: false },
  { to: "/settings", label: "Settings", end: false },
];

function LiveIndicator() {
  const status = useLiveStatus();
  const label = { open: "Live", connecting: "Connecting…", closed: "Reconnecting…" }[status];
  return (
    <span className={`live live-${status}`} role="status" aria-live="polite">
      <span aria-hidden="true">{status === "open" ? "● " : "◌ "}</span>
      {label}
    </span>
  );
}

/** The app's frame; screens render in the outlet. */
export function Layout() {
  const { me, workspaceId, switchWorkspace, logout } = useSession();
  const navigate = useNavigate();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  if (!me) return null;
  const toggleTheme = () => {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next);
    setTheme(next);
  };
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Quantum Orchestrator</span>
        <label className="workspace-switcher">
          <span>Workspace</span>
          <select
            value={workspaceId ?? ""}
            onChange={(event) => {
              switchWorkspace(event.target.value);
              void navigate("/");
            }}
          >
            {me.workspaces.map((ws) => (
              <option key={ws.id} value={ws.id}>
                {ws.name}
              </option>
            ))}
          </select>
        </label>
        <LiveIndicator />
        <button
          type="button"
          className="theme-toggle"
          onClick={toggleTheme}
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
        >
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
        <details className="user-menu">
          <summary>
            {me.user.email} <span className="role">({me.role ?? "no role"})</span>
          </summary>
          <div className="menu">
            <NavLink to="/settings">Settings</NavLink>
            <button
              type="button"
              onClick={() => {
                void logout().then(() => navigate("/login"));
              }}
            >
              Sign out
            </button>
          </div>
        </details>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} end={item.end}>
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
