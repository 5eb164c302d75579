"""Point lookups for hot paths (``/locate``): plain rows, no GeoDataFrame, index-backed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.store.repo import _table, in_bbox
from gridsvc.store.tables import SRID

__all__ = ["covering"]


def covering(
    session: Session, kind: str, lon: float, lat: float, *, community: str | None = None
) -> list[dict[str, Any]]:
    """Return the attribute rows of ``kind`` whose geometry covers WGS 84 ``lon``/``lat``.

    Sorted by key; the spatial index narrows the candidates, ``ST_Covers`` decides (a point on
    a shared edge is covered by both neighbours).
    """
    table = _table(kind)
    names = [c for c in frames.kind(kind).column_names if c in table.c]
    point = func.ST_GeomFromText(f"POINT({float(lon)!r} {float(lat)!r})", SRID)
    query = select(*(table.c[n] for n in names)).where(
        in_bbox(session, table, (lon, lat, lon, lat)),
        func.ST_Covers(table.c.geom, point) == True,  # noqa: E712
    )
    if community is not None:
        query = query.where(table.c.community_code == community)
    key = [table.c[k] for k in frames.kind(kind).key]
    return [dict(zip(names, row, strict=True)) for row in session.execute(query.order_by(*key))]
