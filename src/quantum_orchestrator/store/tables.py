"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create the same."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from quantum_orchestrator.store.types import JsonType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", ID, primary_key=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # CIDR networks the workspace's HTTP steps may reach although private (SSRF allow-list).
    Column("http_allow", JsonType, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False),
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("spec", JsonType, nullable=False),
    Column("latest_version", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace_id", "name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workflow_id", ID, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", ID, nullable=False),
    Column("number", Integer, nullable=False),
    Column("spec", JsonType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("workflow_id", "number"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, nullable=False),
    Column("workflow_id", ID, ForeignKey("workflows.id"), nullable=False),
    Column("workflow_name", String(100), nullable=False),
    Column("version_id", ID, ForeignKey("versions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("inputs", JsonType, nullable=False),
    Column("outputs", JsonType, nullable=True),
    Column("error", JsonType, nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("trigger", String(32), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # A run started by a ``core.subworkflow`` step: that step and its run, and how deep the
    # nesting is (0 for a run nobody's step started).
    Column("parent_run_id", ID, nullable=True),
    Column("parent_step_id", ID, nullable=True),
    Column("depth", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "state", "created_at"),
    Index(None, "workflow_id", "created_at"),
    Index(None, "parent_run_id"),
    Index(None, "parent_step_id"),
    # The dashboard overview: runs finished in a workspace since a moment (0007).
    Index(None, "workspace_id", "finished_at"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", ID, nullable=False),
    Column("node_id", String(120), nullable=False),
    Column("node_type", String(200), nullable=False),
    Column("parent_id", ID, nullable=True),
    Column("map_index", Integer, nullable=True),
    Column("state", String(16), nullable=False),
    Column("pool", String(100), nullable=True),
    Column("params", JsonType, nullable=True),
    Column("output", JsonType, nullable=True),
    Column("error", JsonType, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("attempt_base", Integer, nullable=False, default=0),
    Column("redeliveries", Integer, nullable=False, default=0),
    Column("retry", JsonType, nullable=False),
    Column("timeout", Float, nullable=False),
    Column("trigger_rule", String(32), nullable=False),
    Column("up_total", Integer, nullable=False, default=0),
    Column("up_succeeded", Integer, nullable=False, default=0),
    Column("up_failed", Integer, nullable=False, default=0),
    Column("up_skipped", Integer, nullable=False, default=0),
    Column("skipped_targets", JsonType, nullable=True),
    Column("available_at", UTCDateTime, nullable=True),
    Column("wake_at", UTCDateTime, nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("agent_id", ID, nullable=True),
    Column("queued_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("run_id", "node_id"),
    Index(None, "state", "available_at"),
    Index(None, "state", "lease_expires_at"),
    Index(None, "state", "wake_at"),
    Index(None, "state", "deadline_at"),
    Index(None, "agent_id", "state"),
    Index(None, "parent_id", "map_index"),
    Index(None, "run_id", "state"),
    # The dashboard overview: steps finished in a workspace since a moment (0007).
    Index(None, "workspace_id", "finished_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("step_id", ID, ForeignKey("steps.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ID, nullable=False),
    Column("number", Integer, nullable=False),
    Column("agent_id", ID, nullable=True),
    Column("state", String(16), nullable=False),
    Column("error", JsonType, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("step_id", "number"),
    Index(None, "run_id"),
    Index(None, "agent_id", "state"),
)

# What handlers logged through ``ctx.logger``, per attempt, as their agents reported it.
step_logs = Table(
    "step_logs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("step_id", ID, ForeignKey("steps.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", ID, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("level", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Index(None, "step_id", "id"),
    Index(None, "run_id"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("pool", String(100), nullable=False),
    Column("capabilities", JsonType, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("version", String(50), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("builtin", Boolean, nullable=False, default=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("last_heartbeat_at", UTCDateTime, nullable=False),
    Index(None, "state", "last_heartbeat_at"),
    Index(None, "workspace_id", "registered_at"),
)

capabilities = Table(
    "capabilities",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("category", String(100), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("params_schema", JsonType, nullable=False),
    Column("pool", String(100), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("workspace_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("step_id", ID, nullable=True),
    Column("node_id", String(120), nullable=True),
    Column("type", String(64), nullable=False),
    Column("state", String(16), nullable=True),
    Column("data", JsonType, nullable=True),
    Column("ts", UTCDateTime, nullable=False),
    Index(None, "run_id", "id"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("name", String(100), primary_key=True),
    # nonce + AES-GCM ciphertext; the value never reaches the database in clear.
    Column("ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    # Stored lowercased, so that the unique constraint is case-insensitive.
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("workspace_id", ID, ForeignKey("workspaces.id"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "user_id", "created_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    # SHA-256 of the token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("source_ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Index(None, "user_id", "created_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    # The first characters of the key, to recognise it in listings.
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_by", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("rotated_to", ID, nullable=True),
    Index(None, "workspace_id", "created_at"),
)

agent_tokens = Table(
    "agent_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("pool", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "workspace_id", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", ID, nullable=False, unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("workspace_id", ID, nullable=True),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(64), nullable=True),
    Column("actor_label", String(254), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=True),
    Column("target_id", String(200), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("source_ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("digest", String(64), nullable=True),
    Column("details", JsonType, nullable=True),
    # The chain: each entry stores the previous entry's hash and its own.
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "workspace_id", "seq"),
    Index(None, "workspace_id", "action", "seq"),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("workflow_id", ID, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    # Schedule: cron or interval, timezone, misfire policy. Run completion: source and states.
    Column("config", JsonType, nullable=False),
    Column("inputs", JsonType, nullable=False),
    Column("state", String(16), nullable=False),
    # The ticker's timer: the next fire time of an active schedule, NULL otherwise.
    Column("next_fire_at", UTCDateTime, nullable=True),
    Column("last_fire_at", UTCDateTime, nullable=True),
    # Webhooks: nonce + AES-GCM ciphertext of the signing secret, never stored in clear.
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("secret_key_id", String(16), nullable=True),
    Column("created_by", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace_id", "workflow_id", "name"),
    Index(None, "state", "next_fire_at"),
    Index(None, "workspace_id", "created_at"),
    Index(None, "kind", "state"),
)

usage = Table(
    "usage",
    metadata,
    Column("id", ID, primary_key=True),
    # No foreign keys: what was spent stays accounted after its run or workflow is deleted.
    Column("workspace_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("step_id", ID, nullable=False),
    Column("node_id", String(120), nullable=False),
    Column("workflow_id", ID, nullable=True),
    Column("workflow_name", String(100), nullable=True),
    Column("agent_id", ID, nullable=True),
    Column("model", String(200), nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    # Priced by the server from its price table when the result was applied.
    Column("cost", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "workspace_id", "created_at"),
    Index(None, "run_id"),
)

usage_budgets = Table(
    "usage_budgets",
    metadata,
    Column("workspace_id", ID, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    # Monthly limits; NULL: no limit of that kind.
    Column("token_limit", BigInteger, nullable=True),
    Column("cost_limit", Float, nullable=True),
    Column("alert_ratio", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
