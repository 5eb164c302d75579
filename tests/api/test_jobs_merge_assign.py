"""Merge (多格合一) and staffing jobs through the API, and the stored assignments they leave.

The village fixture holds three departmental layers (police beats hard; party and governance
soft) and is partitioned; workers are a generated roster stored through ``repo.upsert``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from job_helpers import grids_state, poll, wait
from seeded import PASSWORD, Login
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.config import load_settings
from gridsvc.errors import PartitionError
from gridsvc.jobs import JobRunner, assign_job, merge_job
from gridsvc.merge import merge
from gridsvc.partition import Bounds, check_partition
from gridsvc.planning import assign_households
from gridsvc.staffing import generate_roster
from gridsvc.store import repo, session_scope, users
from gridsvc.store.assignments import read_assignments
from gridsvc.workflows import engine_options, read_community_bundle

API = "/api/v1"


def _run(
    client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = client.post(f"{API}/jobs/{path}", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"{API}/jobs/{response.json()['id']}"
    return poll(client, response.headers["Location"], headers)


def _assignments(engine: Engine, code: str) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        frame = read_assignments(session, community=code)
    return sorted(frame.itertuples(index=False, name=None))


def _add_workers(engine: Engine, code: str) -> int:
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=code, level=1)
        households = repo.read(session, "households", community=code)
        roster = generate_roster(grids, households, seed=0)
        repo.upsert(session, "workers", frames.conform("workers", roster))
    return len(roster)


# --- merge ----------------------------------------------------------------------------------


def test_merge_job_replaces_the_base_grids_by_the_unified_ones(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    settings = load_settings()
    with session_scope(api_store) as session:
        bundle = read_community_bundle(session, code)
    assert len(bundle.microgrids) > 0
    body = _run(client, "merge", {"communities": [code]}, login("planner"))
    assert body["status"] == "succeeded", body
    report = body["report"][code]
    assert (report["hard_crossings"], report["gaps"], report["overlaps"]) == (0, 0, 0)
    assert report["layers"] == {"police": "hard", "governance": "soft", "party": "soft"}
    assert report["microgrids_replaced"] == len(bundle.microgrids)
    assert (report["assignments_cleared"], report["note"]) == (0, "")
    with session_scope(api_store) as session:
        every = repo.read(session, "grids", community=code)
        households = repo.read(session, "households", community=code)
        community = repo.read(session, "communities", community=code)
    stored = every[every["level"] == 1].reset_index(drop=True)
    micro = every[every["level"] == 2].reset_index(drop=True)
    assert set(every["level"]) == {1, 2}
    assert len(stored) == report["unified_grids"]
    assert len(micro) == report["microgrids"] > len(stored)
    assert report["microgrid_notes"] == []
    # every level holds each household once, micro-grids tile their unified grid, 1–15 each
    assignment = pd.DataFrame(
        {
            "household_id": households["id"],
            "grid_code": assign_households(households, stored).to_numpy(),
            "microgrid_code": assign_households(households, micro).to_numpy(),
        }
    )
    result = SimpleNamespace(grids=stored, microgrids=micro, assignment=assignment)
    levels = [Bounds(1, 10_000), Bounds(1, settings.micro_max_households)]
    # unified grids are snapped to the layers one by one (0.004 m² of overlap here)
    assert check_partition(community, households, result, levels, rounded=True) == []
    assert int(stored["households"].sum()) == len(households) == report["households"]
    # the same merge, run here on what the store held, gives the stored grids
    layers = bundle.layer_grids.sort_values(["policy", "layer"]).reset_index(drop=True)
    expected = merge(
        bundle.community,
        bundle.households,
        layers,
        buildings=bundle.buildings,
        **engine_options(settings),
    ).unified
    assert sorted(stored["code"]) == sorted(expected["code"])
    assert (
        stored.set_index("code")["households"].to_dict()
        == expected.set_index("code")["households"].astype(int).to_dict()
    )


def test_merge_job_gives_the_settings_budget_to_the_engine(api_store: Engine, code: str) -> None:
    merged = merge_job([code], settings=load_settings(partition_budget=0.5))
    with session_scope(api_store) as session:
        report = merged(session, lambda message, fraction: None)
    assert report[code]["partition_budget"]["units"] == 0.5
    assert (report[code]["hard_crossings"], report[code]["gaps"]) == (0, 0)


def test_merge_of_a_community_without_layers_is_refused_before_it_starts(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    with session_scope(api_store) as session:
        repo.delete(session, "layer_grids")
    before = grids_state(api_store, code)
    response = client.post(
        f"{API}/jobs/merge", json={"communities": [code]}, headers=login("planner")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["detail"].startswith(
        f"community {code} has no departmental layers to merge"
    )
    assert grids_state(api_store, code) == before


def test_merge_of_unknown_layers_is_refused(client: TestClient, login: Login, code: str) -> None:
    response = client.post(
        f"{API}/jobs/merge",
        json={"communities": [code], "layers": ["城管"]},
        headers=login("planner"),
    )
    assert response.status_code == 422
    assert "no departmental layers among layers 城管" in response.json()["errors"][0]["detail"]


def test_a_merge_failing_after_writing_leaves_the_grids(api_store: Engine, code: str) -> None:
    before = grids_state(api_store, code)
    merged = merge_job([code], settings=load_settings())

    def fails_late(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        merged(session, say)
        assert len(repo.read(session, "grids", community=code)) != len(before)
        raise PartitionError("the check after the merge failed")

    runner = JobRunner(workers=1)
    job = wait(runner.submit("merge", fails_late, engine=api_store, communities=[code], user="t"))
    runner.shutdown()
    assert (job.status, job.error) == ("failed", "the check after the merge failed")
    assert grids_state(api_store, code) == before


def test_merge_job_clears_the_assignments_of_grids_that_no_longer_exist(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    _add_workers(api_store, code)
    headers = login("planner")
    assert _run(client, "assign", {"communities": [code]}, headers)["status"] == "succeeded"
    before = _assignments(api_store, code)
    merged = _run(client, "merge", {"communities": [code]}, headers)
    assert merged["status"] == "succeeded", merged
    with session_scope(api_store) as session:
        live = set(repo.read(session, "grids", community=code)["code"])
    after = _assignments(api_store, code)
    vanished = [row for row in before if row[1] not in live]
    assert vanished  # the unified grids do not all keep the old codes
    assert all(row[1] in live for row in after)
    assert after == [row for row in before if row[1] in live]
    report = merged["report"][code]
    assert report["assignments_cleared"] == len(vanished) == len(before) - len(after)
    assert report["note"] == (
        f"{len(vanished)} staffing assignments of grids that no longer exist were cleared; "
        "run an assign job to staff the unified grids"
    )


# --- assign ---------------------------------------------------------------------------------


def test_assign_job_fills_assignments_and_a_second_run_keeps_them(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    workers = _add_workers(api_store, code)
    headers = login("planner")
    first = _run(client, "assign", {"communities": [code], "model": "1+1+N"}, headers)
    assert first["status"] == "succeeded", first
    summary = first["report"]["summary"]
    assert summary["workers"] == workers
    assert 0 < summary["required_filled"] <= summary["required_positions"]
    stored = _assignments(api_store, code)
    assert len(stored) == first["report"]["communities"][code]["assignments"] > 0
    assert not any(row[4] for row in stored)  # nothing kept on a first run
    listed = client.get(f"{API}/assignments", params={"community": code}, headers=headers)
    assert listed.status_code == 200
    assert listed.json()["count"] == len(stored)
    assert {i["community_code"] for i in listed.json()["items"]} == {code}

    second = _run(client, "assign", {"communities": [code]}, headers)
    assert second["status"] == "succeeded", second
    again = _assignments(api_store, code)
    assert second["report"]["communities"][code]["kept"] == len(again) == len(stored)
    assert all(row[4] for row in again)
    # kept rows keep their grid, worker, role and the time they were first assigned
    assert [r[:4] + r[5:] for r in again] == [r[:4] + r[5:] for r in stored]


def test_unknown_model_is_refused_naming_it(client: TestClient, login: Login, code: str) -> None:
    response = client.post(
        f"{API}/jobs/assign",
        json={"communities": [code], "model": "3+3+N"},
        headers=login("planner"),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "source": "",
            "feature": None,
            "field": "model",
            "detail": "unknown staffing model '3+3+N'; use one of 1+1+N, 1+2+X, jiangxi",
        }
    ]


def test_a_failing_assign_job_leaves_the_assignments(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    _add_workers(api_store, code)
    headers = login("planner")
    assert _run(client, "assign", {"communities": [code]}, headers)["status"] == "succeeded"
    before = _assignments(api_store, code)
    with session_scope(api_store) as session:  # a police officer without a beat: bad roster
        worker = (
            repo.read(session, "workers")
            .iloc[[0]]
            .assign(id="X1", roles="police", police_beat=None)
        )
        repo.upsert(session, "workers", frames.conform("workers", worker))
    failed = _run(client, "assign", {"communities": [code]}, headers)
    assert failed["status"] == "failed"
    assert "police worker X1 has no police_beat" in failed["error"]
    assert _assignments(api_store, code) == before


def test_an_assign_job_failing_after_writing_leaves_the_assignments(
    api_store: Engine, code: str
) -> None:
    _add_workers(api_store, code)
    assert _assignments(api_store, code) == []
    staff = assign_job([code], settings=load_settings())

    def fails_late(session: Session, say: Callable[[str, float], None]) -> dict[str, Any]:
        staff(session, say)
        assert not read_assignments(session, community=code).empty
        raise PartitionError("the check after staffing failed")

    runner = JobRunner(workers=1)
    job = wait(runner.submit("assign", fails_late, engine=api_store, communities=[code], user="t"))
    runner.shutdown()
    assert (job.status, job.error) == ("failed", "the check after staffing failed")
    assert _assignments(api_store, code) == []


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["merge", "assign", "partition"])
def test_a_planner_of_another_street_may_not_start_jobs(
    client: TestClient, login: Login, code: str, path: str
) -> None:
    response = client.post(
        f"{API}/jobs/{path}", json={"communities": [code]}, headers=login("outsider")
    )
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"user 'outsider' may not act on community {code}; their scope is 110101001001"
    )


def test_assignments_are_scoped(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    _add_workers(api_store, code)
    assert _run(client, "assign", {"communities": [code]}, login("admin"))["status"] == "succeeded"
    stored = _assignments(api_store, code)
    mine = stored[0][2]
    with session_scope(api_store) as session:
        users.add_user(
            session,
            username="staff",
            password=PASSWORD,
            role="worker",
            scope=(stored[0][1],),
            worker_id=mine,
        )
    denied = client.get(f"{API}/assignments", params={"community": code}, headers=login("outsider"))
    assert denied.status_code == 403
    assert client.get(f"{API}/assignments", headers=login("outsider")).json()["count"] == 0
    assert client.get(f"{API}/assignments", headers=login("admin")).json()["count"] == len(stored)
    staff = login("staff")
    own = client.get(f"{API}/assignments", headers=staff).json()
    assert own["count"] == sum(r[2] == mine for r in stored) > 0
    assert {i["worker_id"] for i in own["items"]} == {mine}
    other = next(r[2] for r in stored if r[2] != mine)
    response = client.get(f"{API}/assignments", params={"worker": other}, headers=staff)
    assert response.status_code == 403
    assert (
        client.post(f"{API}/jobs/assign", json={"communities": [code]}, headers=staff).status_code
        == 403
    )
