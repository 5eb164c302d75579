"""Background jobs: POST one (202 + job id), GET its status, progress and report, DELETE it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from ...errors import NotFoundError
from ...jobs import Job, JobRunner, partition_job
from ...store import repo
from ..deps import PlannerDep, SessionDep, SettingsDep, UserDep, require_community

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
Code = Annotated[str, Field(pattern=r"^\d{12}$")]


class PartitionRequest(BaseModel):
    communities: list[Code] = Field(min_length=1, max_length=100)


def _runner(request: Request) -> JobRunner:
    return request.app.state.jobs  # type: ignore[no-any-return]


def _job(request: Request, job_id: str, user: Any) -> Job:
    job = _runner(request).get(job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist (jobs are kept until the service "
                            "restarts)")
    if user.role != "admin" and job.user != user.username:
        for code in job.communities:
            require_community(user, code)
    return job


@router.post("/jobs/partition", status_code=202)
def start_partition(body: PartitionRequest, request: Request, response: Response,
                    session: SessionDep, settings: SettingsDep,
                    user: PlannerDep) -> dict[str, Any]:
    """Partition communities in the background and publish the result; 202 with the job."""
    codes = list(dict.fromkeys(body.communities))
    for code in codes:
        require_community(user, code)
        if repo.read(session, "communities", community=code).empty:
            raise NotFoundError(f"community {code} is not in the store")
    job = _runner(request).submit("partition", partition_job(codes, settings=settings),
                                  engine=request.app.state.engine, communities=codes,
                                  user=user.username)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job.as_dict()


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request, user: UserDep) -> dict[str, Any]:
    """A job's status (queued, running, succeeded, failed, cancelled), progress and report."""
    return _job(request, job_id, user).as_dict()


@router.delete("/jobs/{job_id}", status_code=202)
def cancel_job(job_id: str, request: Request, user: PlannerDep) -> dict[str, Any]:
    """Cancel a job; it rolls back, so the store keeps what it had."""
    job = _job(request, job_id, user)
    if job.status not in ("queued", "running"):
        raise HTTPException(409, f"job {job_id} has already {job.status}")
    _runner(request).cancel(job_id)
    return job.as_dict()
