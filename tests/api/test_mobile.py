"""GET /me/assignments: a worker's grids, roles, micro-grids and households; ETag/304; gzip;
personal numbers masked unless the staffing role needs them; the per-process answer cache
never serves an answer older than the store."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeded import Login
from sqlalchemy import text
from sqlalchemy.engine import Engine
from staffing_helpers import staff
from test_plans import Draft, neighbours

from gridsvc.api.worker_sync import body, version
from gridsvc.store import make_engine, repo, session_scope
from gridsvc.store.users import get_user

URL = "/api/v1/me/assignments"
PHONE_MASK = re.compile(r"^\d{3}\*{4}\d{4}$")
ID_MASK = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")


def _households(engine: Engine, community: str) -> dict[str, dict[str, str]]:
    with session_scope(engine) as session:
        frame = repo.read(session, "households", community=community)
    return {
        str(r.id): {"phone": str(r.phone), "id_number": str(r.id_number)}
        for r in frame.itertuples()
    }


def test_a_worker_gets_his_grid_roles_microgrids_and_households(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    grid = staff(api_store, code, role="all_round_grid_leader")
    response = client.get(URL, headers=login("worker"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["worker"] == {"username": "worker", "worker_id": "W1"}
    assert [a["grid"] for a in body["assignments"]] == [grid]
    assert [f["id"] for f in body["grids"]["features"]] == [grid]
    feature = body["grids"]["features"][0]
    assert feature["properties"]["roles"] == ["all_round_grid_leader"]
    micro = body["microgrids"]["features"]
    assert micro and {f["properties"]["parent_code"] for f in micro} == {grid}
    table = body["households"]
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    assert len(rows) == feature["properties"]["households"] > 0
    assert {r["grid"] for r in rows} == {grid}
    assert {r["microgrid"] for r in rows} <= {f["id"] for f in micro}
    stored = _households(api_store, code)
    assert all(r["id"] in stored and r["visit_cadence"] for r in rows)
    # simplified geometry: never more vertices than stored
    with session_scope(api_store) as session:
        full = repo.read(session, "grids", community=code, level=1)
    stored_ring = full[full["code"] == grid].geometry.iloc[0].exterior.coords
    assert len(feature["geometry"]["coordinates"][0]) <= len(stored_ring)


def test_etag_round_trip_gives_304_until_the_assignments_change(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    staff(api_store, code, role="grid_member")
    headers = login("worker")
    first = client.get(URL, headers=headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    again = client.get(URL, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    staff(api_store, code, role="all_round_grid_leader")
    changed = client.get(URL, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_gzip_on_request_and_its_etag_revalidates(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    staff(api_store, code, role="grid_member")
    headers = {**login("worker"), "Accept-Encoding": "gzip"}
    response = client.get(URL, headers=headers)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json()["households"]["rows"]
    plain = client.get(URL, headers={**login("worker"), "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert len(response.content) == len(plain.content)  # httpx decoded the gzip body
    assert response.headers["ETag"] != plain.headers["ETag"]
    for etag in (response.headers["ETag"], plain.headers["ETag"]):
        again = client.get(URL, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304


@pytest.mark.parametrize(
    ("role", "phone_full", "id_full"),
    [
        ("grid_member", False, False),
        ("all_round_grid_leader", True, False),
        ("police_grid_leader", True, True),
    ],
)
def test_personal_numbers_are_masked_unless_the_role_needs_them(
    client: TestClient,
    login: Login,
    api_store: Engine,
    code: str,
    role: str,
    phone_full: bool,
    id_full: bool,
) -> None:
    staff(api_store, code, role=role, leader_role="all_round_grid_leader")
    body = client.get(URL, headers=login("worker")).json()
    columns = body["households"]["columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in body["households"]["rows"]]
    stored = _households(api_store, code)
    assert rows
    for row in rows:
        phone, id_number = stored[row["id"]]["phone"], stored[row["id"]]["id_number"]
        if phone_full:
            assert row["phone"] == phone
        else:
            assert PHONE_MASK.match(row["phone"]), row["phone"]
            assert row["phone"][:3] == phone[:3] and row["phone"][-4:] == phone[-4:]
        if id_full:
            assert row["id_number"] == id_number
        else:
            assert ID_MASK.match(row["id_number"]), row["id_number"]
            assert row["id_number"][-4:] == id_number[-4:]


@pytest.mark.parametrize(("account", "full"), [("admin", True), ("planner", False)])
def test_household_listing_masks_for_planners_not_admins(
    client: TestClient, login: Login, api_store: Engine, code: str, account: str, full: bool
) -> None:
    stored = _households(api_store, code)
    response = client.get(
        "/api/v1/households", params={"community": code, "limit": 50}, headers=login(account)
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert len(features) == 50
    for f in features:
        props = f["properties"]
        truth = stored[props["id"]]
        assert (props["phone"] == truth["phone"]) is full
        assert (props["id_number"] == truth["id_number"]) is full
        if not full:
            assert PHONE_MASK.match(props["phone"]) and ID_MASK.match(props["id_number"])


def test_only_workers_have_assignments_to_fetch(client: TestClient, login: Login) -> None:
    response = client.get(URL, headers=login("planner"))
    assert response.status_code == 403
    assert "for grid workers; account 'planner' is a planner" in response.json()["detail"]
    assert client.get(URL).status_code == 401


# --- the answer cache -------------------------------------------------------------------------


def _fresh(engine: Engine, username: str) -> Any:
    """Build the account's answer from the store now, bypassing every cache."""
    with session_scope(engine) as session:
        user = get_user(session, username)
        assert user is not None
        assignments, _ = version(session, user)
        return json.loads(body(session, user, assignments))


def _rows(answer: Any) -> list[dict[str, Any]]:
    table = answer["households"]
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def test_a_repeat_or_a_revalidation_is_answered_from_the_cache(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    staff(api_store, code, role="grid_member")
    headers = {**login("worker"), "Accept-Encoding": "gzip"}
    cache = client.app.state.assignments_cache  # type: ignore[attr-defined]
    first = client.get(URL, headers=headers)
    built = cache.misses
    again = client.get(URL, headers=headers)
    revalidated = client.get(URL, headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert (again.status_code, revalidated.status_code) == (200, 304)
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert cache.misses == built and cache.hits >= 2


def test_a_cached_answer_is_never_served_after_a_change(
    client: TestClient, login: Login, api_store: Engine, store_url: str, code: str
) -> None:
    """Each change, written through another engine (as another process would), is in the
    very next answer, which always equals one built from scratch; masking follows the role."""
    grid = staff(api_store, code, role="grid_member")
    headers = login("worker")
    cache = client.app.state.assignments_cache  # type: ignore[attr-defined]

    def fetch() -> Any:
        response = client.get(URL, headers=headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer == _fresh(api_store, "worker")
        return answer

    first = fetch()
    assert all(PHONE_MASK.match(r["phone"]) for r in _rows(first))
    other = make_engine(store_url)
    try:
        # staffing: the worker becomes the police grid leader and reads numbers in full
        staff(other, code, role="police_grid_leader", leader_role="grid_member")
        promoted = fetch()
        stored = _households(api_store, code)
        assert _rows(promoted) and all(
            r["phone"] == stored[r["id"]]["phone"]
            and r["id_number"] == stored[r["id"]]["id_number"]
            for r in _rows(promoted)
        )
        # a household of his grid changes
        target = _rows(promoted)[0]["id"]
        with session_scope(other) as session:
            row = repo.read(session, "households", ids=[target])
            repo.upsert(session, "households", row.assign(care_tags="独居老人;test"))
        edited = fetch()
        assert {r["id"]: r["care_tags"] for r in _rows(edited)}[target] == "独居老人;test"
        # a write in another community leaves his answer cached
        hits = cache.hits
        with session_scope(other) as session:
            elsewhere = repo.read(session, "households", ids=[target])
            elsewhere = elsewhere.assign(id="elsewhere-1", community_code="110101001001")
            repo.upsert(session, "households", elsewhere)
        assert fetch() == edited and cache.hits == hits + 1
        # his grid is merged with a neighbour in a published plan
        draft = Draft(client, login("planner"), code)
        shapes = draft.shapes()
        pair = next(p for p in neighbours(shapes) if grid in p)
        assert draft.edit({"op": "merge", "grids": list(pair)}).status_code == 200
        published = client.post(
            f"/api/v1/plans/{draft.id}/publish",
            json={},
            headers={**draft.headers, "If-Match": draft.etag},
        )
        assert published.status_code == 200, published.text
        assert fetch() != edited
        # his account is moved to another grid
        elsewhere_grid = next(c for c in sorted(shapes) if c not in pair)  # untouched
        with other.begin() as conn:
            conn.execute(
                text("UPDATE users SET scope = :scope WHERE username = 'worker'"),
                {"scope": elsewhere_grid},
            )
        moved = fetch()
        assert [f["id"] for f in moved["grids"]["features"]] == [elsewhere_grid]
        assert all(PHONE_MASK.match(r["phone"]) for r in _rows(moved))  # no role there
    finally:
        other.dispose()
