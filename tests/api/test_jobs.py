"""Background jobs: 202 + id, status and report; a failed or cancelled job changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from job_helpers import grids_state, poll, restarted, wait
from owners import dead_owner
from seeded import Login
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridsvc import jobs as jobs_module
from gridsvc.errors import PartitionError
from gridsvc.jobs import JobRunner
from gridsvc.store import repo, session_scope
from gridsvc.store.jobs import read_job

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


def test_partition_job_makes_dedicated_grids_when_asked(
    client: TestClient, login: Login, code: str, api_store: Engine
) -> None:
    """The village's enterprise becomes a dedicated (专属) grid only with "dedicated": true.

    Its grids are dropped first: re-partitioning keeps existing grids where it can.
    """
    headers = login("planner")
    for dedicated, expected in ((True, 1), (False, 0)):
        with session_scope(api_store) as session:
            repo.delete(session, "grids", community=code)
        response = client.post(
            f"{API}/jobs/partition",
            json={"communities": [code], "dedicated": dedicated},
            headers=headers,
        )
        body = poll(client, response.headers["Location"], headers)
        assert body["status"] == "succeeded", body
        assert body["report"][code]["dedicated_grids"] == expected


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


def test_a_new_app_on_the_same_store_sees_the_finished_job(
    client: TestClient, login: Login, code: str, api_store: Engine, store_url: str
) -> None:
    headers = login("planner")
    response = client.post(f"{API}/jobs/partition", json={"communities": [code]}, headers=headers)
    first = poll(client, response.headers["Location"], headers)
    assert first["status"] == "succeeded", first
    with restarted(client, api_store, store_url) as fresh:
        assert fresh.app.state.jobs.get(first["id"]) is None  # not from this process' memory
        again = fresh.get(response.headers["Location"], headers=headers)
        assert again.status_code == 200
        assert again.json() == first
        assert again.json()["started_at"] is not None
        assert fresh.get(f"{API}/jobs/{first['id']}", headers=login("outsider")).status_code == 403


def test_a_restart_marks_a_running_job_failed_and_the_store_keeps_its_grids(
    client: TestClient,
    login: Login,
    code: str,
    api_store: Engine,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = grids_state(api_store, code)
    halfway, release = threading.Event(), threading.Event()

    def slow(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        say("thinking", 0.5)
        halfway.set()
        release.wait(60)
        repo.delete(session, "grids", community=code)
        return {"done": True}

    # The process that is about to "die". It writes only after the restart: a really dead
    # process' SQLite write lock dies with it, a merely blocked one's would not.
    # Its jobs name a process that is gone (this test's own process is alive, and a restart
    # never fails the jobs of a live process).
    owner = dead_owner()
    monkeypatch.setattr(jobs_module, "this_process", lambda: owner)
    runner = JobRunner(workers=1)
    job = runner.submit("partition", slow, engine=api_store, communities=[code], user="planner")
    assert halfway.wait(60)
    with session_scope(api_store) as session:
        assert read_job(session, job.id)["status"] == "running"  # type: ignore[index]
    with restarted(client, api_store, store_url) as fresh:
        body = fresh.get(f"{API}/jobs/{job.id}", headers=login("planner")).json()
        assert body["status"] == "failed"
        assert body["error"] == (
            "interrupted by a restart of the service before it finished; nothing it did was "
            "kept (its transaction rolled back); start it again"
        )
        assert body["finished_at"] is not None
        # the old process' job, had it lived on, may not commit behind the restart's back
        release.set()
        wait(job)
        runner.shutdown()
        assert job.status == "cancelled"
        assert "marked interrupted by a restart" in (job.error or "")
        assert fresh.get(f"{API}/jobs/{job.id}", headers=login("planner")).json() == body
    assert grids_state(api_store, code) == before


def test_a_failed_job_is_stored_failed(api_store: Engine, code: str) -> None:
    def wreck(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        raise PartitionError("the solver gave up")

    runner = JobRunner(workers=1)
    job = wait(runner.submit("partition", wreck, engine=api_store, communities=[code], user="t"))
    runner.shutdown()
    with session_scope(api_store) as session:
        stored = read_job(session, job.id)
    assert stored is not None
    assert (stored["status"], stored["error"], stored["user"]) == (
        "failed",
        "the solver gave up",
        "t",
    )
    assert stored["communities"] == [code] and stored["report"] is None
