"""Anonymous point lookup: which community and grid is this, and who is its grid leader."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ...geo import lonlat_to_wgs84
from ...locate import locate
from ..deps import SessionDep

__all__ = ["router"]

router = APIRouter(tags=["locate"])


@router.get("/locate")
def locate_point(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude in the declared crs")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude in the declared crs")],
    crs: Annotated[
        Literal["wgs84", "gcj02", "bd09"],
        Query(description="wgs84 (GPS), gcj02 (AMap, Tencent) or bd09 (Baidu)"),
    ] = "wgs84",
    as_of: Annotated[datetime | None, Query(description="ISO date-time; default now")] = None,
) -> dict[str, Any]:
    """The community, grid, micro-grid and grid leaders' public card at a point (no login)."""
    x, y = lonlat_to_wgs84(lon, lat, crs)
    answer = locate(session, x, y, at=as_of)
    query: dict[str, Any] = {"lon": lon, "lat": lat, "crs": crs}
    query["wgs84"] = [round(x, 7), round(y, 7)]
    query["as_of"] = None if as_of is None else as_of.isoformat()
    return {"query": query, **answer}
