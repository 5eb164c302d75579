"""Read-only resources as paged GeoJSON: buildings, households, grids, micro-grids, layers,
workers; filtered by community and bbox and by what the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import geopandas as gpd
import shapely
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from ...errors import NotFoundError
from ...planning import grid_of_household
from ...privacy import masked
from ...store import plans, repo
from ..deps import SessionDep, UserDep, require_community
from ..listing import ListingDep, ScopedListing
from ..paging import page, with_etag
from ..scope import household_reveal, worker_households

__all__ = ["router"]

router = APIRouter(tags=["resources"])
CommunityQuery = Annotated[str | None, Query(pattern=r"^\d{12}$", description="community code")]


@router.get("/buildings", response_class=JSONResponse)
def list_buildings(listing: ListingDep, community: CommunityQuery = None) -> JSONResponse:
    """Buildings the caller may see, as paged GeoJSON."""
    return listing.page(listing.scoped("buildings", community), id_column="id")


@router.get("/households", response_class=JSONResponse)
def list_households(listing: ListingDep, community: CommunityQuery = None) -> JSONResponse:
    """Households (personal data): planners see their communities, workers their grids;
    phone and identity numbers masked unless the caller's role needs them."""
    session, user = listing.session, listing.user
    frame = listing.scoped("households", community)
    if user.role == "worker":
        frame = frame[worker_households(session, user, frame).to_numpy()]
    frame = masked(frame, household_reveal(session, user, frame))
    return listing.page(frame, id_column="id")


@router.get("/households/{household_id}/grid")
def household_grid(
    household_id: str,
    session: SessionDep,
    user: UserDep,
    as_of: Annotated[datetime | None, Query(description="ISO date-time")] = None,
) -> dict[str, object]:
    """The published grid that holds (or on ``as_of`` held) a household."""
    hit = repo.read(session, "households", ids=[household_id])
    if hit.empty:
        raise NotFoundError(f"household {household_id} is not in the store")
    require_community(user, str(hit["community_code"].iloc[0]))
    if user.role == "worker" and not worker_households(session, user, hit).all():
        raise HTTPException(
            403, f"household {household_id} is not in a grid of worker {user.username!r}"
        )
    return grid_of_household(session, household_id, at=as_of)


def _grids(
    listing: ScopedListing, *, community: str | None, level: int | None, as_of: datetime | None
) -> gpd.GeoDataFrame:
    if as_of is None:
        return listing.scoped("grids", community, level=level)
    if community is None:
        raise HTTPException(422, "as_of needs a community (field 'community')")
    session = listing.session
    require_community(listing.user, community)
    plans.sync_history(session, community)
    frame = plans.grids_as_of(session, community, as_of)
    if level is not None:
        frame = frame[frame["level"] == level]
    box = listing.box()
    if box is not None:
        frame = frame[frame.intersects(shapely.box(*box))]
    return frame


@router.get("/grids", response_class=JSONResponse)
def list_grids(
    listing: ListingDep,
    community: CommunityQuery = None,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
    as_of: Annotated[datetime | None, Query(description="ISO date-time")] = None,
) -> Response:
    """Published grids of every level (or of ``level``), now or as published on ``as_of``.

    The response carries an ETag; send it back in If-None-Match to get 304 while unchanged.
    """
    frame = _grids(listing, community=community, level=level, as_of=as_of)
    return with_etag(listing.request, listing.page(frame, id_column="code"))


@router.get("/micro-grids", response_class=JSONResponse)
def list_micro_grids(listing: ListingDep, community: CommunityQuery = None) -> Response:
    """Published micro-grids (level 2 and deeper), with an ETag as ``/grids``."""
    frame = _grids(listing, community=community, level=None, as_of=None)
    frame = frame[frame["level"] > 1]
    return with_etag(listing.request, listing.page(frame, id_column="code"))


@router.get("/grids/{code}", response_class=JSONResponse)
def get_grid(request: Request, code: str, session: SessionDep, user: UserDep) -> JSONResponse:
    """One published grid as a GeoJSON FeatureCollection of one feature."""
    community = code[:12]
    if len(code) < 15 or not code.isdigit():
        raise NotFoundError(f"grid {code} does not exist (codes are 15 or 17 digits)")
    require_community(user, community)
    frame = repo.read(session, "grids", community=community)
    frame = frame[frame["code"] == code]
    if frame.empty:
        raise NotFoundError(f"grid {code} does not exist")
    return page(frame, request, limit=1, offset=0, id_column="code")


@router.get("/layers")
def list_layers(session: SessionDep, user: UserDep) -> list[dict[str, object]]:
    """Departmental layers: name, department, policy and how many grids each has."""
    frame = repo.read(session, "layer_grids")
    out = []
    for name, group in frame.groupby("layer"):
        out.append(
            {
                "name": str(name),
                "department": str(group["department"].iloc[0] or ""),
                "policy": str(group["policy"].iloc[0] or ""),
                "grids": len(group),
            }
        )
    return out


@router.get("/layers/{name}/grids", response_class=JSONResponse)
def layer_grids(name: str, listing: ListingDep) -> JSONResponse:
    """The grids of one departmental layer."""
    frame = repo.read(listing.session, "layer_grids", layer=name, bbox=listing.box())
    if frame.empty and repo.read(listing.session, "layer_grids", layer=name).empty:
        raise NotFoundError(f"layer {name!r} does not exist")
    return listing.page(frame, id_column="grid_id")


@router.get("/workers", response_class=JSONResponse)
def list_workers(listing: ListingDep) -> JSONResponse:
    """Workers (personal data): admins and planners see all, a worker only himself."""
    frame = repo.read(listing.session, "workers", bbox=listing.box())
    if listing.user.role == "worker":
        frame = frame[frame["id"] == (listing.user.worker_id or "")]
    return listing.page(frame, id_column="id")
