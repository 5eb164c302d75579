"""Add the jobs table: background jobs outlive the process that ran them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04

No geometry, so one plain table on both back-ends. The report is JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``jobs`` keyed by id, indexed by status (a restart looks for unfinished ones)."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("communities", sa.Text, nullable=False),
        sa.Column("username", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("report", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])


def downgrade() -> None:
    """Drop the jobs table."""
    op.drop_table("jobs")
