"""Point lookups for hot paths (``/locate``): plain rows, no GeoDataFrame, index-backed, with
each statement built once per kind and database and only its parameters bound per call."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, String, bindparam, func, select
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.store.repo import _table, bbox_condition, bbox_params
from gridsvc.store.tables import SRID

__all__ = ["covering"]


@cache
def _covering_query(kind: str, dialect: str, by_community: bool) -> tuple[Select[Any], list[str]]:
    """The statement of :func:`covering` and the names of its columns.

    Built once: at the rates ``/locate`` serves, building and keying a statement per call costs
    more CPU than running it (about 1.4 of 2 ms per lookup, 2026-11-22).
    """
    table = _table(kind)
    names = [c for c in frames.kind(kind).column_names if c in table.c]
    point = func.ST_GeomFromText(bindparam("point_wkt", type_=String), SRID)
    query = select(*(table.c[n] for n in names)).where(
        bbox_condition(dialect, table),
        func.ST_Covers(table.c.geom, point) == True,  # noqa: E712
    )
    if by_community:
        query = query.where(table.c.community_code == bindparam("community", type_=String))
    return query.order_by(*(table.c[k] for k in frames.kind(kind).key)), names


def covering(
    session: Session, kind: str, lon: float, lat: float, *, community: str | None = None
) -> list[dict[str, Any]]:
    """Return the attribute rows of ``kind`` whose geometry covers WGS 84 ``lon``/``lat``.

    Sorted by key; the spatial index narrows the candidates, ``ST_Covers`` decides (a point on
    a shared edge is covered by both neighbours).
    """
    dialect = session.get_bind().dialect.name
    query, names = _covering_query(kind, dialect, community is not None)
    x, y = float(lon), float(lat)
    params = bbox_params(dialect, (x, y, x, y)) | {"point_wkt": f"POINT({x!r} {y!r})"}
    if community is not None:
        params["community"] = community
    rows = session.connection().execute(query, params)
    return [dict(zip(names, row, strict=True)) for row in rows]
