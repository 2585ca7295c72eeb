"""Measure the dashboard in real Chromium with the Performance API.

    .venv/bin/python bench/dashboard.py [--runs 10000] [--nodes 500] [--loads 5]

Starts ``qo up`` on a temporary SQLite file, seeds ``--runs`` runs (50,000 steps) through the
store, signs in, and measures:

- ``overview_interactive_ms``: from navigation start to the Overview showing its figures
  (``aria-busy`` false with the KPI list rendered), over ``--loads`` fresh loads;
- ``first_screen_js_gzip_kb``: the JavaScript the browser fetched for that first screen,
  gzipped (level 9) from the committed bundle, as a compressing server would send it;
- a 20-step chain (one state change at a time) and a run of a ``--nodes``-node workflow (a
  6-second delay, then every other node at once), each watched live in the run view: time
  until the graph shows every node, long tasks (> 50 ms) of the main thread while the nodes
  update, and for each node the delay from the moment its step finished in the database
  (``finished_at``) to the moment its event reached the page's WebSocket and to the moment
  the page showed it succeeded (p50/p95).

Prints one JSON object on stdout; ``--write`` also puts the figures in ``bench/RESULTS.md``
(its dashboard block, which ``bench/report.py`` keeps), and ``--from-json FILE`` writes that
block from an earlier run's output without measuring again.
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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overview import seed

from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.tables import steps

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
        seeded = await seed(db, runs_count=runs_count, steps_per_run=5, now=datetime.now(UTC))
        # The seeded history has no real workflows behind it: its unfinished steps must not
        # become work for the live server's agents (or its timers) while we measure.
        async with db.write() as conn:
            await conn.execute(
                steps.update()
                .where(steps.c.state.not_in(("succeeded", "failed")))
                .values(state="cancelled")
            )
        return seeded
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
        "nodes": [{"id": "start", "type": "core.delay", "params": {"seconds": 6}}]
        + [{"id": node, "type": "core.noop"} for node in others],
        "connections": [{"from": "start", "to": node} for node in others],
    }


# Installed before the run view loads (an init script, which the page's CSP does not govern):
# the first state each node is drawn in, when each turned succeeded, and long main-thread tasks.
_WATCH = """
(() => {
  if (window.__watching) return;
  window.__watching = true;
  window.__first = {};
  window.__seen = {};
  window.__heard = {};
  // When each step's "succeeded" event reached the page, to split the delay between the
  // server's side and the drawing.
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (message) => {
        const at = performance.timeOrigin + performance.now();
        try {
          const data = JSON.parse(message.data);
          // One event a frame, or several in an `events` frame.
          const events = data.type === 'events' ? data.events
            : data.type === 'event' ? [data.event] : [];
          for (const event of events) {
            if (event.type === 'step.succeeded' && event.node_id) {
              window.__heard['step-' + event.node_id] ??= at;
            }
          }
        } catch (error) { /* not ours to judge */ }
      });
    }
  };
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // [when it ended (epoch ms), how long it took]: the tasks of loading the page and
      // drawing the graph are told apart from those of the updates by when they ended.
      const end = performance.timeOrigin + entry.startTime + entry.duration;
      window.__longTasks.push([end, entry.duration]);
    }
  }).observe({ type: 'longtask', buffered: false });
  const mark = (el) => {
    const id = el.dataset && el.dataset.testid;
    if (!id || !id.startsWith('step-')) return;
    if (!(id in window.__first)) window.__first[id] = el.dataset.state;
    if (el.dataset.state === 'succeeded' && !(id in window.__seen)) {
      window.__seen[id] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') mark(m.target);
      for (const n of m.addedNodes || []) {
        if (n.nodeType !== 1) continue;
        mark(n);
        n.querySelectorAll('[data-testid^=step-]').forEach(mark);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ['data-state'] });
})();
"""


def _chain_workflow(nodes: int) -> dict[str, Any]:
    ids = [f"c{index:02d}" for index in range(nodes - 1)]
    return {
        "name": f"chain-{nodes}",
        "nodes": [{"id": "start", "type": "core.delay", "params": {"seconds": 4}}]
        + [{"id": node, "type": "core.delay", "params": {"seconds": 0.2}} for node in ids],
        "connections": [
            {"from": a, "to": b} for a, b in zip(["start", *ids[:-1]], ids, strict=True)
        ],
    }


def _live_run(page: Page, api: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    nodes = len(spec["nodes"])
    api.post("/api/v1/workflows", json={"spec": spec}).raise_for_status()
    api.post(f"/api/v1/workflows/{spec['name']}/deploy").raise_for_status()
    run = api.post(f"/api/v1/workflows/{spec['name']}/runs", json={"inputs": {}})
    run.raise_for_status()
    run_id = run.json()["id"]
    page.add_init_script(_WATCH)
    started = time.perf_counter()
    page.goto(f"/runs/{run_id}")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid^=step-]').length >= {nodes}",
        timeout=60_000,
    )
    rendered_ms = (time.perf_counter() - started) * 1000
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if api.get(f"/api/v1/runs/{run_id}").json()["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.25)
    try:
        page.wait_for_function(
            f"() => Object.keys(window.__seen).length >= {nodes - 1}", timeout=30_000, polling=100
        )
    except Exception:
        counts = page.evaluate(
            "() => [Object.keys(window.__first).length, Object.keys(window.__seen).length,"
            " [...document.querySelectorAll('[data-testid^=step-]')].map(e => e.dataset.state)"
            ".reduce((a, s) => (a[s] = (a[s] || 0) + 1, a), {})]"
        )
        in_db = [step["state"] for step in api.get(f"/api/v1/runs/{run_id}").json()["steps"]]
        raise SystemExit(
            f"the run view did not show every step succeeded: {counts}; "
            f"in the database: {Counter(in_db)}"
        ) from None
    seen: dict[str, float] = page.evaluate("window.__seen")
    first: dict[str, str] = page.evaluate("window.__first")
    heard: dict[str, float] = page.evaluate("window.__heard")
    all_long_tasks: list[list[float]] = page.evaluate("window.__longTasks")
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    delays = []
    arrivals = []
    finishes = []
    for step in detail["steps"]:
        shown = seen.get(f"step-{step['node_id']}")
        drawn_done = first.get(f"step-{step['node_id']}") == "succeeded"
        if shown is None or drawn_done or step["node_id"] == "start" or not step["finished_at"]:
            continue
        finished = datetime.fromisoformat(step["finished_at"]).timestamp() * 1000
        finishes.append(finished)
        delays.append(shown - finished)
        if f"step-{step['node_id']}" in heard:
            arrivals.append(heard[f"step-{step['node_id']}"] - finished)
    # The updates start when the first measured step finished in the database: long tasks that
    # ended before (loading the page, laying out and drawing the graph) are not theirs.
    updates_from = min(finishes) if finishes else 0.0
    long_tasks = [duration for end, duration in all_long_tasks if end >= updates_from]
    return {
        "nodes": nodes,
        "graph_rendered_ms": round(rendered_ms),
        # The steps do not all finish in one transaction: the built-in agents finish them in
        # batches, so the database side of the "burst" spans this long (first to last).
        "db_finish_span_ms": round(max(finishes) - min(finishes), 1) if finishes else None,
        "state_to_screen_ms": {
            "count": len(delays),
            "p50": round(statistics.median(delays), 1),
            "p95": round(_percentile(delays, 0.95), 1),
            "max": round(max(delays), 1),
        },
        "state_to_socket_ms": {
            "count": len(arrivals),
            "p50": round(statistics.median(arrivals), 1) if arrivals else None,
            "p95": round(_percentile(arrivals, 0.95), 1) if arrivals else None,
        },
        "long_tasks_while_updating": {
            "count": len(long_tasks),
            "max_ms": round(max(long_tasks), 1) if long_tasks else 0,
            "total_ms": round(sum(long_tasks), 1),
        },
    }


RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- dashboard: written by bench/dashboard.py --write -->"
END = "<!-- /dashboard -->"


def _met(value: float, limit: float) -> str:
    return "met" if value < limit else "NOT met"


def render(result: dict[str, Any]) -> str:
    """The dashboard block of RESULTS.md for one run's figures."""
    overview = result["overview_interactive_ms"]
    chain = result["live_chain"]
    wide = result["live_run"]
    rows = [
        (
            f"Overview interactive, {result['seeded']['runs']:,} runs in the database "
            f"(median / max of {overview['loads']} loads)",
            f"{overview['median']:,} / {overview['max']:,} ms",
            f"< 1,000 ms ({_met(overview['median'], 1000)}; policy < 2,000 ms: "
            f"{_met(overview['max'], 2000)})",
        ),
        (
            "JavaScript for the first screen, gzipped",
            f"{result['first_screen_js_gzip_kb']} KB",
            f"<= 350 KB ({_met(result['first_screen_js_gzip_kb'], 350.01)})",
        ),
        (
            f"state change in the database -> on screen, one at a time ({chain['nodes']}-step "
            "chain), p50 / p95",
            f"{chain['state_to_screen_ms']['p50']} / {chain['state_to_screen_ms']['p95']} ms",
            f"p95 < 250 ms ({_met(chain['state_to_screen_ms']['p95'], 250)})",
        ),
        (
            f"{wide['nodes']}-node run: graph drawn after navigation",
            f"{wide['graph_rendered_ms']:,} ms",
            "",
        ),
        (
            f"{wide['nodes']}-node run, {wide['nodes'] - 1} steps finishing at once (in the "
            f"database within {wide.get('db_finish_span_ms')} ms, the agents' transactions): "
            "database -> page's socket, p50 / p95",
            f"{wide['state_to_socket_ms']['p50']} / {wide['state_to_socket_ms']['p95']} ms",
            "",
        ),
        (
            f"{wide['nodes']}-node run, same burst: database -> on screen, p50 / p95",
            f"{wide['state_to_screen_ms']['p50']} / {wide['state_to_screen_ms']['p95']} ms",
            f"p95 < 250 ms ({_met(wide['state_to_screen_ms']['p95'], 250)})",
        ),
        (
            f"{wide['nodes']}-node run: main-thread long tasks while every node updates "
            "(count, longest, total)",
            f"{wide['long_tasks_while_updating']['count']}, "
            f"{wide['long_tasks_while_updating']['max_ms']} ms, "
            f"{wide['long_tasks_while_updating']['total_ms']} ms",
            "",
        ),
    ]
    lines = [
        BEGIN,
        "",
        "## Dashboard (real Chromium)",
        "",
        f"Measured by `bench/dashboard.py` on {result['date']}, {result['machine']}, "
        f"{result['chromium']} headless, `qo up` on its embedded SQLite on the same machine "
        "(the server, its built-in agents and the browser share the 2 cores).",
        "",
        "| measure | result | target |",
        "| --- | --- | --- |",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
        "",
        "```json",
        json.dumps(result, indent=2),
        "```",
        "",
        END,
    ]
    return "\n".join(lines)


def write_results(result: dict[str, Any]) -> None:
    """Put the figures in RESULTS.md, replacing an earlier dashboard block."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start, end = text.find(BEGIN), text.find(END)
    block = render(result)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    parser.add_argument("--write", action="store_true", help="record the figures in RESULTS.md")
    parser.add_argument("--from-json", type=Path, help="write RESULTS.md from this output")
    args = parser.parse_args()
    if args.from_json:
        write_results(json.loads(args.from_json.read_text()))
        return
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
            # One step at a time (a chain of short delays), then every step at once.
            chain = _live_run(page, api, _chain_workflow(20))
            live = _live_run(page, api, _big_workflow(args.nodes))
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
            "live_chain": chain,
            "live_run": live,
        }
        print(json.dumps(result, indent=2))
        if args.write:
            write_results(result)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
