"""Change stamps: per community, a counter the database bumps on every committed write to its
grids, households or staffing assignments (triggers of migration 0005_s9).

A cache keyed by the stamps of the communities an answer was built from is invalidated by any
change to them, made by any process. Read the stamps *before* the rows: the rows are then at
least as new as the stamps, so an answer is never filed under a stamp newer than its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Column, Select, String, Table, bindparam, select
from sqlalchemy.orm import Session

from gridsvc.store.tables import Base

__all__ = ["change_stamps", "read_stamps"]

change_stamps = Table(
    "change_stamps",
    Base.metadata,
    Column("community_code", String(32), primary_key=True),
    Column("stamp", BigInteger, nullable=False),
)


@cache
def _stamps_query() -> Select[Any]:
    t = change_stamps
    return select(t.c.community_code, t.c.stamp).where(
        t.c.community_code.in_(bindparam("codes", expanding=True))
    )


def read_stamps(session: Session, communities: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """Return ``(community, stamp)`` per community, sorted; 0 for one never written to.

    Read on every cached answer's revalidation: one statement built once, run on the session's
    connection (see :mod:`gridsvc.store.lookup`)."""
    wanted = sorted(set(communities))
    if not wanted:
        return ()
    rows = session.connection().execute(_stamps_query(), {"codes": wanted})
    found = {str(code): int(stamp) for code, stamp in rows}
    return tuple((code, found.get(code, 0)) for code in wanted)
