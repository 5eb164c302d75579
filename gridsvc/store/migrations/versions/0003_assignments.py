"""Add the staffing assignments table: who serves which grid in which role.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03

No geometry (the grid and the worker carry theirs), so one plain table on both back-ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``assignments`` keyed by (grid, worker, role), indexed by community and worker."""
    op.create_table(
        "assignments",
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.Column("grid_code", sa.String(40), primary_key=True),
        sa.Column("worker_id", sa.String, primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
        sa.Column("kept", sa.Boolean, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assignments_community_code", "assignments", ["community_code"])
    op.create_index("ix_assignments_worker_id", "assignments", ["worker_id"])


def downgrade() -> None:
    """Drop the assignments table."""
    op.drop_table("assignments")
