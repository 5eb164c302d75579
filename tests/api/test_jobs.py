"""Background jobs: 202 + id, status and report; a failed or cancelled job changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from job_helpers import grids_state, poll, wait
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridsvc.errors import PartitionError
from gridsvc.jobs import JobRunner
from gridsvc.store import repo

Login = Callable[[str], dict[str, str]]
API = "/api/v1"


def test_partition_job_answers_202_and_reports(client: TestClient, login: Login, code: str) -> None:
    headers = login("planner")
    response = client.post(f"{API}/jobs/partition", json={"communities": [code]}, headers=headers)
    assert response.status_code == 202
    assert response.headers["Location"] == f"{API}/jobs/{response.json()['id']}"
    body = poll(client, response.headers["Location"], headers)
    assert body["status"] == "succeeded", body
    assert body["progress"] == 1.0
    assert body["report"][code]["grids"] > 0
    audit = client.get(
        f"{API}/audit", params={"target": f"job/{body['id']}"}, headers=login("admin")
    ).json()
    assert [e["action"] for e in audit["items"]] == ["job.partition"]


def test_unknown_job_and_unknown_community(client: TestClient, login: Login) -> None:
    headers = login("admin")
    assert client.get(f"{API}/jobs/nope", headers=headers).status_code == 404
    response = client.post(
        f"{API}/jobs/partition", json={"communities": ["140802999999"]}, headers=headers
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "community 140802999999 is not in the store"


def test_a_failing_job_leaves_the_store_as_it_was(api_store: Engine, code: str) -> None:
    before = grids_state(api_store, code)

    def wreck(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        repo.delete(session, "grids", community=code)
        say("half-way", 0.5)
        raise PartitionError("the solver gave up half-way")

    runner = JobRunner(workers=1)
    job = wait(runner.submit("partition", wreck, engine=api_store, communities=[code], user="t"))
    runner.shutdown()
    assert (job.status, job.error) == ("failed", "the solver gave up half-way")
    assert grids_state(api_store, code) == before


def test_a_job_killed_half_way_leaves_the_previous_grids(api_store: Engine, code: str) -> None:
    before = grids_state(api_store, code)
    halfway, release = threading.Event(), threading.Event()

    def slow(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        repo.delete(session, "grids", community=code)
        say("deleted the old grids", 0.5)
        halfway.set()
        release.wait(60)
        say("writing the new ones", 0.9)
        return {"done": True}

    runner = JobRunner(workers=1)
    job = runner.submit("partition", slow, engine=api_store, communities=[code], user="t")
    assert halfway.wait(60)
    assert job.status == "running" and job.progress == 0.5
    runner.cancel(job.id)
    release.set()
    wait(job)
    runner.shutdown()
    assert job.status == "cancelled"
    assert grids_state(api_store, code) == before
