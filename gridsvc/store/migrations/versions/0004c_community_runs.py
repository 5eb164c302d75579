"""Add ``community_runs``: per community, the digest of its last city-run input and its status.

Revision ID: 0004c
Revises: 0004b
Create Date: 2026-11-22

``gridsvc run-city`` skips a community whose row says ``done`` with the digest of unchanged
input.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004c"
down_revision: str | None = "0004b"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``community_runs`` keyed by community code, indexed by status."""
    op.create_table(
        "community_runs",
        sa.Column("community_code", sa.String(32), primary_key=True),
        sa.Column("input_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("households", sa.Integer),
        sa.Column("grids", sa.Integer),
        sa.Column("seconds", sa.Float),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_community_runs_status", "community_runs", ["status"])


def downgrade() -> None:
    """Drop the community_runs table."""
    op.drop_table("community_runs")
