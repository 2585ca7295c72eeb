"""Settings come from the environment and refuse values that cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quantum_orchestrator.settings import Settings


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QO_ENGINE__LEASE_SECONDS", "7")
    monkeypatch.setenv("QO_AGENTS__HTTP_ALLOW", '["10.0.0.0/8", "127.0.0.1"]')
    monkeypatch.setenv("QO_API__CORS_ORIGINS", '["https://ui.example"]')
    settings = Settings()
    assert settings.engine.lease_seconds == 7
    assert settings.agents.http_allow == ["10.0.0.0/8", "127.0.0.1"]
    assert settings.api.cors_origins == ["https://ui.example"]


def test_an_allow_list_entry_must_be_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QO_AGENTS__HTTP_ALLOW", '["intranet"]')
    with pytest.raises(ValidationError, match="'intranet' is not an IP network"):
        Settings()


def test_sqlite_in_the_data_dir_by_default(tmp_path: object) -> None:
    settings = Settings(data_dir=tmp_path)  # type: ignore[arg-type]
    assert settings.database_url() == f"sqlite+aiosqlite:///{tmp_path}/qo.db"
