"""Seed ``change_stamps`` for the communities a store held before 0005_s9.

Revision ID: 0006_seed_stamps
Revises: 0005_s9
Create Date: 2026-11-22

From 0005_s9 on every insert makes its community's stamp, so a community that has rows has a
stamp — except on a store upgraded with rows already in it. There a TRUNCATE (which bumps every
stamp there is) moved none of them, and an answer cached for such a community outlived it.
"""

from __future__ import annotations

from alembic import op

revision: str = "0006_seed_stamps"
down_revision: str | None = "0005_s9"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("grids", "households", "assignments")


def upgrade() -> None:
    """Give every community with rows and no stamp the stamp 1."""
    rows = " UNION ".join(
        f"SELECT community_code FROM {t} WHERE community_code IS NOT NULL" for t in TABLES
    )
    op.execute(
        f"INSERT INTO change_stamps (community_code, stamp) SELECT community_code, 1 "
        f"FROM ({rows}) AS present WHERE community_code NOT IN "
        f"(SELECT community_code FROM change_stamps)"
    )


def downgrade() -> None:
    """Nothing to undo: the stamps are true either way."""
