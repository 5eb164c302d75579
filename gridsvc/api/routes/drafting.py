"""What the planner's editor needs beyond the edit routes: a dry run of pending edits (live
counts and violations) and who changed a plan since a revision (the story behind a 412)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ... import drafting
from ...geo import feature_collection
from ..deps import PlannerDep, SessionDep, SettingsDep
from ..paging import GEOJSON
from .editing import EditBody, edit_args
from .plans import PlanId, open_plan

__all__ = ["router"]

router = APIRouter(tags=["editor"])


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
