"""Add ``change_stamps``: per community, a counter every write to its grids, households or
staffing assignments bumps, kept by triggers in the database.

Revision ID: 0005_s9
Revises: 0005_dup_locks
Create Date: 2026-11-22

Answers built from a community's rows (``/me/assignments``) are cached per process under the
stamps of the communities they read, so a stamp must move with every committed change, from
any process or tool (API, CLI, city run, plain SQL). Triggers do it inside the writing
transaction, so a reader sees a new stamp only together with the rows that moved it.

- PostGIS: statement-level triggers with transition tables (one bump per community per
  statement, COPY included), rows bumped in community order; TRUNCATE bumps every community.
- SpatiaLite: row-level triggers (SQLite has no statement-level ones).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_s9"
down_revision: str | None = "0005_dup_locks"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("grids", "households", "assignments")

_PG_BUMP = """
CREATE FUNCTION gridsvc_bump_stamps_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_stamps (community_code, stamp)
    SELECT community_code, 1 FROM ({rows}) AS changed
    WHERE community_code IS NOT NULL
    GROUP BY community_code ORDER BY community_code
    ON CONFLICT (community_code) DO UPDATE SET stamp = change_stamps.stamp + 1;
    RETURN NULL;
END $$
"""
_PG_ROWS = {
    "new": "SELECT community_code FROM new_rows",
    "old": "SELECT community_code FROM old_rows",
    "both": "SELECT community_code FROM old_rows UNION ALL SELECT community_code FROM new_rows",
}
_PG_TRUNCATE = """
CREATE FUNCTION gridsvc_bump_all_stamps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_stamps SET stamp = stamp + 1;
    RETURN NULL;
END $$
"""
_PG_EVENTS = (
    ("insert", "INSERT", "NEW TABLE AS new_rows", "new"),
    ("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "both"),
    ("delete", "DELETE", "OLD TABLE AS old_rows", "old"),
)
# (an upsert from a SELECT needs its WHERE clause, or SQLite misreads ON CONFLICT)
_SQLITE_BUMP = (
    "INSERT INTO change_stamps (community_code, stamp) SELECT {row}.community_code, 1 "
    "WHERE {row}.community_code IS NOT NULL "
    "ON CONFLICT (community_code) DO UPDATE SET stamp = stamp + 1;"
)
_SQLITE_EVENTS = (("insert", "INSERT", ("NEW",)), ("update", "UPDATE", ("OLD", "NEW")),
                  ("delete", "DELETE", ("OLD",)))  # fmt: skip


def upgrade() -> None:
    """Create ``change_stamps`` and the triggers that keep it."""
    op.create_table(
        "change_stamps",
        sa.Column("community_code", sa.String(32), primary_key=True),
        sa.Column("stamp", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, rows in _PG_ROWS.items():
            op.execute(_PG_BUMP.format(name=name, rows=rows))
        op.execute(_PG_TRUNCATE)
        for table in TABLES:
            for event, verb, referencing, rows in _PG_EVENTS:
                op.execute(
                    f"CREATE TRIGGER {table}_stamp_{event} AFTER {verb} ON {table} "
                    f"REFERENCING {referencing} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION gridsvc_bump_stamps_{rows}()"
                )
            op.execute(
                f"CREATE TRIGGER {table}_stamp_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gridsvc_bump_all_stamps()"
            )
        return
    for table in TABLES:
        for event, verb, refs in _SQLITE_EVENTS:
            body = " ".join(_SQLITE_BUMP.format(row=ref) for ref in refs)
            op.execute(
                f"CREATE TRIGGER {table}_stamp_{event} AFTER {verb} ON {table} "
                f"FOR EACH ROW BEGIN {body} END"
            )


def downgrade() -> None:
    """Drop the triggers and ``change_stamps``."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        events = [e[0] for e in _SQLITE_EVENTS] + (["truncate"] if postgres else [])
        for event in events:
            on = f" ON {table}" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{event}{on}")
    if postgres:
        for name in (*_PG_ROWS, "all"):
            function = "gridsvc_bump_all_stamps" if name == "all" else f"gridsvc_bump_stamps_{name}"
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("change_stamps")
