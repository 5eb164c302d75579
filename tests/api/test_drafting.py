"""The editor's API: dry runs of pending edits, a plan's changes since a revision, and "fix
this grid" (the partition engine rebalancing a grid with its unlocked neighbours)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeded import Login

API = "/api/v1"


@pytest.fixture
def plan(client: TestClient, login: Login, code: str) -> tuple[int, str]:
    response = client.post(f"{API}/communities/{code}/plans", json={}, headers=login("planner"))
    assert response.status_code == 201, response.text
    return response.json()["id"], response.headers["ETag"]


def preview(client: TestClient, headers: dict[str, str], plan: int, edits: list[Any]) -> Any:
    return client.post(f"{API}/plans/{plan}/preview", json={"edits": edits}, headers=headers)


def a_move(client: TestClient, headers: dict[str, str], plan: int) -> dict[str, Any]:
    """An edit moving one building to a neighbouring grid that the engine accepts."""
    view = preview(client, headers, plan, []).json()
    grids = {f["properties"]["code"]: f["properties"] for f in view["features"]}
    for building, grid in sorted(view["buildings"].items()):
        for to in grids[grid]["neighbours"]:
            edit = {"op": "reassign", "to": to, "buildings": [building]}
            if preview(client, headers, plan, [edit]).status_code == 200:
                return edit
    raise AssertionError("no building can move")


def test_preview_describes_the_grids_and_writes_nothing(
    client: TestClient, login: Login, plan: tuple[int, str]
) -> None:
    headers = login("planner")
    plan_id, etag = plan
    view = preview(client, headers, plan_id, []).json()
    total = sum(f["properties"]["households"] for f in view["features"])
    households = client.get(f"{API}/households", params={"limit": 1}, headers=headers)
    assert total == households.json()["numberMatched"]  # every household in exactly one grid
    assert view["validation"]["errors"] == []
    assert view["bounds"] == {"min": 30, "max": 50}
    for f in view["features"]:
        p = f["properties"]
        assert p["status"] == (
            "under" if p["households"] < 30 else "over" if p["households"] > 50 else "within"
        )
        assert p["islands"] == 0 and p["neighbours"]

    edit = a_move(client, headers, plan_id)
    after = preview(client, headers, plan_id, [edit])
    assert after.status_code == 200 and after.headers["ETag"] == etag
    owner = after.json()["buildings"]
    assert all(owner[b] == edit["to"] for b in edit["buildings"])
    assert sum(f["properties"]["households"] for f in after.json()["features"]) == total
    still = client.get(f"{API}/plans/{plan_id}", headers=headers)
    assert still.headers["ETag"] == etag  # nothing was written
    assert preview(client, headers, plan_id, []).json()["buildings"] == view["buildings"]


def test_preview_refuses_what_saving_would_refuse(
    client: TestClient, login: Login, plan: tuple[int, str]
) -> None:
    headers = login("planner")
    view = preview(client, headers, plan[0], []).json()
    building, grid = next(iter(view["buildings"].items()))
    far = next(
        f["properties"]["code"]
        for f in view["features"]
        if f["properties"]["code"] != grid
        and f["properties"]["code"]
        not in next(g for g in view["features"] if g["properties"]["code"] == grid)["properties"][
            "neighbours"
        ]
    )
    edit = {"op": "reassign", "to": far, "buildings": [building]}
    response = preview(client, headers, plan[0], [edit])
    assert response.status_code == 422
    assert "households move only between neighbouring grids" in response.text


def test_changes_tell_who_edited_since_a_revision(
    client: TestClient, login: Login, plan: tuple[int, str]
) -> None:
    plan_id, etag = plan
    admin = login("admin")
    edit = a_move(client, admin, plan_id)
    saved = client.post(
        f"{API}/plans/{plan_id}/edits", json=edit, headers={**admin, "If-Match": etag}
    )
    assert saved.status_code == 200, saved.text
    changes = client.get(f"{API}/plans/{plan_id}/changes?since=1", headers=login("planner"))
    (entry,) = changes.json()
    assert entry["user"] == "admin" and entry["action"] == "plan.edit.reassign"
    assert edit["to"] in entry["after"]["changed"]
    later = client.get(f"{API}/plans/{plan_id}/changes?since=2", headers=login("planner"))
    assert later.json() == []


def test_fix_rebalances_a_grid_and_leaves_locked_grids_alone(
    client: TestClient, login: Login, plan: tuple[int, str]
) -> None:
    headers = login("planner")
    plan_id, etag = plan
    view = preview(client, headers, plan_id, []).json()
    grid = view["features"][0]["properties"]
    url = f"{API}/plans/{plan_id}/grids/{grid['code']}/fix"
    assert client.post(url, json={}, headers=headers).status_code == 428

    refused = client.post(
        url, json={"locked": grid["neighbours"]}, headers={**headers, "If-Match": etag}
    )
    assert refused.status_code == 422
    assert "has no neighbour that is not locked" in refused.text
    locked = client.post(
        url, json={"locked": [grid["code"]]}, headers={**headers, "If-Match": etag}
    )
    assert locked.status_code == 422 and "is locked" in locked.text

    keep = grid["neighbours"][0]
    before = {f["properties"]["code"]: f for f in view["features"]}[keep]
    fixed = client.post(url, json={"locked": [keep]}, headers={**headers, "If-Match": etag})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["validation"]["errors"] == [] and keep not in body["changed"]
    assert grid["code"] in body["changed"]
    after = {
        f["properties"]["code"]: f for f in preview(client, headers, plan_id, []).json()["features"]
    }
    assert after[keep]["geometry"] == before["geometry"]
    assert all(f["properties"]["status"] == "within" for f in after.values())
    log = client.get(f"{API}/plans/{plan_id}/edits", headers=headers).json()
    assert [e["op"] for e in log] == ["rebalance"]
