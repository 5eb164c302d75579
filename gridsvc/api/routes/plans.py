"""Plans of a community: list, start a draft, read (with ETag), publish, discard."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ... import planning
from ...errors import NotFoundError, StaleError
from ...store import audit, plans, repo
from ...store.users import User
from ..deps import PlannerDep, SessionDep, require_community
from ..paging import LimitQuery, OffsetQuery, page

__all__ = ["IfMatch", "PlanId", "expect_revision", "open_plan", "router"]

router = APIRouter(tags=["plans"])
PlanId = Annotated[int, Path(ge=1, le=2_147_483_647, description="plan id")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=200, description="the plan's ETag from your last read"),
]


class NewPlan(BaseModel):
    name: str = Field(default="draft", max_length=200)


class Publish(BaseModel):
    effective_from: datetime | None = Field(default=None, description="default: now")


def open_plan(session: Session, plan_id: int, user: User) -> plans.PlanInfo:
    """Return plan ``plan_id`` if ``user`` may see it (404 / 403 otherwise)."""
    plan = plans.get_plan(session, plan_id)
    require_community(user, plan.community)
    return plan


def expect_revision(plan: plans.PlanInfo, if_match: str | None) -> int:
    """Return the revision an If-Match names; 428 without one, 412 when it is stale."""
    if if_match is None:
        raise HTTPException(
            428,
            f"send 'If-Match: {plan.etag}' (the ETag of your last read) "
            "so edits never overwrite each other",
        )
    tags = [t.strip() for t in if_match.split(",")]
    if plan.etag not in tags:
        raise StaleError(
            f"plan {plan.id} changed since you read it (If-Match {if_match}, "
            f"now {plan.etag}); reload it and apply your edit again"
        )
    return plan.revision


@router.get("/communities/{code}/plans")
def list_plans(code: str, session: SessionDep, user: PlannerDep) -> list[dict[str, Any]]:
    """The community's plans: the published one, drafts and superseded ones."""
    require_community(user, code)
    if repo.read(session, "communities", community=code).empty:
        raise NotFoundError(f"community {code} is not in the store")
    return [p.as_dict() for p in plans.list_plans(session, code)]


@router.post("/communities/{code}/plans", status_code=201)
def create_plan(
    code: str, body: NewPlan, response: Response, session: SessionDep, user: PlannerDep
) -> dict[str, Any]:
    """Start a draft from the published grids; answers its ETag and Location."""
    require_community(user, code)
    plan = planning.create_draft(session, code, user=user.username, name=body.name)
    response.headers["ETag"] = plan.etag
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return plan.as_dict()


@router.get("/plans/{plan_id}")
def get_plan(
    plan_id: PlanId, response: Response, session: SessionDep, user: PlannerDep
) -> dict[str, Any]:
    """A plan's header; its ETag guards writes."""
    plan = open_plan(session, plan_id, user)
    response.headers["ETag"] = plan.etag
    return plan.as_dict()


@router.get("/plans/{plan_id}/grids", response_class=JSONResponse)
def plan_grids(
    plan_id: PlanId,
    request: Request,
    session: SessionDep,
    user: PlannerDep,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: LimitQuery = 1000,
    offset: OffsetQuery = 0,
) -> JSONResponse:
    """The plan's current grids as paged GeoJSON, with the plan's ETag."""
    plan = open_plan(session, plan_id, user)
    grids, _ = plans.current_grids(session, plan_id)
    if level is not None:
        grids = grids[grids["level"] == level]
    return page(
        grids, request, limit=limit, offset=offset, id_column="code", headers={"ETag": plan.etag}
    )


@router.post("/plans/{plan_id}/publish")
def publish(
    plan_id: PlanId,
    body: Publish,
    response: Response,
    session: SessionDep,
    user: PlannerDep,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Publish a draft from ``effective_from``: its grids become the community's grids."""
    plan = open_plan(session, plan_id, user)
    revision = expect_revision(plan, if_match)
    plan = planning.publish(
        session, plan_id, user=user.username, revision=revision, effective_from=body.effective_from
    )
    response.headers["ETag"] = plan.etag
    return plan.as_dict()


@router.delete("/plans/{plan_id}")
def discard(
    plan_id: PlanId, session: SessionDep, user: PlannerDep, if_match: IfMatch = None
) -> dict[str, Any]:
    """Discard a draft (it stays readable, marked discarded)."""
    plan = open_plan(session, plan_id, user)
    revision = expect_revision(plan, if_match)
    if plan.status != "draft":
        raise HTTPException(409, f"plan {plan_id} is {plan.status}; only drafts are discarded")
    plans.bump_revision(session, plan_id, expected=revision)
    plans.set_status(session, plan_id, "discarded")
    audit.record(
        session,
        user=user.username,
        action="plan.discard",
        target=f"plan/{plan_id}",
        before=plan.as_dict(),
    )
    return plans.get_plan(session, plan_id).as_dict()
