"""Triggers: schedules, webhooks and run-completion triggers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import quantum_orchestrator.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def _time() -> quantum_orchestrator.store.types.UTCDateTime:
    return quantum_orchestrator.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("next_fire_at", _time(), nullable=True),
        sa.Column("last_fire_at", _time(), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("secret_key_id", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_triggers_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_triggers_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint(
            "workspace_id",
            "workflow_id",
            "name",
            name=op.f("uq_triggers_workspace_id_workflow_id_name"),
        ),
    )
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triggers_state_next_fire_at"), ["state", "next_fire_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_triggers_workspace_id_created_at"),
            ["workspace_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_triggers_kind_state"), ["kind", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triggers_kind_state"))
        batch_op.drop_index(batch_op.f("ix_triggers_workspace_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_triggers_state_next_fire_at"))
    op.drop_table("triggers")
