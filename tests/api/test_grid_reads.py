"""Published grid reads: ETag and 304 on ``/grids``; a household's grid by a keyed read."""

from __future__ import annotations

from fastapi.testclient import TestClient
from seeded import Login
from sqlalchemy.engine import Engine
from test_plans import Draft, neighbours

from gridsvc.planning import assign_households, grid_of_household
from gridsvc.store import repo, session_scope

API = "/api/v1"


def test_grids_carry_an_etag_answering_304_until_they_change(
    client: TestClient, login: Login, code: str
) -> None:
    headers = login("planner")
    params = {"community": code, "level": 1}
    first = client.get(f"{API}/grids", params=params, headers=headers)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    same = client.get(f"{API}/grids", params=params, headers={**headers, "If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["ETag"]) == (304, b"", etag)
    weak = {**headers, "If-None-Match": f'"other", W/{etag}'}
    assert client.get(f"{API}/grids", params=params, headers=weak).status_code == 304
    other = client.get(f"{API}/grids", params={**params, "level": 2}, headers=headers)
    assert other.status_code == 200 and other.headers["ETag"] != etag
    stale = {**headers, "If-None-Match": '"not-it"'}
    assert client.get(f"{API}/grids", params=params, headers=stale).status_code == 200

    draft = Draft(client, headers, code)
    a, b = neighbours(draft.shapes())[0]
    assert draft.edit({"op": "merge", "grids": [a, b]}).status_code == 200
    merged = set(draft.shapes())
    published = client.post(
        f"{API}/plans/{draft.id}/publish", json={}, headers={**headers, "If-Match": draft.etag}
    )
    assert published.status_code == 200, published.text
    changed = client.get(f"{API}/grids", params=params, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert {f["id"] for f in changed.json()["features"]} == merged


def test_grid_of_household_agrees_with_a_full_scan(api_store: Engine, code: str) -> None:
    with session_scope(api_store) as session:
        households = repo.read(session, "households", community=code)
        grids = repo.read(session, "grids", community=code)
        expected = {
            level: assign_households(households, grids[grids["level"] == level].reset_index())
            for level in (1, 2)
        }
        for i in range(0, len(households), 7):
            hid = str(households["id"].iloc[i])
            got = grid_of_household(session, hid)
            assert (got["grid"], got["microgrid"]) == (expected[1].iloc[i], expected[2].iloc[i])


def test_keyed_read_returns_only_that_household(api_store: Engine, code: str) -> None:
    with session_scope(api_store) as session:
        everyone = repo.read(session, "households", community=code)
        wanted = [str(everyone["id"].iloc[3]), str(everyone["id"].iloc[0])]
        got = repo.read(session, "households", ids=wanted)
        assert sorted(got["id"]) == sorted(wanted)
        assert repo.read(session, "households", ids=["no-such-household"]).empty
