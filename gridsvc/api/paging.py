"""Pages of GeoJSON features with OGC API Features style counts and ``next``/``prev`` links."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Annotated, Any

import geopandas as gpd
from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from ..errors import InputError, Problem
from ..geo import feature_collection

__all__ = [
    "GEOJSON",
    "MAX_LIMIT",
    "BboxQuery",
    "CursorQuery",
    "LimitQuery",
    "OffsetQuery",
    "collection",
    "make_cursor",
    "page",
    "parse_bbox",
    "read_cursor",
    "with_etag",
]

GEOJSON = "application/geo+json"
MAX_LIMIT = 1000
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="features per page")]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000, description="features to skip")]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="where the page starts: the cursor of the previous page's next link",
    ),
]
CURSOR_VERSION = "1"  # a cursor of another version is refused (400), not misread
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
    following = {"offset": offset + limit, "limit": limit} if offset + limit < total else None
    preceding = {"offset": max(0, offset - limit), "limit": limit} if offset > 0 else None
    return collection(
        frame,
        request,
        id_column=id_column,
        total=total,
        following=following,
        preceding=preceding,
        headers=headers,
    )


def collection(
    frame: gpd.GeoDataFrame,
    request: Request,
    *,
    id_column: str,
    total: int | None,
    following: dict[str, Any] | None,
    preceding: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return ``frame`` (one page of ``total`` matches) as a FeatureCollection with counts and
    ``self`` / ``next`` / ``prev`` links; ``following`` and ``preceding`` are the query
    parameters (``offset`` or ``cursor``, and ``limit``) of the next and previous pages.
    ``total`` None (not counted) leaves ``numberMatched`` out."""
    body: dict[str, Any] = feature_collection(frame, id_column=id_column)
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    for rel, params in (("next", following), ("prev", preceding)):
        if params is not None:
            href = request.url.remove_query_params(["offset", "cursor"])
            links.append(
                {"rel": rel, "type": GEOJSON, "href": str(href.include_query_params(**params))}
            )
    if total is not None:
        body["numberMatched"] = total
    body.update(numberReturned=len(body["features"]), links=links)
    return JSONResponse(body, media_type=GEOJSON, headers=headers)


def make_cursor(query: str, key: Sequence[Any]) -> str:
    """Return the opaque ``cursor`` of a page starting past ``key``, for ``query`` (what the
    pages share: path, bbox, filters); :func:`read_cursor` reads it back."""
    raw = json.dumps([_fingerprint(query), *(str(k) for k in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(value: str, query: str, width: int) -> tuple[str, ...]:
    """Return the key a ``cursor`` of :func:`make_cursor` holds (``width`` columns); 400 when
    it is not one, or was made for another ``query``."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, binascii.Error):
        decoded = None
    if not (
        isinstance(decoded, list)
        and len(decoded) == width + 1
        and all(isinstance(v, str) for v in decoded)
    ):
        raise HTTPException(
            400,
            f"cursor {value!r} is not one this service issued; follow the 'next' link of a "
            "page, or start again from the first page (no cursor)",
        )
    if decoded[0] != _fingerprint(query):
        raise HTTPException(
            400,
            f"cursor {value!r} was issued for another query (another collection, bbox or "
            "version of the service); start again from the first page (no cursor)",
        )
    return tuple(decoded[1:])


def _fingerprint(query: str) -> str:
    return hashlib.sha256(f"{CURSOR_VERSION}|{query}".encode()).hexdigest()[:12]


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
