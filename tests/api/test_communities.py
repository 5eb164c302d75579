"""Communities and their grids over both store back-ends."""

from __future__ import annotations

from fastapi.testclient import TestClient
from seeded import Login


def test_health_counts_what_the_store_holds(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["counts"]["communities"] == 1
    assert body["counts"]["households"] > 0


def test_grids_are_geojson_with_stable_ids(client: TestClient, login: Login, code: str) -> None:
    auth = login("admin")
    assert client.get("/api/v1/communities", headers=auth).json()["features"][0]["id"] == code
    response = client.get(f"/api/v1/communities/{code}/grids", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    features = response.json()["features"]
    assert features and all(f["id"].startswith(code) and len(f["id"]) == 15 for f in features)
    micro = client.get(f"/api/v1/communities/{code}/grids", params={"level": 2}, headers=auth)
    assert all(len(f["id"]) == 17 for f in micro.json()["features"])


def test_unknown_community_is_a_problem_json_404(client: TestClient, login: Login) -> None:
    response = client.get("/api/v1/communities/999999999999/grids", headers=login("admin"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "community 999999999999 is not in the store"
