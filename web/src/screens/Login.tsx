/** Sign in with e-mail and password; the server sets the session and CSRF cookies. */
import { useState } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";

import { api, problemMessage } from "../api/client";
import { useSession } from "../app/session";

/** The sign-in screen. */
export default function Login() {
  const { me, refresh } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  if (me) return <Navigate to={from} replace />;

  const submit = async (event: { preventDefault: () => void }) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await api.POST("/api/v1/auth/login", { body: { email, password } });
      if (!result.response.ok) {
        setError(problemMessage(result.response.status, result.error));
        return;
      }
      await refresh();
      void navigate(from, { replace: true });
    } catch {
      setError("The server could not be reached. Is it running?");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form className="login-card" onSubmit={(event) => void submit(event)} aria-label="Sign in">
        <h1>Quantum Orchestrator</h1>
        <p>Sign in to your workspace.</p>
        <label>
          E-mail
          <input
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(event) => {
              setEmail(event.target.value);
            }}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => {
              setPassword(event.target.value);
            }}
          />
        </label>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
