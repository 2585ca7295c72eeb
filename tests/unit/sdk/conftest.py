"""Fixtures of the SDK tests: a real fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_qo_server import FakeQO, fake_qo


@pytest.fixture
def qo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQO]:
    """A fresh in-memory server; QO_SERVER/QO_TOKEN from the outside are ignored."""
    monkeypatch.delenv("QO_SERVER", raising=False)
    monkeypatch.delenv("QO_TOKEN", raising=False)
    with fake_qo() as fake:
        yield fake
