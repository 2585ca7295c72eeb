"""Quantum Orchestrator side of the benchmark (HTTP only, via httpx).

    .venv/bin/python bench/qo_bench.py --spawn               # start `qo up` in a temp dir
    .venv/bin/python bench/qo_bench.py --server http://127.0.0.1:8787   # an existing server

Authentication: a spawned server gets a first admin with a random password and the bench logs
in as it (``POST /api/v1/auth/token``). Against an existing server the bench uses ``--token`` /
``QO_TOKEN`` (an API key with the editor role is enough), else ``--email`` with the password in
``QO_BENCH_PASSWORD``, else the token ``qo login`` stored for that server. Logging in happens
before any measurement.

Prints ONE JSON object on stdout (progress goes to stderr), shaped like the Prefect peer's
(bench/peers/prefect_bench.py):

    {"peer": "quantum-orchestrator", "version": ..., "fanout_tasks_per_s": ...,
     "chain_median_ms": ..., "chain_p95_ms": ..., "deploy_ms": ..., "notes": ..., ...}

Measurements (see bench/README.md):

* fan-out: workflow ``start -> 998 core.noop -> end`` (1,000 nodes), one warm-up run, then
  ``--fanout-runs`` runs. tasks/s = nodes / (finished_at - created_at) using the run's own
  server timestamps; ``fanout_tasks_per_s`` is the median, ``..._best`` the best. Client wall
  time (POST accepted -> terminal state observed) is reported too.
* chain: workflow ``a -> b -> c``, ``--chain-warmup`` warm-ups, then ``--chain-runs`` runs;
  median / p95 of finished_at - created_at (server), and of the client round trip (POST /runs
  sent -> terminal state observed by polling GET /runs/{id} every ``--poll-ms`` ms, or by the
  end of the SSE stream with ``--wait sse``).
* deploy: a 100-node chain of core.noop; ``--deploy-runs`` times (after one warm-up) PUT the
  same spec, then time ``POST /api/v1/workflows/{name}/deploy`` alone; median.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"
TERMINAL = {"succeeded", "failed", "cancelled"}
# The first admin of a spawned server; its password is random per run.
SPAWN_ADMIN_EMAIL = "bench@localhost"


def log(msg: str) -> None:
    print(f"[qo-bench] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def parse_ts(value: str) -> datetime:
    # ISO 8601; Python 3.11 accepts a trailing "Z" as UTC.
    return datetime.fromisoformat(value)


def span_ms(run: dict[str, Any], start: str, end: str) -> float:
    """Milliseconds between two timestamp fields of a run body."""
    return (parse_ts(run[end]) - parse_ts(run[start])).total_seconds() * 1000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- specs


def fanout_spec(name: str, nodes: int) -> dict[str, Any]:
    """start -> (nodes - 2) parallel no-ops -> end."""
    middle = [f"n{i}" for i in range(1, nodes - 1)]
    spec_nodes = [{"id": "start", "type": "core.noop"}]
    spec_nodes += [{"id": m, "type": "core.noop"} for m in middle]
    spec_nodes.append({"id": "end", "type": "core.noop"})
    connections = [{"from": "start", "to": m} for m in middle]
    connections += [{"from": m, "to": "end"} for m in middle]
    return {"name": name, "nodes": spec_nodes, "connections": connections}


def chain_spec(name: str, length: int) -> dict[str, Any]:
    """n1 -> n2 -> ... -> n<length> (a -> b -> c for length 3)."""
    ids = ["a", "b", "c"] if length == 3 else [f"n{i}" for i in range(1, length + 1)]
    return {
        "name": name,
        "nodes": [{"id": i, "type": "core.noop"} for i in ids],
        "connections": [{"from": x, "to": y} for x, y in itertools.pairwise(ids)],
    }


# --------------------------------------------------------------------------- server


@contextlib.contextmanager
def spawned_server(qo_bin: str, startup_timeout: float, admin_password: str) -> Iterator[str]:
    """Run `qo up` on a free loopback port with a temp QO_DATA_DIR; yield its base URL.

    The server's first admin is ``SPAWN_ADMIN_EMAIL`` with ``admin_password``.
    """
    data_dir = tempfile.mkdtemp(prefix="qo-bench-data-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The benchmark client polls a chain every 2 ms, past the per-caller rate limit (100/s);
    # the limit is for callers sharing a server, not for this measurement.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QO_ADMIN_")}
    env.update(
        QO_DATA_DIR=data_dir,
        QO_API__RATE_LIMIT="0",
        QO_ADMIN_EMAIL=SPAWN_ADMIN_EMAIL,
        QO_ADMIN_PASSWORD=admin_password,
    )
    log_path = Path(data_dir) / "qo-up.log"
    with open(log_path, "wb") as log_file:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [qo_bin, "up", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(url, proc, startup_timeout)
            log(f"qo up ready at {url} in {(time.perf_counter() - t) * 1000:.0f} ms")
            yield url
        except BaseException:
            with contextlib.suppress(OSError):
                log_file.flush()
                tail = log_path.read_text(errors="replace")[-4000:]
                log(f"qo up output (tail):\n{tail}")
            raise
        finally:
            stop(proc)
            shutil.rmtree(data_dir, ignore_errors=True)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=2.0) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"qo up exited early with code {proc.returncode}")
            try:
                if c.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"qo up not healthy after {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- authentication


def login(url: str, email: str, password: str, timeout: float) -> str:
    """A session token for ``email`` (``POST /api/v1/auth/token``)."""
    with httpx.Client(base_url=url, timeout=timeout) as c:
        resp = c.post(f"{API}/auth/token", json={"email": email, "password": password})
        if resp.status_code != 200:
            raise RuntimeError(f"cannot log in to {url} as {email}: {resp.status_code} {resp.text}")
        return str(resp.json()["access_token"])


def stored_token(url: str) -> str | None:
    """The token `qo login` stored for ``url``, if the package is importable and has one."""
    try:
        from quantum_orchestrator.sdk.credentials import CredentialStore
    except ImportError:
        return None
    return CredentialStore().token_for(url.rstrip("/"))


def resolve_token(url: str, args: argparse.Namespace) -> str | None:
    """--token/QO_TOKEN, else --email with QO_BENCH_PASSWORD, else the stored `qo login` token."""
    if args.token:
        return str(args.token)
    if args.email:
        password = os.environ.get("QO_BENCH_PASSWORD")
        if not password:
            raise SystemExit("--email needs the password in QO_BENCH_PASSWORD")
        return login(url, args.email, password, args.request_timeout)
    return stored_token(url)


# --------------------------------------------------------------------------- API calls


def check(resp: httpx.Response, *expected: int) -> dict[str, Any]:
    if resp.status_code not in expected:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: "
            f"{resp.text[:500]}"
        )
    body: dict[str, Any] = resp.json()
    return body


def upsert_workflow(c: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    resp = c.post(f"{API}/workflows", json={"spec": spec})
    if resp.status_code == 409:
        resp = c.put(f"{API}/workflows/{spec['name']}", json={"spec": spec})
        return check(resp, 200, 201)
    return check(resp, 201)


def deploy(c: httpx.Client, name: str) -> dict[str, Any]:
    return check(c.post(f"{API}/workflows/{name}/deploy"), 201)


def start_run(c: httpx.Client, name: str) -> dict[str, Any]:
    return check(c.post(f"{API}/workflows/{name}/runs", json={"inputs": {}}), 201)


def wait_run(
    c: httpx.Client, run_id: str, how: str, poll_s: float, timeout: float
) -> dict[str, Any]:
    """Block until the run is terminal; return the final GET /runs/{id} body."""
    deadline = time.monotonic() + timeout
    if how == "sse":
        with c.stream("GET", f"{API}/runs/{run_id}/events", timeout=timeout) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"GET events -> {resp.status_code}")
            for _ in resp.iter_lines():
                if time.monotonic() > deadline:
                    break
        run = check(c.get(f"{API}/runs/{run_id}"), 200)
        if run.get("state") in TERMINAL:
            return run
        # The stream ended early (or the deadline passed): fall back to polling.
    while True:
        # Poll the run alone (steps=false): reading and serialising every step of a
        # 1,000-step run on each poll would take the server's CPU away from the run.
        run = check(c.get(f"{API}/runs/{run_id}", params={"steps": "false"}), 200)
        if run.get("state") in TERMINAL:
            return check(c.get(f"{API}/runs/{run_id}"), 200)
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout:.0f} s")
        time.sleep(poll_s)


def timed_run(
    c: httpx.Client, name: str, how: str, poll_s: float, timeout: float
) -> tuple[float, float, dict[str, Any]]:
    """Run once; return (server created->finished ms, client wall ms, final run)."""
    t0 = time.perf_counter()
    run = start_run(c, name)
    final = wait_run(c, run["id"], how, poll_s, timeout)
    wall_ms = (time.perf_counter() - t0) * 1000
    if final["state"] != "succeeded":
        raise RuntimeError(f"run {run['id']} of {name} ended {final['state']}: {final}")
    server_ms = span_ms(final, "created_at", "finished_at")
    return server_ms, wall_ms, final


# --------------------------------------------------------------------------- benchmark


def server_version(c: httpx.Client) -> str | None:
    with contextlib.suppress(Exception):
        resp = c.get("/healthz")
        body = resp.json()
        if isinstance(body, dict) and body.get("version"):
            return str(body["version"])
    return None


def cli_version(qo_bin: str) -> str | None:
    """`qo version` prints "qo X.Y.Z (Python ...)"; return X.Y.Z."""
    with contextlib.suppress(Exception):
        out = subprocess.run(
            [qo_bin, "version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
        if len(out) >= 2 and out[0] == "qo":
            return out[1]
    return None


def bench(url: str, token: str | None, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"peer": "quantum-orchestrator", "server": url}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, timeout=args.request_timeout, headers=headers) as c:
        result["version"] = server_version(c) or (cli_version(args.qo_bin) if args.spawn else None)
        result["python"] = sys.version.split()[0]

        # (a) fan-out
        fan_name = "bench-fanout"
        upsert_workflow(c, fanout_spec(fan_name, args.fanout_nodes))
        deploy(c, fan_name)
        poll_fan = args.fanout_poll_ms / 1000
        s, w, _ = timed_run(c, fan_name, args.wait, poll_fan, args.run_timeout)
        log(f"fan-out warm-up: server {s:.0f} ms, client {w:.0f} ms")
        rates: list[float] = []
        client_rates: list[float] = []
        queue_ms: list[float] = []
        for i in range(args.fanout_runs):
            s, w, final = timed_run(c, fan_name, args.wait, poll_fan, args.run_timeout)
            rates.append(args.fanout_nodes / (s / 1000))
            client_rates.append(args.fanout_nodes / (w / 1000))
            if final.get("started_at"):
                queue_ms.append(span_ms(final, "created_at", "started_at"))
            log(f"fan-out run {i + 1}: {s:.0f} ms = {rates[-1]:.0f} tasks/s (client {w:.0f} ms)")
        result["fanout_tasks"] = args.fanout_nodes
        result["fanout_tasks_per_s"] = round(statistics.median(rates), 1)
        result["fanout_tasks_per_s_best"] = round(max(rates), 1)
        result["fanout_tasks_per_s_runs"] = [round(r, 1) for r in rates]
        result["fanout_client_tasks_per_s"] = round(statistics.median(client_rates), 1)
        if queue_ms:
            result["fanout_created_to_started_ms"] = round(statistics.median(queue_ms), 1)

        # (b) chain a -> b -> c
        chain_name = "bench-chain3"
        upsert_workflow(c, chain_spec(chain_name, 3))
        deploy(c, chain_name)
        poll_chain = args.poll_ms / 1000
        for _ in range(args.chain_warmup):
            timed_run(c, chain_name, args.wait, poll_chain, args.run_timeout)
        server_lat: list[float] = []
        client_lat: list[float] = []
        for _ in range(args.chain_runs):
            s, w, _ = timed_run(c, chain_name, args.wait, poll_chain, args.run_timeout)
            server_lat.append(s)
            client_lat.append(w)
        result["chain_runs"] = args.chain_runs
        result["chain_median_ms"] = round(statistics.median(server_lat), 2)
        result["chain_p95_ms"] = round(percentile(server_lat, 95), 2)
        result["chain_client_median_ms"] = round(statistics.median(client_lat), 2)
        result["chain_client_p95_ms"] = round(percentile(client_lat, 95), 2)
        log(
            f"chain: server median {result['chain_median_ms']} ms p95 {result['chain_p95_ms']} ms;"
            f" client median {result['chain_client_median_ms']} ms"
            f" p95 {result['chain_client_p95_ms']} ms"
        )

        # (c) deploy of a 100-node workflow
        dep_name = "bench-deploy100"
        spec = chain_spec(dep_name, args.deploy_nodes)
        upsert_workflow(c, spec)
        deploy_ms: list[float] = []
        numbers: list[Any] = []
        for i in range(args.deploy_runs + 1):  # the first one is a warm-up
            check(c.put(f"{API}/workflows/{dep_name}", json={"spec": spec}), 200, 201)
            t0 = time.perf_counter()
            version = deploy(c, dep_name)
            dt = (time.perf_counter() - t0) * 1000
            numbers.append(version.get("number"))
            if i > 0:
                deploy_ms.append(dt)
        result["deploy_nodes"] = args.deploy_nodes
        result["deploy_ms"] = round(statistics.median(deploy_ms), 2)
        result["deploy_p95_ms"] = round(percentile(deploy_ms, 95), 2)
        result["deploy_version_numbers"] = numbers
        log(f"deploy {args.deploy_nodes} nodes: median {result['deploy_ms']} ms")

    result["notes"] = (
        f"Quantum Orchestrator over HTTP at {url}"
        + (" (spawned `qo up`, SQLite in a temp QO_DATA_DIR)" if args.spawn else "")
        + f". fan-out: start -> {args.fanout_nodes - 2} core.noop -> end, "
        f"{args.fanout_runs} runs after 1 warm-up, tasks/s from the run's server timestamps "
        f"(created_at -> finished_at). chain: a->b->c, {args.chain_runs} runs after "
        f"{args.chain_warmup} warm-ups, server timestamps; client round trip "
        f"({args.wait}, poll {args.poll_ms} ms) as chain_client_*. deploy: POST .../deploy of a "
        f"{args.deploy_nodes}-node chain, median of {args.deploy_runs}, client-timed."
    )
    return result


def default_qo_bin() -> str:
    sibling = Path(sys.executable).with_name("qo")
    if sibling.exists():
        return str(sibling)
    return shutil.which("qo") or "qo"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--server", default="http://127.0.0.1:8787", help="base URL of a running qo")
    p.add_argument("--spawn", action="store_true", help="start `qo up` in a temp QO_DATA_DIR")
    p.add_argument("--qo-bin", default=default_qo_bin(), help="qo executable for --spawn")
    p.add_argument(
        "--token",
        default=os.environ.get("QO_TOKEN"),
        help="API key or session token for --server (env QO_TOKEN)",
    )
    p.add_argument(
        "--email",
        default=None,
        help="log in to --server as this user, password in env QO_BENCH_PASSWORD",
    )
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--fanout-nodes", type=int, default=1000)
    p.add_argument("--fanout-runs", type=int, default=3)
    p.add_argument("--chain-runs", type=int, default=50)
    p.add_argument("--chain-warmup", type=int, default=5)
    p.add_argument("--deploy-nodes", type=int, default=100)
    p.add_argument("--deploy-runs", type=int, default=10)
    p.add_argument("--wait", choices=["poll", "sse"], default="poll")
    p.add_argument("--poll-ms", type=float, default=2.0, help="poll interval for the chain")
    p.add_argument(
        "--fanout-poll-ms",
        type=float,
        default=20.0,
        help="poll interval while a fan-out runs (server timestamps are the measure; a slower "
        "poll leaves the 2 cores to the server)",
    )
    p.add_argument("--run-timeout", type=float, default=300.0)
    p.add_argument("--request-timeout", type=float, default=60.0)
    args = p.parse_args()
    if args.fanout_nodes < 3 or args.deploy_nodes < 2:
        p.error("--fanout-nodes must be >= 3 and --deploy-nodes >= 2")

    if args.spawn:
        password = secrets.token_urlsafe(24)
        with spawned_server(args.qo_bin, args.startup_timeout, password) as url:
            token = login(url, SPAWN_ADMIN_EMAIL, password, args.request_timeout)
            result = bench(url, token, args)
    else:
        url = args.server.rstrip("/")
        result = bench(url, resolve_token(url, args), args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
