#!/usr/bin/env bash
# Create bench/peers/.venv-prefect (gitignored) and install the pinned Prefect 3 into it.
# Usage: bash bench/peers/setup_prefect.sh   (idempotent; PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-prefect"
python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-prefect.txt"
"$venv/bin/python" -c 'import prefect; print("prefect", prefect.__version__, "installed in", prefect.__file__)'
