"""GET /locate: anonymous; the same grid from WGS 84, GCJ-02 and BD-09; 404 outside; as_of."""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from staffing_helpers import WORKERS, staff

from gridsvc.geo import wgs84_to_bd09, wgs84_to_gcj02
from gridsvc.store import repo, session_scope

URL = "/api/v1/locate"


def _plain_grids(engine: Engine, community: str) -> list[tuple[str, shapely.Point]]:
    """(code, an inside point) of every base grid not stacked on another."""
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=community, level=1)
    grids = grids[grids["floor_lo"].isna()]
    return [
        (str(c), g.point_on_surface()) for c, g in zip(grids["code"], grids.geometry, strict=True)
    ]


def test_the_three_crs_give_the_same_grid_for_the_same_place(
    client: TestClient, api_store: Engine, code: str
) -> None:
    grids = _plain_grids(api_store, code)
    assert len(grids) >= 3
    for grid, point in grids:
        inputs = {
            "wgs84": (point.x, point.y),
            "gcj02": tuple(float(v) for v in wgs84_to_gcj02(point.x, point.y)),
            "bd09": tuple(float(v) for v in wgs84_to_bd09(point.x, point.y)),
        }
        # the obfuscated datums move a point hundreds of metres here: a real conversion is needed
        assert abs(inputs["gcj02"][0] - point.x) > 0.001
        for crs, (lon, lat) in inputs.items():
            response = client.get(URL, params={"lon": lon, "lat": lat, "crs": crs})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["community"]["code"] == code
            assert body["grid"]["code"] == grid, (crs, grid)
            assert body["query"]["wgs84"] == pytest.approx([point.x, point.y], abs=1e-6)


def test_the_answer_holds_the_leaders_public_card_and_no_household_data(
    client: TestClient, api_store: Engine, code: str
) -> None:
    grid = staff(api_store, code, role="grid_member", leader_role="all_round_grid_leader")
    point = dict(_plain_grids(api_store, code))[grid]
    body = client.get(URL, params={"lon": point.x, "lat": point.y}).json()
    assert body["grid"]["code"] == grid
    name, phone = WORKERS["W2"]
    assert body["leader"] == {
        "name": name,
        "role": "all_round_grid_leader",
        "title": "全科网格长",
        "phone": phone,
    }
    # the volunteer W1 (grid_member) is a private person: not on the public card
    assert [c["name"] for c in body["contacts"]] == [name]
    assert body["microgrid"]["code"].startswith(grid)
    assert "households" not in body and "H0" not in str(body)


def test_as_of_resolves_the_grids_of_that_day(
    client: TestClient, api_store: Engine, code: str
) -> None:
    grid, point = _plain_grids(api_store, code)[0]
    params = {"lon": point.x, "lat": point.y}
    now = client.get(URL, params={**params, "as_of": "2100-01-01T00:00:00Z"}).json()
    assert now["grid"]["code"] == grid
    before = client.get(URL, params={**params, "as_of": "2000-01-01T00:00:00Z"})
    assert before.status_code == 200
    assert before.json()["community"]["code"] == code
    assert before.json()["grid"] is None


def test_outside_every_community_is_a_clear_404(client: TestClient) -> None:
    response = client.get(URL, params={"lon": 116.39, "lat": 39.9})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "no community covers lon 116.3900000, lat 39.9000000" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 111.06, "lat": 35.05, "crs": "wgs-72"}, "crs"),
        ({"lon": 35.05, "lat": 111.06}, "lat"),
        ({"lat": 35.05}, "lon"),
        ({"lon": 111.06, "lat": 35.05, "as_of": "yesterday"}, "as_of"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
