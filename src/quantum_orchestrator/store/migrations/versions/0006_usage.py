"""LLM usage accounting and workspace budgets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quantum_orchestrator.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("step_id", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=True),
        sa.Column("workflow_name", sa.String(length=100), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    op.create_index(
        op.f("ix_usage_workspace_id_created_at"), "usage", ["workspace_id", "created_at"]
    )
    op.create_index(op.f("ix_usage_run_id"), "usage", ["run_id"])
    op.create_table(
        "usage_budgets",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("token_limit", sa.BigInteger(), nullable=True),
        sa.Column("cost_limit", sa.Float(), nullable=True),
        sa.Column("alert_ratio", sa.Float(), nullable=False),
        sa.Column(
            "updated_at",
            quantum_orchestrator.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_usage_budgets_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_usage_budgets")),
    )


def downgrade() -> None:
    op.drop_table("usage_budgets")
    op.drop_index(op.f("ix_usage_run_id"), table_name="usage")
    op.drop_index(op.f("ix_usage_workspace_id_created_at"), table_name="usage")
    op.drop_table("usage")
