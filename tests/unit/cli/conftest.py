"""Fixtures of the CLI tests: the SDK tests' fake server and a CLI runner."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

# The fake server lives with the SDK tests; both suites use the same one.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))

from fake_qo_server import FakeQO, fake_qo


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config dir (where `qo login` keeps tokens) and no credentials from outside."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in ("QO_TOKEN", "QO_AGENT_TOKEN", "QO_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def qo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQO]:
    """A fresh in-memory server, reachable through QO_SERVER as the CLI would find it."""
    with fake_qo() as fake:
        monkeypatch.setenv("QO_SERVER", fake.url)
        yield fake


@pytest.fixture
def runner() -> CliRunner:
    """A Typer test runner."""
    return CliRunner()
