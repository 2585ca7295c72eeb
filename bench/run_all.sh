#!/usr/bin/env bash
# Run the Quantum Orchestrator benchmark (spawning `qo up` over SQLite in a temp dir) and the
# Prefect 3 peer one after the other on this machine, then rewrite bench/RESULTS.md.
#
#   bash bench/run_all.sh                 # both
#   SKIP_PREFECT=1 bash bench/run_all.sh  # ours only (the Prefect column then says "not measured")
#   SKIP_QO=1 bash bench/run_all.sh       # Prefect only
#   QO_BENCH_ARGS="--wait sse" PREFECT_BENCH_ARGS="--server-mode local" bash bench/run_all.sh
#
# Raw JSON and logs go to bench/out/ (gitignored). A side that fails is reported as
# "not measured"; the script exits non-zero if any side that was asked for failed.
set -uo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
out="$bench/out"
mkdir -p "$out"

qo_python="${QO_PYTHON:-$repo/.venv/bin/python}"
prefect_python="$bench/peers/.venv-prefect/bin/python"
status=0
date_line="$(date -u)"

rm -f "$out/qo.json" "$out/prefect.json"

if [[ -z "${SKIP_QO:-}" ]]; then
  echo "== Quantum Orchestrator (qo up --spawn) ==" >&2
  # shellcheck disable=SC2086
  if "$qo_python" "$bench/qo_bench.py" --spawn ${QO_BENCH_ARGS:-} \
      >"$out/qo.json" 2> >(tee "$out/qo.log" >&2); then
    cat "$out/qo.json"
  else
    echo "qo_bench.py failed (see $out/qo.log)" >&2
    rm -f "$out/qo.json"
    status=1
  fi
fi

if [[ -z "${SKIP_PREFECT:-}" ]]; then
  if [[ ! -x "$prefect_python" ]]; then
    bash "$bench/peers/setup_prefect.sh" >&2 || status=1
  fi
  echo "== Prefect 3 ==" >&2
  # Prefect logs one line per task: keep them in the log file, show only our progress lines.
  # shellcheck disable=SC2086
  if "$prefect_python" "$bench/peers/prefect_bench.py" ${PREFECT_BENCH_ARGS:-} \
      >"$out/prefect.json" 2>"$out/prefect.log"; then
    grep '^\[prefect-bench\]' "$out/prefect.log" >&2 || true
    cat "$out/prefect.json"
  else
    tail -n 30 "$out/prefect.log" >&2
    echo "prefect_bench.py failed (see $out/prefect.log)" >&2
    rm -f "$out/prefect.json"
    status=1
  fi
fi

python3 "$bench/report.py" --qo "$out/qo.json" --prefect "$out/prefect.json" \
  --out "$bench/RESULTS.md" --date "$date_line" || status=1
exit "$status"
