"""Step logs: what handlers log through ``ctx.logger``, kept per attempt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quantum_orchestrator.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("step_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "at", quantum_orchestrator.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["steps.id"],
            name=op.f("fk_step_logs_step_id_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_logs")),
    )
    op.create_index(op.f("ix_step_logs_step_id_id"), "step_logs", ["step_id", "id"])
    op.create_index(op.f("ix_step_logs_run_id"), "step_logs", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_step_logs_run_id"), table_name="step_logs")
    op.drop_index(op.f("ix_step_logs_step_id_id"), table_name="step_logs")
    op.drop_table("step_logs")
