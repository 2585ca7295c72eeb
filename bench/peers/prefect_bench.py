"""Prefect 3 side of the Quantum Orchestrator benchmark.

Run it with the interpreter of bench/peers/.venv-prefect (see setup_prefect.sh):

    bench/peers/.venv-prefect/bin/python bench/peers/prefect_bench.py [--server-mode ephemeral]

It prints ONE JSON object on stdout (everything else, Prefect's own logs included, goes to
stderr):

    {"peer": "prefect", "version": ..., "fanout_tasks_per_s": ..., "chain_median_ms": ...,
     "chain_p95_ms": ..., "deploy_ms": ..., "notes": ..., ...extra detail...}

Server modes:

* ``ephemeral`` (default): PREFECT_API_URL unset, PREFECT_HOME a fresh temp dir. Prefect 3
  starts its own API server (SQLite in PREFECT_HOME) in a subprocess on first use. That
  one-time start is excluded: it happens during the warm-up flow, whose time is reported
  separately as ``warmup_first_flow_ms``.
* ``local``: starts ``prefect server start --host 127.0.0.1 --port N`` (SQLite in the temp
  PREFECT_HOME), points PREFECT_API_URL at it and stops it at the end.

Measurements (wall clock in this process, ``time.perf_counter``):

* fan-out: flow ``start -> 998 no-ops -> end`` (1,000 task runs, default
  ThreadPoolTaskRunner) called ``--fanout-runs`` times after one warm-up; tasks/s =
  1000 / (flow call -> flow return). ``fanout_tasks_per_s`` is the median run, the best run is
  in ``fanout_tasks_per_s_best``.
* chain: flow ``a -> b -> c``, ``--chain-runs`` calls after ``--chain-warmup`` warm-ups;
  median and p95 of flow call -> return. The flow run's server-side timestamps (created ->
  end_time) are read back afterwards and reported as ``chain_server_*``.
* deploy: ``chain100.to_deployment(...)`` + ``.apply()`` (registers the flow and a deployment
  with the API), median of ``--deploy-runs``. Prefect deploys a *code reference*: the task
  graph is not sent, validated or stored, so this is the closest analogue, not a like-for-like
  comparison with compiling and persisting a 100-node graph.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    print(f"[prefect-bench] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send fd 1 (this process and its children) to stderr for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def start_local_server(env: dict[str, str], timeout: float = 120.0) -> subprocess.Popen[bytes]:
    import urllib.request

    port = free_port()
    prefect_bin = Path(sys.executable).with_name("prefect")
    proc = subprocess.Popen(
        [str(prefect_bin), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=sys.stderr,
        stderr=sys.stderr,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    os.environ["PREFECT_API_URL"] = url
                    return proc
        except OSError:
            time.sleep(0.25)
    proc.terminate()
    raise RuntimeError("prefect server did not become healthy in time")


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Prefect reads its settings at import time: configure the environment first.
    home = tempfile.mkdtemp(prefix="prefect-bench-home-")
    os.environ["PREFECT_HOME"] = home
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.pop("PREFECT_API_KEY", None)
    os.environ.pop("PREFECT_PROFILES_PATH", None)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
    if args.log_level:
        os.environ["PREFECT_LOGGING_LEVEL"] = args.log_level
    sys.path.insert(0, str(HERE))

    server: subprocess.Popen[bytes] | None = None
    server_start_ms: float | None = None
    if args.server_mode == "local":
        t = time.perf_counter()
        server = start_local_server(dict(os.environ))
        server_start_ms = (time.perf_counter() - t) * 1000
        log(f"prefect server up at {os.environ['PREFECT_API_URL']} in {server_start_ms:.0f} ms")

    try:
        return measure(args, server_start_ms)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(home, ignore_errors=True)


def server_chain_latencies(flow_run_ids: list[Any]) -> list[float]:
    """created -> end_time of the given flow runs, as recorded by the Prefect API (ms)."""
    from prefect.client.orchestration import get_client

    out: list[float] = []
    with get_client(sync_client=True) as client:
        for frid in flow_run_ids:
            fr = client.read_flow_run(frid)
            if fr.created is not None and fr.end_time is not None:
                out.append((fr.end_time - fr.created).total_seconds() * 1000)
    return out


def measure(args: argparse.Namespace, server_start_ms: float | None) -> dict[str, Any]:
    import prefect
    import prefect_flows as pf

    result: dict[str, Any] = {
        "peer": "prefect",
        "version": prefect.__version__,
        "python": sys.version.split()[0],
        "server_mode": args.server_mode,
    }
    if server_start_ms is not None:
        result["server_start_ms"] = round(server_start_ms, 1)

    width = args.fanout_nodes - 2

    # Warm-up: the first flow call starts the ephemeral API server (in ephemeral mode).
    t = time.perf_counter()
    pf.chain3()
    result["warmup_first_flow_ms"] = round((time.perf_counter() - t) * 1000, 1)
    log(f"first flow (incl. any ephemeral server start): {result['warmup_first_flow_ms']} ms")

    # (b) 3-task chain (a failure here still reports the fan-out figures)
    result["chain_median_ms"] = None
    result["chain_p95_ms"] = None
    try:
        for _ in range(args.chain_warmup):
            pf.chain3()
        lat: list[float] = []
        ids: list[Any] = []
        for _ in range(args.chain_runs):
            t = time.perf_counter()
            state = pf.chain3(return_state=True)
            lat.append((time.perf_counter() - t) * 1000)
            if not state.is_completed():
                raise RuntimeError(f"chain flow ended in {state.type}")
            ids.append(state.state_details.flow_run_id)
        result["chain_runs"] = args.chain_runs
        result["chain_median_ms"] = round(statistics.median(lat), 1)
        result["chain_p95_ms"] = round(percentile(lat, 95), 1)
        result["chain_min_ms"] = round(min(lat), 1)
        log(f"chain: median {result['chain_median_ms']} ms, p95 {result['chain_p95_ms']} ms")
        try:
            srv = server_chain_latencies(ids)
            if srv:
                result["chain_server_median_ms"] = round(statistics.median(srv), 1)
                result["chain_server_p95_ms"] = round(percentile(srv, 95), 1)
        except Exception as exc:
            log(f"could not read server-side flow run timestamps: {exc!r}")
    except Exception as exc:
        log(f"chain measurement failed: {exc!r}")
        result["chain_error"] = repr(exc)

    # (c) deploy of a 100-task flow (closest analogue; see module docstring)
    deploy_total: list[float] = []
    deploy_apply: list[float] = []
    result["deploy_ms"] = None
    if args.deploy_runs > 0:
        try:
            for i in range(args.deploy_runs + 1):  # first one is a warm-up
                t0 = time.perf_counter()
                dep = pf.chain100.to_deployment(name="bench-chain100")
                t1 = time.perf_counter()
                dep.apply()
                t2 = time.perf_counter()
                if i > 0:
                    deploy_total.append((t2 - t0) * 1000)
                    deploy_apply.append((t2 - t1) * 1000)
            result["deploy_ms"] = round(statistics.median(deploy_total), 1)
            result["deploy_apply_only_ms"] = round(statistics.median(deploy_apply), 1)
            log(f"deploy: {result['deploy_ms']} ms, apply only {result['deploy_apply_only_ms']} ms")
        except Exception as exc:
            log(f"deploy measurement failed: {exc!r}")
            result["deploy_error"] = repr(exc)

    # (a) fan-out, measured last: Prefect's API server keeps writing a fan-out's events and
    # logs long after the flow returned, and calls made meanwhile (the chain) fail with 503.
    t = time.perf_counter()
    pf.fanout(width=width, flat=args.flat)
    log(f"fan-out warm-up: {(time.perf_counter() - t):.2f} s")
    rates: list[float] = []
    for i in range(args.fanout_runs):
        if args.settle_s:
            time.sleep(args.settle_s)  # let the API server drain its backlog first
        t = time.perf_counter()
        n = pf.fanout(width=width, flat=args.flat)
        dt = time.perf_counter() - t
        rates.append(n / dt)
        log(f"fan-out run {i + 1}: {n} tasks in {dt:.2f} s = {n / dt:.1f} tasks/s")
    result["fanout_tasks"] = args.fanout_nodes
    result["fanout_shape"] = "flat map" if args.flat else "start -> map -> end"
    result["fanout_tasks_per_s"] = round(statistics.median(rates), 1)
    result["fanout_tasks_per_s_best"] = round(max(rates), 1)
    result["fanout_tasks_per_s_runs"] = [round(r, 1) for r in rates]

    result["notes"] = (
        f"Prefect {prefect.__version__}, {args.server_mode} API server (SQLite in a temp "
        "PREFECT_HOME), default ThreadPoolTaskRunner and default settings"
        + (f" except PREFECT_LOGGING_LEVEL={args.log_level}" if args.log_level else "")
        + ". Times are client wall clock from flow call to return, after warm-up (one-time "
        "server start excluded). fan-out: "
        + result["fanout_shape"]
        + f", {args.fanout_nodes} task runs, median of {args.fanout_runs}"
        + (f" with {args.settle_s:g} s idle before each" if args.settle_s else "")
        + ". chain: a->b->c, "
        f"{args.chain_runs} runs after {args.chain_warmup} warm-ups. deploy: "
        "Flow.to_deployment()+RunnerDeployment.apply() of a flow calling 100 tasks in "
        f"sequence, median of {args.deploy_runs}; Prefect registers a code reference, not a "
        "graph, so this is an analogue, not like-for-like."
    )
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--server-mode", choices=["ephemeral", "local"], default="ephemeral")
    p.add_argument("--fanout-nodes", type=int, default=1000)
    p.add_argument("--fanout-runs", type=int, default=3)
    p.add_argument("--flat", action="store_true", help="1,000 independent tasks via .map")
    p.add_argument(
        "--settle-s",
        type=float,
        default=0.0,
        help="idle seconds before each measured fan-out run (the API server keeps writing the "
        "previous run's events and logs after the flow returned)",
    )
    p.add_argument("--chain-runs", type=int, default=50)
    p.add_argument("--chain-warmup", type=int, default=5)
    p.add_argument("--deploy-runs", type=int, default=10)
    p.add_argument(
        "--log-level",
        default=None,
        help="set PREFECT_LOGGING_LEVEL (default: Prefect's own default, INFO)",
    )
    args = p.parse_args()
    with stdout_to_stderr():
        result = run(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
