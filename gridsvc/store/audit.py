"""The audit log: who wrote what, when, with the state before and after."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, func, insert, select
from sqlalchemy.orm import Session

from gridsvc.store.tables import Base

__all__ = ["audit_table", "entries", "record"]

audit_table = Table(
    "audit_log",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("username", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String, nullable=False),
    Column("before", Text),
    Column("after", Text),
)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def record(
    session: Session,
    *,
    user: str | None,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry (in the caller's transaction, so it lands only if the write does)."""
    session.execute(
        insert(audit_table).values(
            at=datetime.now(UTC),
            username=user,
            action=action,
            target=target,
            before=_dump(before),
            after=_dump(after),
        )
    )


def entries(
    session: Session, *, target: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Return a page of entries (newest first) and how many match in all."""
    query = select(audit_table)
    counter = select(func.count()).select_from(audit_table)
    if target is not None:
        query = query.where(audit_table.c.target == target)
        counter = counter.where(audit_table.c.target == target)
    rows = session.execute(
        query.order_by(audit_table.c.id.desc()).limit(limit).offset(offset)
    ).all()
    out = [
        {
            "id": r.id,
            "at": r.at.isoformat(),
            "user": r.username,
            "action": r.action,
            "target": r.target,
            "before": None if r.before is None else json.loads(r.before),
            "after": None if r.after is None else json.loads(r.after),
        }
        for r in rows
    ]
    return out, int(session.execute(counter).scalar_one())
