"""Background job records in the store, so a job's outcome outlives the process that ran it.

A record is a plain dict: id, kind, communities (list), user, status, progress, message,
report (JSON-able or None), error, created_at, started_at, finished_at (aware datetimes) and
owner: the process running it (:mod:`gridsvc.store.owner`), or None.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Float, String, Table, Text, insert, select, update
from sqlalchemy.orm import Session

from gridsvc.store.owner import is_alive
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
    Column("owner", String(96)),  # migration 0007_serve_job_owner
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
        "owner": record.get("owner"),
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
        "owner": row.owner,
    }


def fail_unfinished(session: Session, *, error: str, orphans_only: bool = False) -> list[str]:
    """Mark queued or running jobs failed with ``error``; return their ids.

    A job whose owner process still runs (on this machine) is never touched. Without
    ``orphans_only`` (a service starting) every other unfinished job is failed: no process of
    the service that ran it is left. With ``orphans_only`` (one more process of a running
    service, e.g. a worker process uvicorn restarted) only the jobs whose owner is known to
    be dead are failed; those of a sibling, of another machine or without an owner stay.
    Each failed job rolled back when its process died, so the store holds none of its writes.
    """
    t = jobs_table
    rows = session.execute(select(t.c.id, t.c.owner).where(t.c.status.in_(UNFINISHED))).all()
    ids = []
    for job_id, owner in rows:
        alive = None if owner is None else is_alive(owner)
        if alive is False or (alive is None and not orphans_only):
            ids.append(job_id)
    if ids:
        session.execute(
            update(t)
            .where(t.c.id.in_(ids), t.c.status.in_(UNFINISHED))
            .values(status="failed", error=error, finished_at=datetime.now(UTC))
        )
    return sorted(ids)
