"""Prefect 3 flows measured by prefect_bench.py.

Kept in their own module so that prefect_bench.py can set PREFECT_* environment variables
before Prefect is imported, and so that ``Flow.to_deployment`` finds a real entrypoint
(``prefect_flows.py:chain100``).

The shapes mirror the Quantum Orchestrator side (bench/qo_bench.py):

* fan-out: ``start`` -> 998 parallel no-ops -> ``end`` (1,000 task runs), or with
  ``flat=True`` 1,000 independent no-ops submitted with ``.map``;
* chain: ``a -> b -> c``, each task taking the previous one's result;
* chain100: 100 no-ops in sequence, the deploy-time workload.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.futures import wait


@task
def noop(x: Any = None) -> Any:
    return x


@flow(name="bench-fanout")
def fanout(width: int = 998, flat: bool = False) -> int:
    if flat:
        futures = noop.map(range(width + 2))
        wait(futures)
        return len(futures)
    start = noop.submit(0)
    middle = noop.map(range(width), wait_for=[start])
    end = noop.submit(0, wait_for=middle)
    end.wait()
    return len(middle) + 2


@flow(name="bench-chain3")
def chain3() -> Any:
    a = noop(1)
    b = noop(a)
    return noop(b)


@flow(name="bench-chain100")
def chain100(length: int = 100) -> Any:
    x: Any = 0
    for _ in range(length):
        x = noop(x)
    return x
