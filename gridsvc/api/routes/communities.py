"""Communities and their grids as GeoJSON, and the health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...errors import NotFoundError
from ...geo import feature_collection
from ...store import repo
from ..deps import SessionDep, UserDep, require_community
from ..listing import ListingDep
from ..paging import GEOJSON

__all__ = ["router"]

router = APIRouter(tags=["communities"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, Any]:
    """Say the service is up and how much the store holds."""
    return {"status": "ok", "counts": repo.snapshot(session)}


@router.get("/communities", response_class=JSONResponse)
def list_communities(listing: ListingDep) -> JSONResponse:
    """Communities the caller may see, as paged GeoJSON."""
    return listing.page(listing.scoped("communities"), id_column="code")


@router.get("/communities/{code}", response_class=JSONResponse)
def get_community(code: str, session: SessionDep, user: UserDep) -> JSONResponse:
    """One community as a GeoJSON FeatureCollection of one feature."""
    frame = repo.read(session, "communities", community=code)
    if frame.empty:
        raise NotFoundError(f"community {code} is not in the store")
    require_community(user, code)
    return JSONResponse(feature_collection(frame, id_column="code"), media_type=GEOJSON)


@router.get("/communities/{code}/grids", response_class=JSONResponse)
def community_grids(code: str, session: SessionDep, user: UserDep, level: int = 1) -> JSONResponse:
    """A community's grids of one level (1 = base grids, 2 = micro-grids) as GeoJSON."""
    if repo.read(session, "communities", community=code).empty:
        raise NotFoundError(f"community {code} is not in the store")
    require_community(user, code)
    frame = repo.read(session, "grids", community=code, level=level)
    return JSONResponse(feature_collection(frame, id_column="code"), media_type=GEOJSON)
