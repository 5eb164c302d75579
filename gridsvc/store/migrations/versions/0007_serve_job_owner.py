"""Record which process owns a job, so a dead process's jobs can be recovered on their own.

Revision ID: 0007_serve_job_owner
Revises: 0006_seed_stamps
Create Date: 2026-11-22

``owner`` is the process that queued the job (see :mod:`gridsvc.store.owner`): the machine's
boot id, the pid and the process's start time, which together never name two processes. Jobs
stored before have none; a service start still fails those as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_serve_job_owner"
down_revision: str | None = "0006_seed_stamps"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable ``jobs.owner`` (batch mode: SQLite alters by copying the table)."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(96)))


def downgrade() -> None:
    """Drop ``jobs.owner``."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("owner")
