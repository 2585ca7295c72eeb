"""Write bench/RESULTS.md from the JSON objects printed by qo_bench.py and prefect_bench.py.

    python3 bench/report.py --qo bench/out/qo.json --prefect bench/out/prefect.json \
        --out bench/RESULTS.md [--date "$(date -u)"]

A missing or unreadable JSON file leaves its column "not measured": no figure is ever
written that was not measured. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGETS = {
    "fanout": 1000.0,  # tasks/s, at least
    "chain": 20.0,  # ms median, at most
    "deploy": 200.0,  # ms, at most
}

REPEAT = """\
bash bench/peers/setup_prefect.sh        # once: Prefect 3 into bench/peers/.venv-prefect
bash bench/run_all.sh                    # both benches, then this file

# or one side at a time:
.venv/bin/python bench/qo_bench.py --spawn > bench/out/qo.json
bench/peers/.venv-prefect/bin/python bench/peers/prefect_bench.py > bench/out/prefect.json
python3 bench/report.py --qo bench/out/qo.json --prefect bench/out/prefect.json \\
    --out bench/RESULTS.md"""


def load(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    # Tolerate stray lines: the result is the last line that parses as a JSON object.
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def machine() -> dict[str, str]:
    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                kib = int(line.split()[1])
                mem = f"{kib / 1024 / 1024:.1f} GiB"
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
        cores = nproc.strip()
    except (OSError, subprocess.CalledProcessError):
        cores = str(os.cpu_count())
    return {
        "nproc": cores,
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "tasks/s":
        return f"{value:,.0f} tasks/s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms"


def ratio(qo: float | None, peer: float | None, higher_is_better: bool) -> str:
    """How many times better QO is than the peer (>1 = QO better)."""
    if qo is None or peer is None or qo <= 0 or peer <= 0:
        return "n/a"
    r = qo / peer if higher_is_better else peer / qo
    return f"{r:,.1f}x"


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return ""
    ok = value >= target if higher_is_better else value <= target
    return " (met)" if ok else " (NOT met)"


def rows(qo: dict[str, Any], pf: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []

    def row(
        label: str,
        qkey: str | None,
        pkey: str | None,
        unit: str,
        higher: bool,
        target: str = "",
        tval: float | None = None,
    ) -> None:
        q = num(qo.get(qkey)) if qkey else None
        p = num(pf.get(pkey)) if pkey else None
        tgt = target + (verdict(q, tval, higher) if tval is not None else "")
        out.append([label, fmt(q, unit), fmt(p, unit), ratio(q, p, higher), tgt])

    fan = TARGETS["fanout"]
    chain = TARGETS["chain"]
    dep = TARGETS["deploy"]
    row(
        "(a) fan-out 1,000 no-op nodes, tasks/s (median of 3)",
        "fanout_tasks_per_s",
        "fanout_tasks_per_s",
        "tasks/s",
        True,
        f">= {fan:,.0f} tasks/s",
        fan,
    )
    row(
        "(a) fan-out, best of 3",
        "fanout_tasks_per_s_best",
        "fanout_tasks_per_s_best",
        "tasks/s",
        True,
    )
    row(
        "(b) 3-node chain, median latency, server-recorded (QO target measure)",
        "chain_median_ms",
        "chain_server_median_ms",
        "ms",
        False,
        f"median <= {chain:.0f} ms",
        chain,
    )
    row(
        "(b) 3-node chain, p95 latency, server-recorded",
        "chain_p95_ms",
        "chain_server_p95_ms",
        "ms",
        False,
    )
    row(
        "(b) 3-node chain, median latency, client wall clock",
        "chain_client_median_ms",
        "chain_median_ms",
        "ms",
        False,
    )
    row(
        "(b) 3-node chain, p95 latency, client wall clock",
        "chain_client_p95_ms",
        "chain_p95_ms",
        "ms",
        False,
    )
    row(
        "(c) deploy a 100-node workflow, median of 10",
        "deploy_ms",
        "deploy_ms",
        "ms",
        False,
        f"<= {dep:.0f} ms",
        dep,
    )
    return out


def render(qo: dict[str, Any] | None, pf: dict[str, Any] | None, date: str) -> str:
    m = machine()
    q = qo or {}
    p = pf or {}
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/report.py` (via `bench/run_all.sh`); do not edit by hand.",
        "See `bench/README.md` for what each figure means.",
        "",
        f"- Date: {date}",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, {m['os']}",
        f"- Python (report): {m['python']}; Quantum Orchestrator bench: "
        f"{q.get('python', 'n/a')}; Prefect bench: {p.get('python', 'n/a')}",
        "- Quantum Orchestrator: "
        + (
            f"version {q.get('version') or 'unknown'}"
            if qo
            else "not measured in this run (fill it with `bash bench/run_all.sh`)"
        ),
        f"- Prefect: {'version ' + str(p.get('version')) if pf else 'not measured in this run'}"
        f"{', ' + str(p['server_mode']) + ' API server' if p.get('server_mode') else ''}",
        "",
        "| measure | Quantum Orchestrator | Prefect 3 | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(q, p)]
    lines += [
        "",
        "ratio = how many times better Quantum Orchestrator is (throughput: QO / Prefect; "
        "latency and deploy time: Prefect / QO); above 1x means QO is ahead.",
        "The target applies to the Quantum Orchestrator column.",
        "",
        "Notes:",
        "",
        f"- Quantum Orchestrator: {q.get('notes', 'not measured in this run.')}",
        f"- Prefect: {p.get('notes', 'not measured in this run.')}",
    ]
    if p.get("warmup_first_flow_ms") is not None:
        lines.append(
            f"- Prefect's first flow call (ephemeral server start included, excluded from the "
            f"figures above) took {p['warmup_first_flow_ms']:,.0f} ms."
        )
    if p.get("deploy_apply_only_ms") is not None:
        lines.append(
            f"- Prefect deploy: `to_deployment()` + `apply()` {p['deploy_ms']} ms, of which "
            f"`apply()` (the API calls) {p['deploy_apply_only_ms']} ms."
        )
    lines += [
        "",
        "## Repeat",
        "",
        "```sh",
        REPEAT,
        "```",
        "",
        "## Raw results",
        "",
        "```json",
        json.dumps({"quantum_orchestrator": qo, "prefect": pf}, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


DASHBOARD_BEGIN = "<!-- dashboard: written by bench/dashboard.py --write -->"
DASHBOARD_END = "<!-- /dashboard -->"


def dashboard_block(text: str) -> str:
    """The dashboard section of a RESULTS.md, markers included ("" when there is none)."""
    start = text.find(DASHBOARD_BEGIN)
    end = text.find(DASHBOARD_END)
    if start < 0 or end < start:
        return ""
    return text[start : end + len(DASHBOARD_END)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qo", help="JSON printed by bench/qo_bench.py")
    ap.add_argument("--prefect", help="JSON printed by bench/peers/prefect_bench.py")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    ap.add_argument("--date", help="date line (default: now, like `date -u`)")
    args = ap.parse_args()
    date = args.date or datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    qo = load(args.qo)
    pf = load(args.prefect)
    if qo is None and pf is None:
        print("report.py: no results to report", file=sys.stderr)
        return 1
    out = Path(args.out)
    # The dashboard's browser figures (bench/dashboard.py --write) live in their own block,
    # which a rerun of the engine benchmarks keeps.
    kept = dashboard_block(out.read_text()) if out.exists() else ""
    out.write_text(render(qo, pf, date) + (f"\n{kept}\n" if kept else ""))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
