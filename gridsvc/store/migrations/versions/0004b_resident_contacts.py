"""Add the head of household's phone and identity number to households (personal data).

Revision ID: 0004b
Revises: 0004
Create Date: 2026-01-05

Plain nullable text columns on both back-ends; the API masks them for roles that do not need
them (:mod:`gridsvc.privacy`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004b"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``households.phone`` and ``households.id_number``."""
    op.add_column("households", sa.Column("phone", sa.String(32), nullable=True))
    op.add_column("households", sa.Column("id_number", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop the two columns again."""
    with op.batch_alter_table("households") as batch:
        batch.drop_column("id_number")
        batch.drop_column("phone")
