"""Add ``plan_locks``: a planner's lock on a grid code of a plan (who, since when).

Revision ID: 0005_dup_locks
Revises: 0004c
Create Date: 2026-11-22

Locks used to live in each browser's localStorage; in the store, every planner sees them and
the server refuses other planners' edits of a locked grid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_dup_locks"
down_revision: str | None = "0004c"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``plan_locks`` keyed by (plan_id, grid_code)."""
    op.create_table(
        "plan_locks",
        sa.Column("plan_id", sa.Integer, primary_key=True),
        sa.Column("grid_code", sa.String(40), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the plan_locks table."""
    op.drop_table("plan_locks")
