"""City-run bookkeeping: one row per community with its input digest and status.

A row says the community's last run finished (``done``) or failed (``failed``, with the error)
on input with ``input_digest``; ``gridsvc run-city`` skips communities done on the same digest.
The row of a ``done`` community is written in the transaction that writes its grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gridsvc.store.tables import Base

__all__ = ["DONE", "FAILED", "RUN_COLUMNS", "RunRecord", "read_runs", "record_run", "run_of"]

DONE = "done"
FAILED = "failed"
RUN_COLUMNS = ["community_code", "input_digest", "status", "error", "households", "grids",
               "seconds", "finished_at"]  # fmt: skip

runs_table = Table(
    "community_runs",
    Base.metadata,
    Column("community_code", String(32), primary_key=True),
    Column("input_digest", String(64), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("error", Text),
    Column("households", Integer),
    Column("grids", Integer),
    Column("seconds", Float),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The outcome of one community's run, as stored."""

    community_code: str
    input_digest: str
    status: str
    error: str | None = None
    households: int | None = None
    grids: int | None = None
    seconds: float | None = None


def record_run(session: Session, record: RunRecord) -> None:
    """Insert or replace the run row of ``record.community_code``."""
    values = {**{c: getattr(record, c) for c in RUN_COLUMNS[:-1]}, "finished_at": datetime.now(UTC)}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(runs_table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["community_code"],
        set_={c: stmt.excluded[c] for c in RUN_COLUMNS if c != "community_code"},
    )
    session.execute(stmt)


def run_of(session: Session, code: str) -> RunRecord | None:
    """Return the stored run of community ``code``, or None."""
    t = runs_table
    row = session.execute(
        select(*(t.c[c] for c in RUN_COLUMNS[:-1])).where(t.c.community_code == code)
    ).first()
    return None if row is None else RunRecord(*row)


def read_runs(session: Session, *, status: str | None = None) -> pd.DataFrame:
    """Return every stored run (optionally of one status), sorted by community code."""
    t = runs_table
    query = select(*(t.c[c] for c in RUN_COLUMNS)).order_by(t.c.community_code)
    if status is not None:
        query = query.where(t.c.status == status)
    return pd.DataFrame.from_records(session.execute(query).all(), columns=RUN_COLUMNS)
