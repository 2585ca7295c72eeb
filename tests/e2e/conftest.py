"""Fixtures of the end-to-end suite: a fresh directory and port per test, processes stopped."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.harness import Cluster, cluster

TASKS = Path(__file__).resolve().parent / "agent_tasks.py"


@pytest.fixture
def qo(tmp_path: Path) -> Iterator[Cluster]:
    """A data dir, a free port and ``tasks.py`` (the test agents' module) in a temporary dir.

    The test starts what it needs (``qo.start_server()``, ``qo.start_agent(...)``); every
    process is stopped when the test ends.
    """
    shutil.copy(TASKS, tmp_path / "tasks.py")
    with cluster(tmp_path) as box:
        yield box
