"""What the planner's editor needs beyond the edit routes: a dry run of pending edits (live
counts and violations), who changed a plan since a revision (the story behind a 412), and
"fix this grid" (the partition engine rebalances a grid with its unlocked neighbours)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ... import drafting, planning
from ...geo import feature_collection
from ..deps import PlannerDep, SessionDep, SettingsDep
from ..paging import GEOJSON
from .editing import EditBody, edit_args, edit_response
from .plans import IfMatch, PlanId, expect_revision, open_plan

__all__ = ["router"]

router = APIRouter(tags=["editor"])
GridCode = Annotated[str, Path(pattern=r"^\d{15}$", description="a base grid code")]


class Pending(BaseModel):
    """Edits the editor holds but has not saved, oldest first."""

    edits: list[EditBody] = Field(default=[], max_length=200)


@router.post("/plans/{plan_id}/preview", response_class=JSONResponse)
def preview(
    plan_id: PlanId,
    body: Pending,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PlannerDep,
) -> JSONResponse:
    """The plan's base grids after the pending edits, nothing written: households, residents,
    bound status (under/within/over), islands, neighbours; the grid of every building; the
    validation. 422 names the first edit that would be refused. Answers the plan's ETag."""
    plan = open_plan(session, plan_id, user)
    pending = [(e.op, edit_args(session, plan.community, e)) for e in body.edits]
    view = drafting.preview(
        request.app.state.engine, plan_id, pending, user=user.username, settings=settings
    )
    out: dict[str, Any] = feature_collection(view.grids, id_column="code")
    out.update(
        plan=plan.as_dict(),
        buildings=view.buildings,
        validation=view.validation,
        bounds={"min": settings.min_households, "max": settings.max_households},
    )
    return JSONResponse(out, media_type=GEOJSON, headers={"ETag": plan.etag})


@router.get("/plans/{plan_id}/changes")
def changes(
    plan_id: PlanId,
    session: SessionDep,
    user: PlannerDep,
    since: Annotated[int, Query(ge=0, le=2_147_483_647, description="a revision you read")],
) -> list[dict[str, Any]]:
    """The plan's audit entries from revision ``since`` on, oldest first: who changed what."""
    open_plan(session, plan_id, user)
    return drafting.change_log(session, plan_id, since=since)


class Fix(BaseModel):
    """Grids the engine must leave alone besides the plan's locked grids."""

    locked: list[Annotated[str, Field(pattern=r"^\d{15}$")]] = Field(default=[], max_length=500)


@router.post("/plans/{plan_id}/grids/{code}/fix")
def fix(
    plan_id: PlanId,
    code: GridCode,
    body: Fix,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: PlannerDep,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Let the partition engine rebalance grid ``code`` with its neighbours that are neither
    locked in the plan nor in ``locked`` (one edit, op ``rebalance``); 422 if the result would
    break the plan, 423 if ``code`` is locked by another planner."""
    plan = open_plan(session, plan_id, user)
    revision = expect_revision(plan, if_match)
    outcome = planning.apply_edit(
        session,
        plan_id,
        "rebalance",
        {"grid": code, "locked": body.locked},
        user=user.username,
        revision=revision,
        settings=settings,
    )
    return edit_response(outcome, response)
