"""Settings, built once at the edge (the CLI, ``create_app``) and passed in.

Every field can be set from the environment with the ``QO_`` prefix; nested groups use ``__``
(``QO_DATABASE__URL``, ``QO_ENGINE__LEASE_SECONDS``). Nothing reads the environment at import.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/quantum-orchestrator``, else ``~/.local/share/quantum-orchestrator``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quantum-orchestrator"


class DatabaseSettings(BaseModel):
    """Where state lives. Empty ``url`` means the SQLite file ``qo.db`` in the data dir."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field("", description="SQLAlchemy URL; empty for SQLite in the data dir.")
    pool_size: int = Field(10, ge=1, le=200, description="Connections kept open (PostgreSQL).")
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")


class LlmPrice(BaseModel):
    """What one model costs, per 1000 tokens (any currency, used consistently)."""

    model_config = ConfigDict(extra="forbid")

    prompt_per_1k: float = Field(0.0, ge=0, description="Price of 1000 prompt tokens.")
    completion_per_1k: float = Field(0.0, ge=0, description="Price of 1000 completion tokens.")


class EngineSettings(BaseModel):
    """Timings and limits of the engine."""

    model_config = ConfigDict(extra="forbid")

    lease_seconds: float = Field(15.0, gt=0, le=3600, description="A claim's lease.")
    heartbeat_interval: float = Field(
        2.0, gt=0, le=600, description="How often agents heartbeat (extends their leases)."
    )
    agent_lost_after: float = Field(
        15.0, gt=0, le=3600, description="Silence after which an agent is marked lost."
    )
    tick_interval: float = Field(0.25, gt=0, le=60, description="Timer loop period.")
    default_timeout: float = Field(30.0, gt=0, le=86400, description="Per-attempt timeout.")
    default_max_attempts: int = Field(3, ge=1, le=100, description="Attempts per step.")
    max_redeliveries: int = Field(
        5, ge=0, le=100, description="Lease losses tolerated before a step fails."
    )
    max_output_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576, description="Largest step output (JSON)."
    )
    unknown_node_types: Literal["reject", "allow"] = Field(
        "reject",
        description="`reject`: a spec may use built-in types and capabilities registered by an "
        "agent; `allow`: any `category.name` is accepted (an agent may offer it later).",
    )
    claim_batch: int = Field(64, ge=1, le=1000, description="Most tasks handed out per claim.")
    max_subworkflow_depth: int = Field(
        8,
        ge=1,
        le=100,
        description="How deep `core.subworkflow` runs may nest (a run started by a run started "
        "by …); past it the step fails, so a workflow that calls itself cannot recurse for ever.",
    )
    llm_prices: dict[str, LlmPrice] = Field(
        default_factory=dict,
        description="Price table of LLM usage, JSON such as "
        '`{"gpt-4o-mini": {"prompt_per_1k": 0.00015, "completion_per_1k": 0.0006}}`; a key '
        "ending in `*` is a prefix, `*` alone matches any model. Unlisted models cost 0.",
    )


class AgentPoolSettings(BaseModel):
    """The built-in agent pool that ``qo up`` runs in process."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run built-in agents inside the server.")
    pool: str = Field("builtin", description="Pool name of the built-in agents.")
    concurrency: int = Field(64, ge=1, le=10_000, description="Steps run at once.")
    http_allow: list[str] = Field(
        default_factory=list,
        description="Internal networks `specialized.http_request` may reach, as a JSON list of "
        'CIDRs such as `["10.0.0.0/8", "127.0.0.1/32"]`; private, loopback and link-local '
        "addresses are refused otherwise (SSRF protection).",
    )

    @field_validator("http_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP network such as 10.0.0.0/8") from None
        return value


class ApiSettings(BaseModel):
    """Limits of the HTTP API."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body.")
    request_timeout: float = Field(30.0, gt=0, description="Request timeout (504 past it).")
    max_page_size: int = Field(200, ge=1, le=10_000, description="Largest page of a listing.")
    rate_limit: float = Field(
        100.0, ge=0, description="Requests per second per caller (token bucket); 0: no limit."
    )
    rate_limit_burst: int = Field(100, ge=1, description="Requests a caller may make at once.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (CORS), as a JSON list "
        'such as `["https://ui.example"]`; empty: none.',
    )
    dashboard_dir: Path | None = Field(
        None,
        description="Directory of the built web dashboard (its `index.html` and `assets/`), "
        "served at `/`; unset: the bundle packaged as `quantum_orchestrator/web/dist`.",
    )


class AuthSettings(BaseModel):
    """Sessions, login protection and API key rotation."""

    model_config = ConfigDict(extra="forbid")

    session_idle_timeout: float = Field(
        43_200.0, gt=0, description="Seconds a session may go unused before it expires (12 h)."
    )
    session_max_age: float = Field(
        604_800.0, gt=0, description="Seconds a session lasts at most, however used (7 days)."
    )
    login_attempts_per_minute: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins allowed per minute, per account and per address; then 429.",
    )
    api_key_grace_hours: float = Field(
        24.0, ge=0, le=8760, description="Default hours a rotated API key keeps working."
    )


class Settings(BaseSettings):
    """All settings of a server or CLI process."""

    model_config = SettingsConfigDict(
        env_prefix="QO_", env_nested_delimiter="__", extra="ignore", frozen=False
    )

    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8787, ge=0, le=65535, description="Port the server listens on.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Data directory.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="`auto`: console on a terminal, JSON lines otherwise."
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    agents: AgentPoolSettings = Field(default_factory=AgentPoolSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    tls_certfile: Path | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS; with `tls_keyfile`."
    )
    tls_keyfile: Path | None = Field(None, description="PEM private key of `tls_certfile`.")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    admin_email: str = Field(
        "admin@localhost", description="E-mail of the first admin, created on an empty database."
    )
    admin_password: SecretStr | None = Field(
        None,
        description="Password of the first admin. Unset: a random one is generated and printed "
        "once by `qo up`.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Master key that encrypts workspace secrets: URL-safe base64 of 32 random "
        "bytes. Unset: the file `secret.key` in the data dir, created on first use (mode 0600).",
    )
    secret_keys_previous: list[SecretStr] = Field(
        default_factory=list,
        description="Other master keys that still decrypt secrets but never encrypt, as a JSON "
        'list such as `["<old key>"]`: the keys a rotation replaced, kept until '
        "`qo admin rotate-secret-key` has re-encrypted every secret (or the next key, listed "
        "before it becomes `QO_SECRET_KEY`). Added to the data dir's `secret.keyring` when "
        "`QO_SECRET_KEY` is unset.",
    )

    def database_url(self) -> str:
        """The configured URL, or the SQLite file in the data dir."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'qo.db'}"
