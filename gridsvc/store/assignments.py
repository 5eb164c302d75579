"""Staffing assignments in the store: replace a community's plan, read by community or worker.

An assignment row is (community_code, grid_code, worker_id, role, kept, assigned_at); ``kept``
says the solver kept it from the previous plan, and a kept row keeps its ``assigned_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Select,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from gridsvc.errors import StoreError
from gridsvc.store.tables import Base, WorkerRow, utc

__all__ = [
    "COLUMNS",
    "assignments_table",
    "clear_assignments",
    "grid_contacts",
    "read_assignment_chunks",
    "read_assignments",
    "replace_assignments",
    "worker_assignments",
]

log = logging.getLogger(__name__)

COLUMNS = ["community_code", "grid_code", "worker_id", "role", "kept", "assigned_at"]
ORDER = ["grid_code", "role", "worker_id"]  # how reads sort rows: a unique key
_KEY = ["grid_code", "worker_id", "role"]

assignments_table = Table(
    "assignments",
    Base.metadata,
    Column("community_code", String(32), nullable=False, index=True),
    Column("grid_code", String(40), primary_key=True),
    Column("worker_id", String, primary_key=True, index=True),
    Column("role", String(32), primary_key=True),
    Column("kept", Boolean, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "community_code": pd.Series(dtype="string"), "grid_code": pd.Series(dtype="string"),
        "worker_id": pd.Series(dtype="string"), "role": pd.Series(dtype="string"),
        "kept": pd.Series(dtype="boolean"), "assigned_at": pd.Series(dtype="datetime64[us, UTC]"),
    })  # fmt: skip


def _assignments_query(community: str | None, worker: str | None) -> Select[Any]:
    t = assignments_table
    query = select(*(t.c[c] for c in COLUMNS))
    if community is not None:
        query = query.where(t.c.community_code == community)
    if worker is not None:
        query = query.where(t.c.worker_id == worker)
    return query


def _assignments_frame(rows: Sequence[Any]) -> pd.DataFrame:
    if not rows:
        return _empty()
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    frame["assigned_at"] = pd.to_datetime(frame["assigned_at"], utc=True)
    return frame.astype({c: "string" for c in COLUMNS[:4]} | {"kept": "boolean"})


def read_assignments(
    session: Session, *, community: str | None = None, worker: str | None = None
) -> pd.DataFrame:
    """Return the stored assignments matching every filter, sorted by grid, role and worker."""
    t = assignments_table
    query = _assignments_query(community, worker).order_by(*(t.c[c] for c in ORDER))
    return _assignments_frame(session.execute(query).all())


def read_assignment_chunks(
    session: Session,
    *,
    community: str | None = None,
    worker: str | None = None,
    chunk_size: int = 20_000,
) -> Iterator[pd.DataFrame]:
    """Yield the rows :func:`read_assignments` returns, in its order, ``chunk_size`` at a
    time: each chunk is ``WHERE (grid, role, worker) > last ORDER BY … LIMIT n``."""
    t = assignments_table
    order = [t.c[c] for c in ORDER]
    at = [COLUMNS.index(c) for c in ORDER]
    base = _assignments_query(community, worker)
    last: tuple[Any, ...] | None = None
    while True:
        query = base if last is None else base.where(tuple_(*order) > tuple_(*last))
        rows = session.execute(query.order_by(*order).limit(chunk_size)).all()
        if not rows:
            return
        yield _assignments_frame(rows)
        if len(rows) < chunk_size:
            return
        last = tuple(rows[-1][i] for i in at)


@cache
def _worker_query() -> Select[Any]:
    t = assignments_table
    query = select(t.c.grid_code, t.c.role, t.c.assigned_at)
    return query.where(t.c.worker_id == bindparam("worker")).order_by(t.c.grid_code, t.c.role)


def worker_assignments(session: Session, worker: str) -> tuple[tuple[str, str, datetime], ...]:
    """Return a worker's (grid_code, role, assigned_at in UTC) rows, sorted by grid and role:
    the plain-value read of :func:`read_assignments` ``(worker=…)``, cheap enough per request
    (one statement built once, run on the session's connection: see :mod:`gridsvc.store.lookup`)."""
    rows = session.connection().execute(_worker_query(), {"worker": worker}).all()
    return tuple((str(g), str(r), utc(at)) for g, r, at in rows)


def replace_assignments(
    session: Session, community: str, frame: pd.DataFrame, *, at: datetime | None = None
) -> int:
    """Replace the stored assignments of ``community`` by ``frame``; return how many rows.

    ``frame`` needs grid_code, worker_id and role; ``kept`` (default False) says the row was
    kept from the previous plan, and then it keeps its stored ``assigned_at``.
    """
    missing = [c for c in _KEY if c not in frame.columns]
    if missing:
        raise StoreError(f"assignments need columns {', '.join(_KEY)}; missing {missing}")
    now = at or datetime.now(UTC)
    t = assignments_table
    since = {
        (r.grid_code, r.worker_id, r.role): r.assigned_at
        for r in session.execute(
            select(t.c.grid_code, t.c.worker_id, t.c.role, t.c.assigned_at).where(
                t.c.community_code == community
            )
        )
    }
    rows = frame[_KEY].astype(str).drop_duplicates()
    kept = (
        frame.loc[rows.index, "kept"].fillna(False).astype(bool).to_numpy()
        if "kept" in frame.columns else [False] * len(rows)
    )  # fmt: skip
    records = [
        {"community_code": community, "grid_code": g, "worker_id": w, "role": r, "kept": k,
         "assigned_at": since.get((g, w, r), now) if k else now}
        for (g, w, r), k in zip(rows.itertuples(index=False), kept, strict=True)
    ]  # fmt: skip
    session.execute(delete(t).where(t.c.community_code == community))
    if records:
        session.execute(insert(t), records)
    log.info("assignments of %s: %d rows", community, len(records))
    return len(records)


def clear_assignments(session: Session, community: str, *, keep: Sequence[str]) -> int:
    """Delete the assignments of ``community`` to grids not in ``keep``; return how many.

    Call it after a community's grids were replaced, so no one stays assigned to a grid that
    no longer exists.
    """
    t = assignments_table
    stale = delete(t).where(t.c.community_code == community, t.c.grid_code.not_in(list(keep)))
    cleared = int(session.execute(stale).rowcount or 0)  # type: ignore[attr-defined]
    log.info("assignments of %s: cleared %d of vanished grids", community, cleared)
    return cleared


@cache
def _contacts_query() -> Select[Any]:
    """The statement of :func:`grid_contacts`, built once (``/locate`` runs it per request)."""
    t, w = assignments_table, WorkerRow.__table__
    return (
        select(t.c.grid_code, t.c.role, t.c.worker_id, w.c.name, w.c.phone)
        .join(w, w.c.id == t.c.worker_id)
        .where(t.c.grid_code.in_(bindparam("codes", expanding=True)))
        .order_by(t.c.grid_code, t.c.role, t.c.worker_id)
    )


def grid_contacts(session: Session, grid_codes: list[str]) -> list[dict[str, Any]]:
    """Return who serves ``grid_codes``: grid_code, role, worker_id, name and (work) phone."""
    if not grid_codes:
        return []
    rows = session.connection().execute(_contacts_query(), {"codes": [str(c) for c in grid_codes]})
    return [dict(row._mapping) for row in rows]
