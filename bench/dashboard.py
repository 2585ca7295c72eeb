"""Measure the dashboard in real Chromium with the Performance API.

    .venv/bin/python bench/dashboard.py [--runs 10000] [--nodes 500] [--loads 5]

Starts ``qo up`` on a temporary SQLite file, seeds ``--runs`` runs (50,000 steps) through the
store, signs in, and measures:

- ``overview_interactive_ms``: from navigation start to the Overview showing its figures
  (``aria-busy`` false with the KPI list rendered), over ``--loads`` fresh loads;
- ``first_screen_js_gzip_kb``: the JavaScript the browser fetched for that first screen,
  gzipped (level 9) from the committed bundle, as a compressing server would send it;
- a run of a ``--nodes``-node workflow (a 2-second delay, then every other node at once) watched
  live in the run view: time until the graph shows every node, long tasks (> 50 ms) of the main
  thread while the nodes update, and for each node the delay from the moment its step finished in
  the database (``finished_at``) to the moment the browser showed it succeeded (p50/p95).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overview import seed

from quantum_orchestrator.store.database import Database, DatabaseOptions

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "src" / "quantum_orchestrator" / "web" / "dist"
CHROMIUM = os.environ.get("QO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = secrets.token_urlsafe(16)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def _start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QO_")}
    env.update(
        {
            "QO_HOST": "127.0.0.1",
            "QO_PORT": str(port),
            "QO_DATA_DIR": str(data_dir),
            "QO_ADMIN_EMAIL": ADMIN_EMAIL,
            "QO_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "QO_NO_BROWSER": "1",
            "QO_API__RATE_LIMIT": "0",
        }
    )
    log = (data_dir.parent / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "qo"), "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("qo up did not start: see server.log")


async def _seed(data_dir: Path, runs_count: int) -> dict[str, int]:
    db = Database(options=DatabaseOptions(url=f"sqlite+aiosqlite:///{data_dir / 'qo.db'}"))
    try:
        return await seed(db, runs_count=runs_count, steps_per_run=5, now=datetime.now(UTC))
    finally:
        await db.dispose()


def _overview_loads(page: Page, loads: int) -> tuple[list[float], float]:
    """Milliseconds to an interactive Overview per load; KB of gzipped JS of the first load."""
    times: list[float] = []
    js_bytes = 0
    for index in range(loads):
        page.goto("/", wait_until="commit")
        page.wait_for_selector("section.overview[aria-busy=false] .ov-kpis", timeout=30_000)
        times.append(page.evaluate("performance.now()"))
        if index == 0:
            names: list[str] = page.evaluate(
                "performance.getEntriesByType('resource').map(e => e.name)"
                ".concat([...document.scripts].map(s => s.src))"
            )
            seen = {name.split("/assets/")[-1] for name in names if "/assets/" in name}
            for name in sorted(seen):
                if name.endswith(".js"):
                    js_bytes += len(gzip.compress((DIST / "assets" / name).read_bytes(), 9))
    return times, js_bytes / 1024


def _big_workflow(nodes: int) -> dict[str, Any]:
    others = [f"n{index:03d}" for index in range(nodes - 1)]
    return {
        "name": f"wide-{nodes}",
        "nodes": [{"id": "start", "type": "core.delay", "params": {"seconds": 2}}]
        + [{"id": node, "type": "core.noop"} for node in others],
        "connections": [{"from": "start", "to": node} for node in others],
    }


_WATCH = """
() => {
  window.__seen = {};
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
  const mark = (el) => {
    const id = el.dataset.testid;
    if (el.dataset.state === 'succeeded' && id && !(id in window.__seen)) {
      window.__seen[id] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') mark(m.target);
      for (const n of m.addedNodes || []) {
        if (n.querySelectorAll) n.querySelectorAll('[data-testid^=step-]').forEach(mark);
      }
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true,
                              attributeFilter: ['data-state'] });
}
"""


def _live_run(page: Page, api: httpx.Client, nodes: int) -> dict[str, Any]:
    spec = _big_workflow(nodes)
    api.post("/api/v1/workflows", json={"spec": spec}).raise_for_status()
    api.post(f"/api/v1/workflows/{spec['name']}/deploy").raise_for_status()
    run = api.post(f"/api/v1/workflows/{spec['name']}/runs", json={"inputs": {}})
    run.raise_for_status()
    run_id = run.json()["id"]
    started = time.perf_counter()
    page.goto(f"/runs/{run_id}")
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid^=step-]').length >= {nodes}", timeout=60_000
    )
    rendered_ms = (time.perf_counter() - started) * 1000
    page.evaluate(_WATCH)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if api.get(f"/api/v1/runs/{run_id}").json()["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.25)
    page.wait_for_function(
        f"Object.keys(window.__seen).length >= {nodes - 1}", timeout=30_000, polling=100
    )
    seen: dict[str, float] = page.evaluate("window.__seen")
    long_tasks: list[float] = page.evaluate("window.__longTasks")
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    delays = []
    for step in detail["steps"]:
        shown = seen.get(f"step-{step['node_id']}")
        if shown is None or step["node_id"] == "start" or not step.get("finished_at"):
            continue
        finished = datetime.fromisoformat(step["finished_at"]).timestamp() * 1000
        delays.append(shown - finished)
    return {
        "nodes": nodes,
        "graph_rendered_ms": round(rendered_ms),
        "state_to_screen_ms": {
            "count": len(delays),
            "p50": round(statistics.median(delays), 1),
            "p95": round(_percentile(delays, 0.95), 1),
            "max": round(max(delays), 1),
        },
        "long_tasks_while_updating": {
            "count": len(long_tasks),
            "max_ms": round(max(long_tasks), 1) if long_tasks else 0,
            "total_ms": round(sum(long_tasks), 1),
        },
    }


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qo-dash-bench-"))
    data_dir = root / "data"
    data_dir.mkdir()
    port = _free_port()
    server = _start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        seeded = asyncio.run(_seed(data_dir, args.runs))
        token = httpx.post(
            f"{base}/api/v1/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
            login = context.request.post(
                "/api/v1/auth/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.ok, login.text()
            page = context.new_page()
            times, js_kb = _overview_loads(page, args.loads)
            live = _live_run(page, api, args.nodes)
            browser.close()
        result = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{os.cpu_count()} cores, {os.uname().machine}",
            "chromium": CHROMIUM,
            "seeded": seeded,
            "overview_interactive_ms": {
                "loads": len(times),
                "median": round(statistics.median(times)),
                "max": round(max(times)),
            },
            "first_screen_js_gzip_kb": round(js_kb, 1),
            "live_run": live,
        }
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
