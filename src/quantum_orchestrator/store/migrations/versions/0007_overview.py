"""Indexes of the dashboard overview: runs and steps finished in a workspace since a moment.

Without them the overview's step figures scan the whole ``steps`` table, which only grows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_runs_workspace_id_finished_at"), "runs", ["workspace_id", "finished_at"]
    )
    op.create_index(
        op.f("ix_steps_workspace_id_finished_at"), "steps", ["workspace_id", "finished_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_steps_workspace_id_finished_at"), table_name="steps")
    op.drop_index(op.f("ix_runs_workspace_id_finished_at"), table_name="runs")
