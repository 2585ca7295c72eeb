"""Control nodes: runs started by a ``core.subworkflow`` step know their parent and depth.

Approvals need no schema: a decision is the approval step's output, its timeout the step's
``wake_at``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_run_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("parent_step_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("depth", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_runs_parent_run_id"), ["parent_run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_runs_parent_step_id"), ["parent_step_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_parent_step_id"))
        batch_op.drop_index(batch_op.f("ix_runs_parent_run_id"))
        batch_op.drop_column("depth")
        batch_op.drop_column("parent_step_id")
        batch_op.drop_column("parent_run_id")
