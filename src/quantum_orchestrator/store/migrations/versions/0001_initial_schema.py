"""Initial schema: workspaces, workflows, versions, runs, steps, attempts, agents, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 02:19:45.566275
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import quantum_orchestrator.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_WORKSPACE_ID = "00000000000000000000000000000001"


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pool", sa.String(length=100), nullable=False),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column(
            "registered_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "last_heartbeat_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agents_state_last_heartbeat_at"),
            ["state", "last_heartbeat_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_agents_workspace_id_registered_at"),
            ["workspace_id", "registered_at"],
            unique=False,
        )

    op.create_table(
        "capabilities",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "params_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("pool", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("workspace_id", "name", name=op.f("pk_capabilities")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("step_id", sa.String(length=32), nullable=True),
        sa.Column("node_id", sa.String(length=120), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "ts", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_run_id_id"), ["run_id", "id"], unique=False)

    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("slug", name=op.f("uq_workspaces_slug")),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("latest_version", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_workflows_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_workflows_workspace_id_name")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_versions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("workflow_id", "number", name=op.f("uq_versions_workflow_id_number")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("workflow_name", sa.String(length=100), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "started_at", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_runs_version_id_versions")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_runs_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name=op.f("uq_runs_workspace_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runs_workflow_id_created_at"),
            ["workflow_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_runs_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_runs_workspace_id_state_created_at"),
            ["workspace_id", "state", "created_at"],
            unique=False,
        )

    op.create_table(
        "steps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("node_type", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pool", sa.String(length=100), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "output",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_base", sa.Integer(), nullable=False),
        sa.Column("redeliveries", sa.Integer(), nullable=False),
        sa.Column(
            "retry",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("trigger_rule", sa.String(length=32), nullable=False),
        sa.Column("up_total", sa.Integer(), nullable=False),
        sa.Column("up_succeeded", sa.Integer(), nullable=False),
        sa.Column("up_failed", sa.Integer(), nullable=False),
        sa.Column("up_skipped", sa.Integer(), nullable=False),
        sa.Column(
            "skipped_targets",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "available_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "wake_at", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "lease_expires_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "deadline_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column(
            "queued_at", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "started_at", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_steps_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
        sa.UniqueConstraint("run_id", "node_id", name=op.f("uq_steps_run_id_node_id")),
    )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_steps_agent_id_state"), ["agent_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_steps_parent_id_map_index"), ["parent_id", "map_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_steps_run_id_state"), ["run_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_steps_state_available_at"), ["state", "available_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_steps_state_deadline_at"), ["state", "deadline_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_steps_state_lease_expires_at"),
            ["state", "lease_expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_steps_state_wake_at"), ["state", "wake_at"], unique=False
        )

    op.create_table(
        "attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("step_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "error",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "started_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "finished_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["step_id"], ["steps.id"], name=op.f("fk_attempts_step_id_steps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("step_id", "number", name=op.f("uq_attempts_step_id_number")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attempts_agent_id_state"), ["agent_id", "state"], unique=False
        )
    workspaces = sa.table(
        "workspaces",
        sa.column("id", sa.String),
        sa.column("slug", sa.String),
        sa.column("name", sa.String),
        sa.column("created_at", quantum_orchestrator.store.types.UTCDateTime(timezone=True)),
    )
    op.bulk_insert(
        workspaces,
        [
            {
                "id": DEFAULT_WORKSPACE_ID,
                "slug": "default",
                "name": "Default",
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_agent_id_state"))
        batch_op.drop_index(batch_op.f("ix_attempts_run_id"))

    op.drop_table("attempts")
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steps_state_wake_at"))
        batch_op.drop_index(batch_op.f("ix_steps_state_lease_expires_at"))
        batch_op.drop_index(batch_op.f("ix_steps_state_deadline_at"))
        batch_op.drop_index(batch_op.f("ix_steps_state_available_at"))
        batch_op.drop_index(batch_op.f("ix_steps_run_id_state"))
        batch_op.drop_index(batch_op.f("ix_steps_parent_id_map_index"))
        batch_op.drop_index(batch_op.f("ix_steps_agent_id_state"))

    op.drop_table("steps")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_workspace_id_state_created_at"))
        batch_op.drop_index(batch_op.f("ix_runs_workspace_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_runs_workflow_id_created_at"))

    op.drop_table("runs")
    op.drop_table("versions")
    op.drop_table("workflows")
    op.drop_table("workspaces")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_run_id_id"))

    op.drop_table("events")
    op.drop_table("capabilities")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_workspace_id_registered_at"))
        batch_op.drop_index(batch_op.f("ix_agents_state_last_heartbeat_at"))

    op.drop_table("agents")
