"""Fixtures of the SDK tests: a real fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_qo_server import FakeQO, fake_qo


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config dir (stored logins) and no QO_* credentials from the outside."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in ("QO_SERVER", "QO_TOKEN", "QO_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def qo_server() -> Iterator[FakeQO]:
    """A fresh in-memory server."""
    with fake_qo() as fake:
        yield fake
