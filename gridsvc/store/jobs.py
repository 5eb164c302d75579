"""Background job records in the store, so a job's outcome outlives the process that ran it.

A record is a plain dict: id, kind, communities (list), user, status, progress, message,
report (JSON-able or None), error, created_at, started_at, finished_at (aware datetimes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Float, String, Table, Text, insert, select, update
from sqlalchemy.orm import Session

from gridsvc.store.tables import Base, utc

__all__ = ["UNFINISHED", "fail_unfinished", "jobs_table", "read_job", "save_job"]

UNFINISHED = ("queued", "running")

jobs_table = Table(
    "jobs",
    Base.metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("communities", Text, nullable=False),
    Column("username", String(64)),
    Column("status", String(16), nullable=False, index=True),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("report", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)


def save_job(
    session: Session, record: dict[str, Any], *, expect: tuple[str, ...] | None = None
) -> bool:
    """Insert or update the record of job ``record["id"]`` (in the caller's transaction).

    With ``expect``, only update a stored record whose status is one of those (never insert);
    return whether a record was written.
    """
    values = {
        "kind": record["kind"],
        "communities": json.dumps(list(record["communities"])),
        "username": record["user"],
        "status": record["status"],
        "progress": float(record["progress"]),
        "message": record["message"],
        "report": None
        if record["report"] is None
        else json.dumps(record["report"], ensure_ascii=False, default=str),
        "error": record["error"],
        "created_at": record["created_at"],
        "started_at": record["started_at"],
        "finished_at": record["finished_at"],
    }
    t = jobs_table
    stmt = update(t).where(t.c.id == record["id"])
    if expect is not None:
        stmt = stmt.where(t.c.status.in_(expect))
    if session.execute(stmt.values(**values)).rowcount:  # type: ignore[attr-defined]
        return True
    if expect is not None:
        return False
    session.execute(insert(t).values(id=record["id"], **values))
    return True


def read_job(session: Session, job_id: str) -> dict[str, Any] | None:
    """Return the stored record of job ``job_id``, or None."""
    row = session.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "kind": row.kind,
        "communities": json.loads(row.communities),
        "user": row.username,
        "status": row.status,
        "progress": row.progress,
        "message": row.message,
        "report": None if row.report is None else json.loads(row.report),
        "error": row.error,
        "created_at": utc(row.created_at),
        "started_at": utc(row.started_at),
        "finished_at": utc(row.finished_at),
    }


def fail_unfinished(session: Session, *, error: str) -> list[str]:
    """Mark every queued or running job failed with ``error``; return their ids.

    Called when a service starts: no job of an earlier process can still be running, and
    each rolled back when its process died, so the store holds none of its writes.
    """
    t = jobs_table
    ids = list(session.execute(select(t.c.id).where(t.c.status.in_(UNFINISHED))).scalars())
    if ids:
        session.execute(
            update(t)
            .where(t.c.id.in_(ids))
            .values(status="failed", error=error, finished_at=datetime.now(UTC))
        )
    return sorted(ids)
