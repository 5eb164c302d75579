"""The store: SpatiaLite (default) or PostGIS behind SQLAlchemy 2 + GeoAlchemy2.

The only package that sees ORM rows. Callers open an engine (``open_store``), work inside
``session_scope`` (one all-or-nothing transaction) and move GeoDataFrames with the repository
functions of :mod:`gridsvc.store.repo`.
"""

from gridsvc.store.engine import (
    make_engine,
    migrate,
    open_store,
    read_snapshot,
    session_scope,
    snapshot_scope,
)
from gridsvc.store.repo import (
    UpsertCounts,
    communities_containing,
    count,
    delete,
    read,
    snapshot,
    upsert,
)

__all__ = [
    "UpsertCounts",
    "communities_containing",
    "count",
    "delete",
    "make_engine",
    "migrate",
    "open_store",
    "read",
    "read_snapshot",
    "session_scope",
    "snapshot",
    "snapshot_scope",
    "upsert",
]
