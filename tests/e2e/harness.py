"""Real ``qo`` processes for the end-to-end suite: a server, agents and CLI calls.

Every process is started with ``subprocess`` in a temporary directory, logs to a file there and
is stopped when the test ends (:meth:`Cluster.close`). Waits poll with a deadline; nothing
relies on a fixed sleep.

Coverage: when the tests run under coverage (``pytest --cov``) or ``QO_E2E_COVERAGE=1`` is set,
the children run under ``coverage run --parallel-mode`` with the project's configuration and
write their data files next to the parent's, so ``coverage combine`` (which pytest-cov does at
the end) counts them. ``QO_E2E_COVERAGE=0`` turns that off. A SIGKILLed child loses its data.

Authentication: servers are bootstrapped with a known first admin (``ADMIN_EMAIL`` /
``ADMIN_PASSWORD``) unless a test asks for a generated password. The harness logs in over the API
for its own HTTP client, CLI calls get the session token as ``QO_TOKEN``, and each agent gets an
agent token of its pool, created through the API as an operator would. ``XDG_CONFIG_HOME`` is
the test's own directory, so ``qo login`` never touches the real user's credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# Short engine timers so that lost agents and expired leases are noticed within seconds.
FAST_ENGINE = {
    "QO_ENGINE__LEASE_SECONDS": "2",
    "QO_ENGINE__HEARTBEAT_INTERVAL": "0.3",
    "QO_ENGINE__AGENT_LOST_AFTER": "2",
    "QO_ENGINE__TICK_INTERVAL": "0.05",
    # The workflows call servers on loopback, which the SSRF guard refuses unless allowed.
    "QO_AGENTS__HTTP_ALLOW": '["127.0.0.0/8"]',
}
# The first admin of every server the harness starts (unless a test wants a generated password).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password-0"
# Generous: the suite must pass on a loaded 2-core machine, and a deadline is only the limit.
DEFAULT_DEADLINE = 45.0
STARTUP_DEADLINE = 40.0

T = TypeVar("T")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _coverage_data_file() -> str | None:
    """Where children write coverage data, or ``None`` when coverage is off."""
    wanted = os.environ.get("QO_E2E_COVERAGE")
    if wanted == "0":
        return None
    current = None
    with contextlib.suppress(ImportError):
        import coverage

        current = coverage.Coverage.current()
    if wanted != "1" and current is None:
        return None
    if os.environ.get("COVERAGE_FILE"):
        return str(Path(os.environ["COVERAGE_FILE"]).resolve())
    if current is not None:
        return str(Path(current.config.data_file).resolve())
    return str(REPO / ".coverage")


def qo_argv(*args: str) -> list[str]:
    """The command line of ``qo ARGS`` in this interpreter (under coverage when measuring)."""
    base = [sys.executable]
    if _coverage_data_file() is not None:
        base += [
            "-m",
            "coverage",
            "run",
            "--parallel-mode",
            f"--rcfile={REPO / 'pyproject.toml'}",
        ]
    return [*base, "-m", "quantum_orchestrator.cli.main", *args]


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    *,
    deadline: float = DEFAULT_DEADLINE,
    interval: float = 0.1,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` past ``deadline``."""
    end = time.monotonic() + deadline
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
        except (httpx.HTTPError, ValueError, KeyError, OSError) as exc:
            last_error = exc
            value = None
        if value:
            return value
        if time.monotonic() > end:
            details = f" (last error: {last_error!r})" if last_error else ""
            extra = f"\n{diagnose()}" if diagnose is not None else ""
            raise AssertionError(f"timed out after {deadline}s waiting for {what}{details}{extra}")
        time.sleep(interval)


@dataclass
class Proc:
    """One child process with its log file (stdout and stderr together)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` (if the process still runs)."""
        if self.alive():
            self.popen.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        """The exit status, waiting at most ``timeout`` seconds."""
        return self.popen.wait(timeout=timeout)

    def log(self) -> str:
        """Everything the process wrote so far."""
        self.log_file.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for assertion messages."""
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps and closes the log."""
        try:
            if self.alive():
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=30)
        finally:
            self.log_file.close()


class Cluster:
    """A data dir, a port, and the ``qo`` processes of one test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_home = root / "config"
        self.procs: list[Proc] = []
        self.server: Proc | None = None
        self._http = httpx.Client(base_url=self.url, timeout=10)
        self._counter = 0
        # The first admin's password (None: the server generates one and prints it) and the
        # session token the harness got with it; CLI calls receive it as QO_TOKEN.
        self.admin_password: str | None = ADMIN_PASSWORD
        self.token: str | None = None
        self._agent_tokens: dict[str, str] = {}

    # -- environment and processes -------------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The children's environment: no stray ``QO_*`` of the caller, fast engine timers,
        the harness's session token as ``QO_TOKEN`` (once it has one)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("QO_")}
        env.update(
            {
                "XDG_CONFIG_HOME": str(self.config_home),
                "QO_HOST": "127.0.0.1",
                "QO_PORT": str(self.port),
                "QO_DATA_DIR": str(self.data_dir),
                "QO_SERVER": self.url,
                "QO_LOG_FORMAT": "json",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                **FAST_ENGINE,
            }
        )
        if self.token is not None:
            env["QO_TOKEN"] = self.token
        data_file = _coverage_data_file()
        if data_file is not None:
            env["COVERAGE_FILE"] = data_file
        env.update(extra or {})
        return env

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        """Start ``qo ARGS`` in the background, logging to ``<root>/<name>-<n>.log``."""
        self._counter += 1
        log_path = self.root / f"{name}-{self._counter}.log"
        log_file = log_path.open("wb")
        popen = subprocess.Popen(
            qo_argv(*args),
            cwd=self.root,
            env=self.env(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        proc = Proc(name=name, popen=popen, log_path=log_path, log_file=log_file)
        self.procs.append(proc)
        return proc

    def start_server(self, env: dict[str, str] | None = None) -> Proc:
        """``qo up`` on this cluster's port and data dir; returns once ``/healthz`` answers.

        The first start bootstraps the admin (``self.admin_password``; ``None`` lets the server
        generate one); with a known password the harness then logs in as the admin.
        """
        bootstrap = {"QO_ADMIN_EMAIL": ADMIN_EMAIL}
        if self.admin_password is not None:
            bootstrap["QO_ADMIN_PASSWORD"] = self.admin_password
        proc = self.spawn("server", "up", env={**bootstrap, **(env or {})})
        self.server = proc

        def healthy() -> bool:
            if not proc.alive():
                raise AssertionError(f"qo up exited with {proc.popen.returncode}:\n{proc.tail()}")
            return self._http.get("/healthz").status_code == 200

        wait_for(healthy, "qo up to answer /healthz", deadline=STARTUP_DEADLINE, diagnose=proc.tail)
        if self.admin_password is not None and self.token is None:
            self.login(ADMIN_EMAIL, self.admin_password)
        return proc

    def login(self, email: str, password: str) -> str:
        """Log the harness's HTTP client (and its CLI calls) in over the API; returns the token."""
        response = self._http.post(
            "/api/v1/auth/token", json={"email": email, "password": password}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        self.token = token
        self._http.headers["Authorization"] = f"Bearer {token}"
        return token

    def agent_token(self, pool: str) -> str:
        """An agent token of ``pool`` (created through the API once per pool)."""
        token = self._agent_tokens.get(pool)
        if token is None:
            response = self._http.post(
                "/api/v1/agent-tokens", json={"name": f"e2e-{pool}", "pool": pool}
            )
            response.raise_for_status()
            token = self._agent_tokens[pool] = str(response.json()["token"])
        return token

    def start_agent(
        self,
        module: str,
        *,
        name: str,
        pool: str = "e2e",
        extra: list[str] | None = None,
        online: bool = True,
    ) -> Proc:
        """``qo agent --import MODULE --name NAME`` with an agent token of ``pool`` (the pool of
        tasks.py's agent); waits until it is online unless told not to."""
        proc = self.spawn(
            f"agent-{name}",
            "agent",
            "--import",
            module,
            "--name",
            name,
            *(extra or []),
            env={"QO_AGENT_TOKEN": self.agent_token(pool)},
        )
        if online:
            self.wait_agent(name, "online", proc=proc)
        return proc

    def qo(
        self,
        *args: str,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``qo ARGS`` to completion in the cluster's directory and environment;
        ``input`` is written to its stdin."""
        return subprocess.run(
            qo_argv(*args),
            cwd=self.root,
            env=self.env(env),
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and close the HTTP client."""
        # Agents and CLI calls first: an agent whose server is gone has nothing to drain to.
        others = [p for p in self.procs if p.name != "server"]
        servers = [p for p in self.procs if p.name == "server"]
        order = others[::-1] + servers[::-1]
        try:
            for proc in order:
                with contextlib.suppress(Exception):
                    proc.stop()
        finally:
            self._http.close()

    def logs(self) -> str:
        """The tails of every process's log, for assertion messages."""
        return "\n".join(f"--- {p.name} ({p.pid}) ---\n{p.tail(25)}" for p in self.procs)

    # -- files --------------------------------------------------------------------------

    def write(self, name: str, text: str) -> Path:
        """A file in the cluster's directory."""
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        """The JSON lines of a file in the cluster's directory (``[]`` when it is missing)."""
        path = self.root / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # -- the HTTP API ---------------------------------------------------------------------

    def get(self, path: str) -> Any:
        """``GET /api/v1/<path>`` as JSON; raises on an error status."""
        response = self._http.get(f"/api/v1/{path.lstrip('/')}")
        response.raise_for_status()
        return response.json()

    def run(self, run_id: str) -> dict[str, Any]:
        """A run with its steps and attempts."""
        run: dict[str, Any] = self.get(f"runs/{run_id}")
        return run

    def agents(self) -> list[dict[str, Any]]:
        """Every registered agent (all states)."""
        items: list[dict[str, Any]] = self.get("agents?limit=200")["items"]
        return items

    def agent_named(self, name: str) -> dict[str, Any] | None:
        """The most recently registered agent called ``name``."""
        rows = [a for a in self.agents() if a["name"] == name]
        rows.sort(key=lambda a: str(a.get("registered_at") or ""))
        return rows[-1] if rows else None

    def wait_agent(
        self, name: str, state: str, *, proc: Proc | None = None, deadline: float = DEFAULT_DEADLINE
    ) -> dict[str, Any]:
        """Wait until the latest agent called ``name`` is in ``state``."""

        def probe() -> dict[str, Any] | None:
            if proc is not None and state == "online" and not proc.alive():
                raise AssertionError(f"agent {name} exited early:\n{proc.tail()}")
            agent = self.agent_named(name)
            return agent if agent is not None and agent["state"] == state else None

        return wait_for(probe, f"agent {name} to be {state}", deadline=deadline, diagnose=self.logs)

    def wait_run(self, run_id: str, deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
        """Wait until the run ends; returns it."""

        def probe() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["state"] in TERMINAL else None

        return wait_for(probe, f"run {run_id} to end", deadline=deadline, diagnose=self.logs)

    def wait_step(
        self,
        run_id: str,
        node_id: str,
        check: Callable[[dict[str, Any]], bool],
        what: str,
        deadline: float = DEFAULT_DEADLINE,
    ) -> dict[str, Any]:
        """Wait until ``check(step)`` holds for the step of ``node_id``; returns the step."""

        def probe() -> dict[str, Any] | None:
            for step in self.run(run_id)["steps"]:
                if step["node_id"] == node_id and check(step):
                    return dict(step)
            return None

        return wait_for(
            probe, f"step {node_id} of run {run_id}: {what}", deadline=deadline, diagnose=self.logs
        )

    def start_run(self, workflow: str, inputs: dict[str, Any] | None = None) -> str:
        """Start a run over HTTP; returns its id."""
        response = self._http.post(
            f"/api/v1/workflows/{workflow}/runs", json={"inputs": inputs or {}}
        )
        response.raise_for_status()
        run_id: str = response.json()["id"]
        return run_id


def step_of(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    """The step of ``node_id`` in a run."""
    for step in run["steps"]:
        if step["node_id"] == node_id:
            return dict(step)
    raise AssertionError(f"run {run['id']} has no step {node_id}: {run['steps']}")


def running_on_agent(step: dict[str, Any]) -> bool:
    """The step runs, and its latest attempt says on which agent."""
    attempts = step.get("attempts") or []
    return step["state"] == "running" and bool(attempts) and bool(attempts[-1].get("agent_id"))


@contextlib.contextmanager
def cluster(root: Path) -> Iterator[Cluster]:
    """A :class:`Cluster` whose processes are stopped at the end, whatever happens."""
    box = Cluster(root)
    try:
        yield box
    finally:
        box.close()
