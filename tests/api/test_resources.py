"""Resources: paging with next links, community and bbox filters, clear 4xx on bad queries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from seeded import Login

API = "/api/v1"


def test_households_page_with_next_links_covering_each_once(
    client: TestClient, login: Login, code: str
) -> None:
    headers = login("planner")
    url: str | None = f"{API}/households?community={code}&limit=70"
    seen: list[str] = []
    while url:
        body = client.get(url, headers=headers).json()
        assert body["numberReturned"] == len(body["features"]) <= 70
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == body["numberMatched"] == 300


def test_limit_above_the_maximum_is_a_422_naming_limit(client: TestClient, login: Login) -> None:
    response = client.get(f"{API}/households", params={"limit": 5000}, headers=login("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "limit"


def test_bbox_keeps_what_it_touches(client: TestClient, login: Login, code: str) -> None:
    headers = login("admin")
    every = client.get(f"{API}/households", params={"limit": 1000}, headers=headers).json()
    lon, lat = every["features"][0]["geometry"]["coordinates"]
    box = f"{lon - 1e-4},{lat - 1e-4},{lon + 1e-4},{lat + 1e-4}"
    some = client.get(
        f"{API}/households", params={"bbox": box, "limit": 1000}, headers=headers
    ).json()
    assert 0 < some["numberMatched"] < every["numberMatched"]
    for f in some["features"]:
        x, y = f["geometry"]["coordinates"]
        assert lon - 1e-4 <= x <= lon + 1e-4 and lat - 1e-4 <= y <= lat + 1e-4
    grids = client.get(f"{API}/grids", params={"bbox": box, "level": 1}, headers=headers).json()
    assert 1 <= grids["numberMatched"] <= 2


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ("1,2,3", "must be four numbers"),
        ("a,b,c,d", "must be four numbers"),
        ("35,111,36,112", "lat/lon swapped"),
        ("112,35,111,36", "min lon <= max lon"),
    ],
)
def test_malformed_bbox_is_a_422_naming_bbox(
    client: TestClient, login: Login, bbox: str, match: str
) -> None:
    response = client.get(f"{API}/buildings", params={"bbox": bbox}, headers=login("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "bbox"
    assert match in response.json()["detail"]


def test_every_resource_is_geojson(client: TestClient, login: Login, code: str) -> None:
    headers = login("admin")
    for path, key_len in (
        ("/buildings", None),
        ("/grids?level=1", 15),
        ("/micro-grids", 17),
        ("/communities", 12),
    ):
        response = client.get(API + path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/geo+json"
        features = response.json()["features"]
        assert features, path
        if key_len:
            assert all(len(f["id"]) == key_len for f in features), path
    layers = client.get(f"{API}/layers", headers=headers).json()
    assert layers and all(layer["grids"] > 0 for layer in layers)
    name = layers[0]["name"]
    grids = client.get(f"{API}/layers/{name}/grids", headers=headers).json()
    assert grids["numberMatched"] == layers[0]["grids"]
    assert client.get(f"{API}/layers/nope/grids", headers=headers).status_code == 404
    assert client.get(f"{API}/grids/{code}999", headers=headers).status_code == 404
