"""Draft plans: editing with versions and validation, ETags, publishing and ``as_of``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from seeded import PASSWORD, Login
from served import served
from shapely.geometry import mapping, shape
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

API = "/api/v1"


class Draft:
    """A draft of the village opened by ``planner``, tracking its ETag."""

    def __init__(self, client: TestClient, headers: dict[str, str], code: str) -> None:
        self.client, self.headers = client, headers
        response = client.post(
            f"{API}/communities/{code}/plans", json={"name": "t"}, headers=headers
        )
        assert response.status_code == 201, response.text
        self.id, self.etag = response.json()["id"], response.headers["ETag"]

    def grids(self) -> dict[str, Any]:
        response = self.client.get(
            f"{API}/plans/{self.id}/grids", params={"level": 1}, headers=self.headers
        )
        assert response.headers["ETag"] == self.etag
        return {f["id"]: f for f in response.json()["features"]}

    def shapes(self) -> dict[str, shapely.Geometry]:
        return {c: shape(f["geometry"]) for c, f in self.grids().items()}

    def edit(self, body: dict[str, Any], etag: str | None = "") -> Any:
        headers = dict(self.headers)
        if etag is not None:
            headers["If-Match"] = etag or self.etag
        response = self.client.post(f"{API}/plans/{self.id}/edits", json=body, headers=headers)
        if response.status_code == 200:
            self.etag = response.headers["ETag"]
        return response


@pytest.fixture
def draft(client: TestClient, login: Login, code: str) -> Draft:
    return Draft(client, login("planner"), code)


def neighbours(shapes: dict[str, shapely.Geometry]) -> list[tuple[str, str]]:
    """Pairs of grid codes whose shapes share a border (shared by the other plan tests)."""
    codes = sorted(shapes)
    return [
        (a, b)
        for a in codes
        for b in codes
        if a < b and shapes[a].buffer(1e-7).intersection(shapes[b]).length > 1e-4
    ]


def _households(client: TestClient, headers: dict[str, str], code: str) -> dict[str, Any]:
    features = client.get(
        f"{API}/households", params={"community": code, "limit": 1000}, headers=headers
    ).json()["features"]
    return {f["id"]: shape(f["geometry"]) for f in features}


def test_a_draft_copies_the_published_grids_with_an_etag(
    draft: Draft, client: TestClient, login: Login, code: str
) -> None:
    published = client.get(
        f"{API}/grids", params={"community": code, "level": 1}, headers=login("admin")
    ).json()
    assert set(draft.grids()) == {f["id"] for f in published["features"]}
    assert draft.etag == f'"plan-{draft.id}-r1"'


def test_merge_makes_new_versions_and_keeps_coverage(draft: Draft, client: TestClient) -> None:
    shapes = draft.shapes()
    a, b = neighbours(shapes)[0]
    response = draft.edit({"op": "merge", "grids": [b, a]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] == [a] and body["removed"] == [b]
    assert body["validation"]["errors"] == []
    after = draft.shapes()
    assert b not in after
    assert after[a].symmetric_difference(shapes[a].union(shapes[b])).area < 1e-12
    history = client.get(f"{API}/plans/{draft.id}/grids/{a}/history", headers=draft.headers).json()
    assert [v["version"] for v in history] == [1, 2]
    diff = client.get(
        f"{API}/plans/{draft.id}/grids/{a}/diff", params={"from": 1, "to": 2}, headers=draft.headers
    ).json()
    assert shape(diff["gained"]).symmetric_difference(shapes[b]).area < 1e-12
    assert diff["lost"] is None


def test_redraw_moves_households_and_neighbours_lose_exactly_that_territory(
    draft: Draft, client: TestClient, code: str
) -> None:
    shapes = draft.shapes()
    points = _households(client, draft.headers, code)
    a, b, grab = next(
        (a, b, grab)
        for a, b in neighbours(shapes)
        for grab in [shapes[b].intersection(shapes[a].buffer(0.0004))]
        if sum(grab.contains(p) for p in points.values()) >= 3
    )
    polygon = shapes[a].union(grab)
    response = draft.edit({"op": "redraw", "grid": a, "geometry": mapping(polygon)})
    assert response.status_code == 200, response.text
    assert response.json()["validation"]["errors"] == []
    after = draft.shapes()
    # within ~1 m² (1e-10 deg²): GeoJSON rounds coordinates to 7 decimals (~1 cm)
    assert after[a].symmetric_difference(polygon).area < 1e-10
    assert after[b].symmetric_difference(shapes[b].difference(polygon)).area < 1e-10
    union = shapely.union_all(list(after.values()), grid_size=1e-8)
    whole = shapely.union_all(list(shapes.values()), grid_size=1e-8)
    assert union.symmetric_difference(whole).area < 1e-10
    grids = draft.grids()
    moved = [h for h, p in points.items() if grab.contains(p)]
    assert moved, "the grabbed strip holds households"
    assert grids[a]["properties"]["households"] + grids[b]["properties"]["households"] == (
        sum(1 for p in points.values() if (shapes[a].union(shapes[b])).covers(p))
    )
    # revert: grid a gets its first boundary back, b its territory
    response = draft.edit({"op": "revert", "grid": a, "version": 1})
    assert response.status_code == 200, response.text
    reverted = draft.shapes()
    assert reverted[a].symmetric_difference(shapes[a]).area < 1e-10
    assert reverted[b].symmetric_difference(shapes[b]).area < 1e-10


def test_an_edit_that_breaks_contiguity_is_refused_and_changes_nothing(draft: Draft) -> None:
    shapes = draft.shapes()
    a = sorted(shapes)[0]
    far = max(shapes, key=lambda c: shapes[c].centroid.distance(shapes[a].centroid))
    island = shapes[far].centroid.buffer(0.0001)
    response = draft.edit(
        {"op": "redraw", "grid": a, "geometry": mapping(shapely.MultiPolygon([shapes[a], island]))}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "geometry"
    assert any("not one connected polygon" in e for e in body["validation"]["errors"])
    assert draft.etag.endswith('-r1"')
    assert draft.shapes().keys() == shapes.keys()


def test_split_appends_a_new_code(draft: Draft) -> None:
    shapes = draft.shapes()
    for code, geom in sorted(shapes.items()):
        x0, _, x1, _ = geom.bounds
        cy = geom.centroid.y
        line = {"type": "LineString", "coordinates": [[x0 - 0.001, cy], [x1 + 0.001, cy]]}
        response = draft.edit({"op": "split", "grid": code, "line": line})
        if response.status_code == 200:
            break
        assert "pieces" in response.json()["detail"]
    else:
        pytest.fail("no grid could be split in two by a horizontal line")
    new = max(shapes)[:-3] + f"{int(max(shapes)[-3:]) + 1:03d}"
    assert response.json()["changed"] == [code, new]
    after = draft.shapes()
    assert after[code].union(after[new]).symmetric_difference(shapes[code]).area < 1e-10


def test_reassign_a_building_moves_its_households_and_territory(
    draft: Draft, client: TestClient, code: str
) -> None:
    shapes = draft.shapes()
    points = _households(client, draft.headers, code)
    features = client.get(
        f"{API}/households", params={"community": code, "limit": 1000}, headers=draft.headers
    ).json()["features"]
    a, b = neighbours(shapes)[0]
    border = shapes[a].boundary.intersection(shapes[b].buffer(1e-7))
    in_a = [f for f in features if shapes[a].contains(shape(f["geometry"]))]
    nearest = min(in_a, key=lambda f: shape(f["geometry"]).distance(border))
    building = nearest["properties"]["building_id"]
    ids = {f["id"] for f in features if f["properties"]["building_id"] == building}
    response = draft.edit({"op": "reassign", "to": b, "buildings": [building]})
    assert response.status_code == 200, response.text
    after = draft.shapes()
    assert all(after[b].covers(points[h]) for h in ids)
    assert not any(after[a].contains(points[h]) for h in ids)
    assert (after[a].area + after[b].area) == pytest.approx(shapes[a].area + shapes[b].area)


def test_stale_or_missing_if_match_is_refused(
    draft: Draft, client: TestClient, login: Login
) -> None:
    a, b = neighbours(draft.shapes())[0]
    first = draft.etag
    assert draft.edit({"op": "merge", "grids": [a, b]}, etag=None).status_code == 428
    admin = dict(login("admin"), **{"If-Match": first})
    ok = client.post(
        f"{API}/plans/{draft.id}/edits", json={"op": "merge", "grids": [a, b]}, headers=admin
    )
    assert ok.status_code == 200
    stale = draft.edit({"op": "merge", "grids": [a, b]}, etag=first)
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert "changed since you read it" in stale.json()["detail"]


@pytest.mark.parametrize(
    ("geometry", "match"),
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}, "4 or more positions"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [500, 0], [1, 1], [0, 0]]]}, "outside lon"),
        ({"type": "Point", "coordinates": [111.0, 35.0]}, "expected a Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": "x"}, "nested wrongly"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "Self-intersection",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[35.05, 111.06], [35.06, 111.06], [35.06, 111.07], [35.05, 111.06]]
                ],
            },
            "outside lon",
        ),
    ],
)
def test_malformed_geometry_is_a_422_naming_the_field(
    draft: Draft, geometry: dict[str, Any], match: str
) -> None:
    a = sorted(draft.shapes())[0]
    response = draft.edit({"op": "redraw", "grid": a, "geometry": geometry})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "geometry"
    assert match in body["detail"]


def test_wrong_crs_is_a_clear_422_and_declared_gcj02_is_converted(draft: Draft) -> None:
    from gridsvc.geo import wgs84_to_gcj02

    shapes = draft.shapes()
    a = sorted(shapes)[0]
    shifted = shapely.affinity.translate(shapes[a], xoff=0.5)
    response = draft.edit({"op": "redraw", "grid": a, "geometry": mapping(shifted)})
    assert response.status_code == 422
    assert "km from the community; check its CRS" in response.json()["detail"]
    gcj = shapely.transform(
        shapes[a], lambda xy: __import__("numpy").column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    response = draft.edit({"op": "redraw", "grid": a, "geometry": mapping(gcj), "crs": "gcj02"})
    assert response.status_code == 200, response.text
    assert draft.shapes()[a].symmetric_difference(shapes[a]).area < 1e-10


def test_publish_stamps_the_date_and_as_of_answers_the_old_grid(
    draft: Draft, client: TestClient, code: str
) -> None:
    before = datetime.now(UTC)
    shapes = draft.shapes()
    a, b = neighbours(shapes)[0]
    assert draft.edit({"op": "merge", "grids": [a, b]}).status_code == 200
    moved = next(
        h for h, p in _households(client, draft.headers, code).items() if shapes[b].contains(p)
    )
    response = client.post(
        f"{API}/plans/{draft.id}/publish",
        json={},
        headers={**draft.headers, "If-Match": draft.etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"
    assert response.json()["effective_from"] is not None
    now = client.get(f"{API}/households/{moved}/grid", headers=draft.headers).json()
    then = client.get(
        f"{API}/households/{moved}/grid",
        params={"as_of": before.isoformat()},
        headers=draft.headers,
    ).json()
    assert (now["grid"], then["grid"]) == (a, b)
    old = client.get(
        f"{API}/grids",
        params={"community": code, "level": 1, "as_of": before.isoformat()},
        headers=draft.headers,
    ).json()
    assert {f["id"] for f in old["features"]} == set(shapes)
    again = client.post(
        f"{API}/plans/{draft.id}/edits",
        json={"op": "merge", "grids": [a, a]},
        headers={**draft.headers, "If-Match": response.headers["ETag"]},
    )
    assert again.status_code == 422
    assert "only drafts change" in again.json()["detail"]


def test_every_edit_is_audited(draft: Draft, client: TestClient, login: Login) -> None:
    a, b = neighbours(draft.shapes())[0]
    assert draft.edit({"op": "merge", "grids": [a, b]}).status_code == 200
    log = client.get(
        f"{API}/audit", params={"target": f"plan/{draft.id}"}, headers=login("admin")
    ).json()
    assert [e["action"] for e in log["items"]] == ["plan.edit.merge", "plan.create"]
    assert log["items"][0]["user"] == "planner"
    assert log["items"][0]["after"]["removed"] == [b]


def test_a_huge_payload_is_a_413(draft: Draft) -> None:
    ring = [[111.0 + i * 1e-7, 35.0] for i in range(20_000)]
    response = draft.edit(
        {
            "op": "redraw",
            "grid": sorted(draft.shapes())[0],
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    )
    assert response.status_code == 413
    assert "exceeds 200000 bytes" in response.json()["detail"]


def test_a_write_is_committed_before_its_answer_and_a_failed_commit_is_the_answer(
    client: TestClient, login: Login, code: str
) -> None:
    """On a real server the answer to a write leaves after its commit: a commit that fails is
    what the client gets (503, not 201) and nothing is stored. With FastAPI's default scope the
    session ended after the answer was sent: 201 for a plan stored later, or never (the
    editor's GET of the new draft right after found none, 404, on a loaded machine)."""
    app = client.app
    engine = app.state.engine  # type: ignore[attr-defined]

    def refuse(_conn: Any) -> None:  # as a server gone at the commit
        raise OperationalError("COMMIT", {}, Exception("the commit failed"))

    with served(app, "planner", PASSWORD) as http:  # type: ignore[arg-type]
        before = http.get(f"{API}/communities/{code}/plans").json()
        event.listen(engine, "commit", refuse)
        try:
            failed = http.post(f"{API}/communities/{code}/plans", json={"name": "t"})
        finally:
            event.remove(engine, "commit", refuse)
        assert failed.status_code == 503, failed.text
        assert "the commit failed" in failed.json()["detail"]
        assert http.get(f"{API}/communities/{code}/plans").json() == before
        created = http.post(f"{API}/communities/{code}/plans", json={"name": "t"})
        assert created.status_code == 201
        plan = http.get(f"{API}/plans/{created.json()['id']}")
    assert plan.status_code == 200 and plan.json()["id"] == created.json()["id"]
