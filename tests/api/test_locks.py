"""Grid locks in the store: set, listed to every planner, audited, and honoured by the server:
another planner's edit of a locked grid is a 423 naming the grid and its holder, and "fix this
grid" never changes a locked grid, whoever holds it. Both back-ends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeded import CODE, PASSWORD, Login
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from test_drafting import a_move, preview

from gridsvc import grid_locks
from gridsvc.store import plans, session_scope, users

API = "/api/v1"
HELD = re.compile(
    r"grid (\d{15}) is locked by planner since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; "
    r"ask them to unlock it, or leave it out of this edit"
)


@pytest.fixture
def plan(client: TestClient, login: Login, api_store: Engine) -> int:
    """A draft of the village; a second planner (``planner2``) of the same district."""
    with session_scope(api_store) as session:
        users.add_user(
            session, username="planner2", password=PASSWORD, role="planner", scope=(CODE[:6],)
        )
    response = client.post(f"{API}/communities/{CODE}/plans", json={}, headers=login("planner"))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def etag(client: TestClient, headers: dict[str, str], plan: int) -> str:
    return client.get(f"{API}/plans/{plan}", headers=headers).headers["ETag"]


def edit(client: TestClient, headers: dict[str, str], plan: int, body: dict[str, Any]) -> Any:
    tag = etag(client, headers, plan)
    return client.post(f"{API}/plans/{plan}/edits", json=body, headers={**headers, "If-Match": tag})


def grids(client: TestClient, headers: dict[str, str], plan: int) -> dict[str, Any]:
    view = preview(client, headers, plan, []).json()
    return {f["properties"]["code"]: f for f in view["features"]}


def locks(client: TestClient, headers: dict[str, str], plan: int) -> list[dict[str, Any]]:
    response = client.get(f"{API}/plans/{plan}/locks", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_lock_is_stored_shown_to_every_planner_and_audited(
    client: TestClient, login: Login, plan: int
) -> None:
    mine, theirs = login("planner"), login("planner2")
    grid = sorted(grids(client, mine, plan))[0]
    url = f"{API}/plans/{plan}/locks/{grid}"

    first = client.put(url, headers=mine)
    assert first.status_code == 201, first.text
    held = first.json()
    assert held["grid"] == grid and held["locked_by"] == "planner" and held["plan"] == plan
    again = client.put(url, headers=mine)
    assert again.status_code == 200 and again.json() == held  # holding it already
    assert locks(client, theirs, plan) == [held]  # the other planner sees it

    taken = client.put(url, headers=theirs)
    assert taken.status_code == 423
    assert taken.headers["content-type"] == "application/problem+json"
    assert HELD.fullmatch(taken.json()["detail"]).group(1) == grid  # type: ignore[union-attr]
    assert taken.json()["locks"] == [held]

    gone = client.delete(url, headers=mine)
    assert gone.status_code == 200 and gone.json() == held
    assert locks(client, theirs, plan) == []
    assert client.delete(url, headers=mine).status_code == 404

    story = client.get(f"{API}/plans/{plan}/changes?since=1", headers=theirs).json()
    assert [(e["user"], e["action"]) for e in story] == [
        ("planner", "plan.lock"),
        ("planner", "plan.unlock"),
    ]
    assert story[0]["after"] == held and story[1]["before"]["grid"] == grid


def test_another_planners_edit_of_a_locked_grid_is_refused_and_changes_nothing(
    client: TestClient, login: Login, plan: int
) -> None:
    mine, theirs = login("planner"), login("planner2")
    move = a_move(client, mine, plan)  # a building of one grid into a neighbour, accepted
    view = preview(client, mine, plan, []).json()
    source = view["buildings"][move["buildings"][0]]
    assert client.put(f"{API}/plans/{plan}/locks/{source}", headers=mine).status_code == 201
    before = etag(client, mine, plan)

    # the edit names only the target grid; it would take territory from the locked one
    refused = edit(client, theirs, plan, move)
    assert refused.status_code == 423, refused.text
    assert HELD.fullmatch(refused.json()["detail"]).group(1) == source  # type: ignore[union-attr]
    assert [lock["grid"] for lock in refused.json()["locks"]] == [source]
    merge = {"op": "merge", "grids": sorted([source, move["to"]])}
    assert edit(client, theirs, plan, merge).status_code == 423  # names the locked grid
    assert preview(client, theirs, plan, [move]).status_code == 423  # the dry run says so too
    assert etag(client, mine, plan) == before
    assert client.get(f"{API}/plans/{plan}/edits", headers=mine).json() == []

    saved = edit(client, mine, plan, move)  # the holder may edit his own locked grid
    assert saved.status_code == 200, saved.text
    assert source in saved.json()["changed"]


def test_only_the_holder_or_an_admin_unlocks(client: TestClient, login: Login, plan: int) -> None:
    mine = login("planner")
    grid = sorted(grids(client, mine, plan))[0]
    url = f"{API}/plans/{plan}/locks/{grid}"
    assert client.put(url, headers=mine).status_code == 201

    refused = client.delete(url, headers=login("planner2"))
    assert refused.status_code == 423
    assert refused.json()["detail"].startswith(f"grid {grid} is locked by planner since ")
    assert refused.json()["detail"].endswith("; only planner or an admin may unlock it")
    assert len(locks(client, mine, plan)) == 1

    assert client.delete(url, headers=login("admin")).status_code == 200
    assert locks(client, mine, plan) == []


def test_fix_never_changes_a_grid_locked_by_anyone(
    client: TestClient, login: Login, plan: int, api_store: Engine
) -> None:
    mine, theirs = login("planner"), login("planner2")
    view = grids(client, mine, plan)
    weak = sorted(view)[0]
    keep = view[weak]["properties"]["neighbours"][0]
    assert client.put(f"{API}/plans/{plan}/locks/{keep}", headers=theirs).status_code == 201
    with session_scope(api_store) as session:
        versions = [v["version"] for v in plans.versions(session, plan, keep)]

    url = f"{API}/plans/{plan}/grids/{weak}/fix"
    fixed = client.post(url, json={}, headers={**mine, "If-Match": etag(client, mine, plan)})
    assert fixed.status_code == 200, fixed.text
    assert weak in fixed.json()["changed"] and keep not in fixed.json()["changed"]
    after = grids(client, mine, plan)
    assert after[keep]["geometry"] == view[keep]["geometry"]
    with session_scope(api_store) as session:
        assert [v["version"] for v in plans.versions(session, plan, keep)] == versions
        assert plans.edits(session, plan)[-1]["payload"]["locked"] == [keep]

    refused = client.post(
        f"{API}/plans/{plan}/grids/{keep}/fix",
        json={},
        headers={**mine, "If-Match": etag(client, mine, plan)},
    )
    assert refused.status_code == 423
    assert f"grid {keep} is locked by planner2 since " in refused.json()["detail"]


def test_a_merged_away_grid_loses_its_lock(client: TestClient, login: Login, plan: int) -> None:
    mine = login("planner")
    view = grids(client, mine, plan)
    first = sorted(view)[0]
    gone = max([first, view[first]["properties"]["neighbours"][0]])  # the smallest code stays
    assert client.put(f"{API}/plans/{plan}/locks/{gone}", headers=mine).status_code == 201
    merged = edit(client, mine, plan, {"op": "merge", "grids": sorted([first, gone])})
    assert merged.status_code == 200, merged.text
    assert merged.json()["removed"] == [gone]
    assert locks(client, mine, plan) == []


@pytest.mark.parametrize(
    ("who", "grid", "status", "detail"),
    [
        ("planner", "999999999999999", 404, "grid 999999999999999 is not a base grid of plan"),
        ("planner", "12345", 422, "code"),
        ("outsider", None, 403, "may not act on community"),
        ("worker", None, 403, "only planners and admins may do this"),
    ],
)
def test_bad_lock_requests_are_clear_problems(
    client: TestClient,
    login: Login,
    plan: int,
    who: str,
    grid: str | None,
    status: int,
    detail: str,
) -> None:
    code = grid or sorted(grids(client, login("planner"), plan))[0]
    response = client.put(f"{API}/plans/{plan}/locks/{code}", headers=login(who))
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert locks(client, login("planner"), plan) == []


def test_a_published_plans_grids_do_not_lock(client: TestClient, login: Login, plan: int) -> None:
    mine = login("planner")
    grid = sorted(grids(client, mine, plan))[0]
    published = client.post(
        f"{API}/plans/{plan}/publish",
        json={},
        headers={**mine, "If-Match": etag(client, mine, plan)},
    )
    assert published.status_code == 200, published.text
    refused = client.put(f"{API}/plans/{plan}/locks/{grid}", headers=mine)
    assert refused.status_code == 422
    assert f"plan {plan} is published; only drafts change" in refused.text


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_a_lock_waits_for_an_edit_already_writing_the_plan(
    client: TestClient, login: Login, plan: int, api_store: Engine
) -> None:
    """An edit holds its plan's row from its revision bump on; a lock asked for meanwhile
    waits for it (here: gives up after 200 ms) instead of being granted on a grid the edit is
    about to change. SQLite serialises writers by itself."""
    grid = next(iter(grids(client, login("planner"), plan)))
    with Session(api_store) as editing:
        plans.bump_revision(editing, plan, expected=plans.get_plan(editing, plan).revision)
        with Session(api_store) as locking:
            locking.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                grid_locks.lock_grid(locking, plan, grid, user="planner2")
        editing.rollback()
    with Session(api_store) as locking:  # with the edit gone, the lock is granted at once
        lock, new = grid_locks.lock_grid(locking, plan, grid, user="planner2")
        assert new and lock.grid == grid
