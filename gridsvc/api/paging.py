"""Pages of GeoJSON features with OGC API Features style counts and ``next``/``prev`` links."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import geopandas as gpd
from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from ..errors import InputError, Problem
from ..geo import feature_collection

__all__ = [
    "GEOJSON",
    "MAX_LIMIT",
    "BboxQuery",
    "LimitQuery",
    "OffsetQuery",
    "page",
    "parse_bbox",
    "with_etag",
]

GEOJSON = "application/geo+json"
MAX_LIMIT = 1000
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="features per page")]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000, description="features to skip")]
BboxQuery = Annotated[
    str | None,
    Query(description="min lon,min lat,max lon,max lat (WGS 84)", max_length=200),
]


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``minlon,minlat,maxlon,maxlat``; InputError naming ``bbox`` when malformed."""
    if value is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(
            Problem(
                f"bbox {value!r} must be four numbers: min lon,min lat,max lon,max lat",
                field="bbox",
            )
        ) from None
    if not all(abs(v) < float("inf") for v in (x0, y0, x1, y1)):
        raise InputError(Problem(f"bbox {value!r} holds a non-finite number", field="bbox"))
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError(
            Problem(
                f"bbox {value!r} is not min lon <= max lon within [-180, 180] and min lat <= max "
                "lat within [-90, 90]; is it lat/lon swapped?",
                field="bbox",
            )
        )
    return x0, y0, x1, y1


def page(
    frame: gpd.GeoDataFrame,
    request: Request,
    *,
    limit: int,
    offset: int,
    id_column: str,
    headers: dict[str, str] | None = None,
    total: int | None = None,
) -> JSONResponse:
    """Return one page of ``frame`` as a FeatureCollection with counts and links.

    With ``total`` (every match, counted in the database) ``frame`` is already that page.
    """
    if total is None:
        total = len(frame)
        frame = frame.iloc[offset : offset + limit]
    body: dict[str, Any] = feature_collection(frame, id_column=id_column)
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    if offset + limit < total:
        href = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "type": GEOJSON, "href": str(href)})
    if offset > 0:
        href = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "type": GEOJSON, "href": str(href)})
    body.update(numberMatched=total, numberReturned=len(body["features"]), links=links)
    return JSONResponse(body, media_type=GEOJSON, headers=headers)


def with_etag(request: Request, response: JSONResponse) -> Response:
    """Give ``response`` an ETag (a digest of its body); 304 when If-None-Match names it."""
    tag = f'"{hashlib.sha256(response.body).hexdigest()[:32]}"'
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return response


def _matches(if_none_match: str | None, tag: str) -> bool:
    """Return whether an If-None-Match header names ``tag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    names = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in names or tag in names
