"""Planner edits on a draft (If-Match required), the edit log, grid history and diffs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from ... import planning
from ...errors import InputError, Problem
from ...geo import geometry_from_geojson, geometry_to_geojson, to_wgs84
from ...store import plans, repo
from ..deps import PlannerDep, SessionDep, SettingsDep
from .plans import IfMatch, PlanId, expect_revision, open_plan

__all__ = ["EditBody", "edit_args", "edit_response", "router"]

router = APIRouter(tags=["editing"])
GridCode = Annotated[str, Field(pattern=r"^\d{15}$", description="a base grid code")]
Ids = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=5000)]


class Unit(BaseModel):
    building: str = Field(max_length=200)
    unit: int = Field(ge=0, le=1000)


class Reassign(BaseModel):
    """Move households, stairwell units or buildings (with their territory) to grid ``to``."""

    op: Literal["reassign"]
    to: GridCode
    households: Ids = []
    units: list[Unit] = Field(default=[], max_length=1000)
    buildings: Ids = []


class Redraw(BaseModel):
    """Give grid ``grid`` a redrawn boundary (GeoJSON Polygon, WGS 84 unless ``crs``)."""

    op: Literal["redraw"]
    grid: GridCode
    geometry: dict[str, Any]
    crs: str | None = Field(default=None, max_length=100, description="e.g. gcj02, bd09")


class Split(BaseModel):
    """Cut grid ``grid`` in two along a GeoJSON LineString."""

    op: Literal["split"]
    grid: GridCode
    line: dict[str, Any]
    crs: str | None = Field(default=None, max_length=100)


class Merge(BaseModel):
    """Join neighbouring grids; the smallest code survives."""

    op: Literal["merge"]
    grids: list[GridCode] = Field(min_length=2, max_length=20)


class Revert(BaseModel):
    """Give grid ``grid`` back the boundary of one of its earlier versions."""

    op: Literal["revert"]
    grid: GridCode
    version: int = Field(ge=1, le=1_000_000)


EditBody = Annotated[Reassign | Redraw | Split | Merge | Revert, Field(discriminator="op")]


def _shape(
    value: dict[str, Any],
    crs: str | None,
    *,
    field: str,
    allowed: tuple[str, ...],
    community: BaseGeometry,
) -> BaseGeometry:
    geom = geometry_from_geojson(value, field=field, allowed=allowed)
    if crs:
        frame = gpd.GeoDataFrame(geometry=[geom], crs="EPSG:4326")
        geom = to_wgs84(frame, crs).geometry.iloc[0]
    if not geom.intersects(community):
        km = gpd.GeoSeries([geom, community], crs="EPSG:4326")
        metric = km.to_crs(km.estimate_utm_crs())
        away = metric.iloc[0].distance(metric.iloc[1]) / 1000
        raise InputError(
            Problem(
                f"the {field} lies {away:.1f} km from the community; check "
                "its CRS (declare 'crs': 'gcj02' or 'bd09' for those maps) "
                "and lon/lat order",
                field=field,
            )
        )
    return geom


def edit_args(session: Session, community: str, body: EditBody) -> dict[str, Any]:
    """Return the arguments of ``body`` for :func:`planning.apply_edit`, shapes in WGS 84."""
    args = body.model_dump(exclude={"op", "crs"})
    if isinstance(body, Redraw | Split):
        outline = repo.read(session, "communities", community=community).geometry.iloc[0]
        key, kinds = (
            ("geometry", ("Polygon", "MultiPolygon"))
            if isinstance(body, Redraw)
            else ("line", ("LineString",))
        )
        args[key] = _shape(args[key], body.crs, field=key, allowed=kinds, community=outline)
    return args


@router.post("/plans/{plan_id}/edits")
def edit(
    plan_id: PlanId,
    body: EditBody,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: PlannerDep,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Apply one edit to a draft: new grid versions and the validation; 422 if it breaks
    coverage or contiguity, 412 if If-Match is stale, 423 if it changes a grid another planner
    locked."""
    plan = open_plan(session, plan_id, user)
    revision = expect_revision(plan, if_match)
    args = edit_args(session, plan.community, body)
    outcome = planning.apply_edit(
        session, plan_id, body.op, args, user=user.username, revision=revision, settings=settings
    )
    return edit_response(outcome, response)


def edit_response(outcome: planning.EditOutcome, response: Response) -> dict[str, Any]:
    """Return the body answering a saved edit, and set the plan's new ETag on ``response``."""
    response.headers["ETag"] = outcome.plan.etag
    return {
        "plan": outcome.plan.as_dict(),
        "edit": outcome.edit_id,
        "changed": outcome.changed,
        "removed": outcome.removed,
        "validation": outcome.validation,
    }


@router.get("/plans/{plan_id}/edits")
def edit_log(plan_id: PlanId, session: SessionDep, user: PlannerDep) -> list[dict[str, Any]]:
    """Every edit of the plan, oldest first, with who, when, what and its validation."""
    open_plan(session, plan_id, user)
    return plans.edits(session, plan_id)


@router.get("/plans/{plan_id}/grids/{code}/history")
def history(
    plan_id: PlanId, code: str, session: SessionDep, user: PlannerDep
) -> list[dict[str, Any]]:
    """Every version of a grid in the plan: geometry, households and the edit that made it."""
    open_plan(session, plan_id, user)
    out = []
    for v in plans.versions(session, plan_id, code):
        v = dict(v)
        v["geometry"] = geometry_to_geojson(v["geometry"])
        out.append(v)
    return out


@router.get("/plans/{plan_id}/grids/{code}/diff")
def diff(
    plan_id: PlanId,
    code: str,
    session: SessionDep,
    user: PlannerDep,
    a: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    b: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> dict[str, Any]:
    """What changed in a grid between two versions: territory gained and lost, households."""
    open_plan(session, plan_id, user)
    result = planning.diff(session, plan_id, code, a=a, b=b)
    result["gained"] = geometry_to_geojson(result["gained"])
    result["lost"] = geometry_to_geojson(result["lost"])
    return result
