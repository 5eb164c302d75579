"""Micro-grids in drafts: edits redraw those of the grids they touch; publishing keeps history."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from seeded import Login
from shapely.geometry import shape
from sqlalchemy.engine import Engine
from test_plans import Draft, neighbours

from gridsvc.partition import Bounds, check_partition
from gridsvc.store import plans, repo, session_scope

API = "/api/v1"


class _Result:
    def __init__(self, every: gpd.GeoDataFrame, members: dict[str, frozenset[str]]) -> None:
        self.grids = every[every["level"] == 1].reset_index(drop=True)
        self.microgrids = every[every["level"] == 2].reset_index(drop=True)
        base = {h: c for c in self.grids["code"] for h in members.get(c, ())}
        micro = {h: c for c in self.microgrids["code"] for h in members.get(c, ())}
        self.assignment = pd.DataFrame(
            {"household_id": list(base), "grid_code": list(base.values())}
        ).assign(microgrid_code=lambda f: f["household_id"].map(micro))


def draft_problems(engine: Engine, plan_id: int, code: str) -> list[str]:
    """Return check_partition's findings on every level of the draft (base bounds relaxed)."""
    with session_scope(engine) as session:
        every, members = plans.current_grids(session, plan_id)
        households = repo.read(session, "households", community=code)
        community = repo.read(session, "communities", community=code)
    levels = [Bounds(1, 10_000), Bounds(1, 15)]
    return check_partition(community, households, _Result(every, members), levels, rounded=True)


def _level2(draft: Draft) -> dict[str, dict[str, object]]:
    response = draft.client.get(
        f"{API}/plans/{draft.id}/grids", params={"level": 2}, headers=draft.headers
    )
    return {f["id"]: f for f in response.json()["features"]}


@pytest.fixture
def draft(client: TestClient, login: Login, code: str) -> Draft:
    return Draft(client, login("planner"), code)


def test_a_reassign_redraws_the_micro_grids_of_both_grids_and_publishing_keeps_them(
    draft: Draft, client: TestClient, code: str, api_store: Engine
) -> None:
    assert draft_problems(api_store, draft.id, code) == []
    before = _level2(draft)
    shapes = draft.shapes()
    a, b = neighbours(shapes)[0]
    features = client.get(
        f"{API}/households", params={"community": code, "limit": 1000}, headers=draft.headers
    ).json()["features"]
    border = shapes[a].boundary.intersection(shapes[b].buffer(1e-7))
    in_a = [f for f in features if shapes[a].contains(shape(f["geometry"]))]
    building = min(in_a, key=lambda f: shape(f["geometry"]).distance(border))["properties"][
        "building_id"
    ]
    moved = sorted(f["id"] for f in features if f["properties"]["building_id"] == building)
    published_at = datetime.now(UTC)
    response = draft.edit({"op": "reassign", "to": b, "buildings": [building]})
    assert response.status_code == 200, response.text
    assert not [w for w in response.json()["validation"]["warnings"] if "micro" in w]

    after = _level2(draft)
    assert draft_problems(api_store, draft.id, code) == []
    parents = {c: f["properties"]["parent_code"] for c, f in after.items()}
    assert {a, b} <= set(parents.values())
    for c, f in before.items():  # the micro-grids of untouched grids are as they were
        if f["properties"]["parent_code"] not in (a, b):
            assert shape(after[c]["geometry"]).equals(shape(f["geometry"]))
    with session_scope(api_store) as session:
        _, members = plans.current_grids(session, draft.id)
    homes = {h: c for c, p in parents.items() for h in members[c]}
    assert {parents[homes[h]] for h in moved} == {b}

    response = client.post(
        f"{API}/plans/{draft.id}/publish",
        json={},
        headers={**draft.headers, "If-Match": draft.etag},
    )
    assert response.status_code == 200, response.text
    live = client.get(
        f"{API}/grids", params={"community": code, "level": 2, "limit": 1000}, headers=draft.headers
    ).json()
    assert {f["id"] for f in live["features"]} == set(after)
    now = client.get(f"{API}/households/{moved[0]}/grid", headers=draft.headers).json()
    then = client.get(
        f"{API}/households/{moved[0]}/grid",
        params={"as_of": published_at.isoformat()},
        headers=draft.headers,
    ).json()
    assert (now["grid"], now["microgrid"]) == (b, homes[moved[0]])
    assert then["grid"] == a
    assert before[then["microgrid"]]["properties"]["parent_code"] == a
