"""GET /me/assignments: a worker's grids, roles, micro-grids and households; ETag/304; gzip;
personal numbers masked unless the staffing role needs them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from seeded import Login
from sqlalchemy.engine import Engine
from staffing_helpers import staff

from gridsvc.store import repo, session_scope

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
