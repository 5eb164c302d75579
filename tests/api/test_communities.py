"""The HTTP API over both store back-ends."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.ingest import import_file, load_frame
from gridsvc.store import session_scope
from gridsvc.workflows import FIXTURES, partition_community

VILLAGE = FIXTURES / "village"


@pytest.fixture
def client(store: Engine, store_url: str) -> TestClient:
    with session_scope(store) as session:
        import_file(session, VILLAGE / "community.geojson", kind="communities")
        import_file(session, VILLAGE / "buildings.geojson", kind="buildings")
        import_file(session, VILLAGE / "households.geojson", kind="households")
        code = str(load_frame(VILLAGE / "community.geojson", kind="communities")["code"][0])
        partition_community(session, code, settings=load_settings())
    app = create_app(load_settings(database_url=store_url))
    app.state.engine = store
    return TestClient(app)


def test_health_counts_what_the_store_holds(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["counts"]["communities"] == 1
    assert body["counts"]["households"] > 0


def test_grids_are_geojson_with_stable_ids(client: TestClient) -> None:
    code = client.get("/api/v1/communities").json()["features"][0]["id"]
    response = client.get(f"/api/v1/communities/{code}/grids")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    features = response.json()["features"]
    assert features and all(f["id"].startswith(code) and len(f["id"]) == 15 for f in features)
    micro = client.get(f"/api/v1/communities/{code}/grids", params={"level": 2}).json()
    assert all(len(f["id"]) == 17 for f in micro["features"])


def test_unknown_community_is_a_problem_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/communities/999999999999/grids")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "community 999999999999 is not in the store"
