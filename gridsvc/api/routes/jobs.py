"""Background jobs: POST one (202 + job id), GET its status, progress and report, DELETE it.

Jobs: partition, merge (多格合一 of the departmental layers) and assign (staffing). What can be
checked cheaply (scope, community known, layers present, model known) is refused before the
job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ...config import Settings
from ...errors import InputError, NotFoundError, Problem
from ...jobs import (
    Job,
    JobFn,
    JobRunner,
    assign_job,
    community_layers,
    load_job,
    merge_job,
    partition_job,
)
from ...staffing import shipped_models
from ...store import repo
from ...store.users import User
from ..deps import PlannerDep, SessionDep, SettingsDep, UserDep, require_community

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
Code = Annotated[str, Field(pattern=r"^\d{12}$")]


class CommunitiesRequest(BaseModel):
    communities: list[Code] = Field(min_length=1, max_length=100)


class PartitionRequest(CommunitiesRequest):
    dedicated: bool | None = Field(
        default=None,
        description="make schools, markets, enterprises, hospitals dedicated (专属) grids "
        "(default: the server's dedicated_grids setting)",
    )


class MergeRequest(CommunitiesRequest):
    layers: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None,
        max_length=20,
        description="departmental layers to merge (default: every layer over the community)",
    )


class AssignRequest(CommunitiesRequest):
    model: str = Field(
        default="1+1+N",
        min_length=1,
        max_length=64,
        description="a shipped staffing model: 1+1+N, jiangxi, 1+2+X",
    )


def _runner(request: Request) -> JobRunner:
    return request.app.state.jobs  # type: ignore[no-any-return]


def _job(request: Request, session: Session, job_id: str, user: Any) -> Job:
    """Return the job (live from this process, else as stored) if ``user`` may see it."""
    job = _runner(request).get(job_id) or load_job(session, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    if user.role != "admin" and job.user != user.username:
        for code in job.communities:
            require_community(user, code)
    return job


@dataclass(frozen=True)
class Start:
    """A request starting a job: the caller (a planner) and where the job's answer goes."""

    request: Request
    response: Response
    session: Session
    settings: Settings
    user: User

    def codes(self, communities: list[str]) -> list[str]:
        """Return the distinct codes after checking scope and that each community is stored."""
        codes = list(dict.fromkeys(communities))
        for code in codes:
            require_community(self.user, code)
            if repo.read(self.session, "communities", community=code).empty:
                raise NotFoundError(f"community {code} is not in the store")
        return codes

    def submit(self, kind: str, fn: JobFn, codes: list[str]) -> dict[str, Any]:
        """Queue ``fn`` on the app's runner; answer the job with its Location."""
        job = _runner(self.request).submit(
            kind,
            fn,
            engine=self.request.app.state.engine,
            communities=codes,
            user=self.user.username,
        )
        self.response.headers["Location"] = f"/api/v1/jobs/{job.id}"
        return job.as_dict()


def _start(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: PlannerDep,
) -> Start:
    return Start(request, response, session, settings, user)


StartDep = Annotated[Start, Depends(_start)]


@router.post("/jobs/partition", status_code=202)
def start_partition(body: PartitionRequest, start: StartDep) -> dict[str, Any]:
    """Partition communities in the background and publish the result; 202 with the job."""
    codes = start.codes(body.communities)
    settings = start.settings
    if body.dedicated is not None:
        settings = settings.model_copy(update={"dedicated_grids": body.dedicated})
    return start.submit("partition", partition_job(codes, settings=settings), codes)


@router.post("/jobs/merge", status_code=202)
def start_merge(body: MergeRequest, start: StartDep) -> dict[str, Any]:
    """Merge each community's departmental layers into its base grids (一张网); 202 with the job.

    The unified grids replace the base grids, micro-grids are drawn again inside them, and
    assignments of grids that no longer exist are cleared (the report counts them).
    """
    codes = start.codes(body.communities)
    for code in codes:
        community = repo.read(start.session, "communities", community=code)
        layer_grids = repo.read(start.session, "layer_grids", bbox=tuple(community.total_bounds))
        community_layers(community, layer_grids, body.layers)  # 422 when there are none
    return start.submit(
        "merge", merge_job(codes, settings=start.settings, layers=body.layers), codes
    )


@router.post("/jobs/assign", status_code=202)
def start_assign(body: AssignRequest, start: StartDep) -> dict[str, Any]:
    """Staff the communities' base grids under a shipped model and store the assignments."""
    models = {m.lower(): m for m in shipped_models()}
    model = models.get(body.model.lower())
    if model is None:
        raise InputError(
            Problem(
                f"unknown staffing model {body.model!r}; use one of "
                f"{', '.join(sorted(models.values()))}",
                field="model",
            )
        )
    codes = start.codes(body.communities)
    for code in codes:
        if repo.read(start.session, "grids", community=code, level=1).empty:
            raise InputError(
                Problem(
                    f"community {code} has no base grids to staff; partition or merge it first",
                    source=code,
                    field="communities",
                )
            )
    return start.submit("assign", assign_job(codes, settings=start.settings, model=model), codes)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """A job's status (queued, running, succeeded, failed, cancelled), progress and report.

    Jobs outlive restarts; one a restart interrupted is failed, with an error saying so.
    """
    return _job(request, session, job_id, user).as_dict()


@router.delete("/jobs/{job_id}", status_code=202)
def cancel_job(
    job_id: str, request: Request, session: SessionDep, user: PlannerDep
) -> dict[str, Any]:
    """Cancel a job; it rolls back, so the store keeps what it had."""
    job = _job(request, session, job_id, user)
    if job.status not in ("queued", "running"):
        raise HTTPException(409, f"job {job_id} has already {job.status}")
    if _runner(request).cancel(job_id) is None:
        raise HTTPException(409, f"job {job_id} runs in another service process; cancel it there")
    return job.as_dict()
