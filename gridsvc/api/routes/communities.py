"""Communities and their grids as GeoJSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...errors import NotFoundError
from ...geo import feature_collection
from ...store import repo
from ..deps import SessionDep

__all__ = ["router"]

router = APIRouter(tags=["communities"])
GEOJSON = "application/geo+json"


@router.get("/health")
def health(session: SessionDep) -> dict[str, Any]:
    """Say the service is up and how much the store holds."""
    return {"status": "ok", "counts": repo.snapshot(session)}


@router.get("/communities", response_class=JSONResponse)
def list_communities(session: SessionDep) -> JSONResponse:
    """All communities as a GeoJSON FeatureCollection."""
    frame = repo.read(session, "communities")
    return JSONResponse(feature_collection(frame, id_column="code"), media_type=GEOJSON)


@router.get("/communities/{code}/grids", response_class=JSONResponse)
def community_grids(code: str, session: SessionDep, level: int = 1) -> JSONResponse:
    """A community's grids of one level (1 = base grids, 2 = micro-grids) as GeoJSON."""
    if repo.read(session, "communities", community=code).empty:
        raise NotFoundError(f"community {code} is not in the store")
    frame = repo.read(session, "grids", community=code, level=level)
    return JSONResponse(feature_collection(frame, id_column="code"), media_type=GEOJSON)
