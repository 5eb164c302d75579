"""Map views without a browser: colouring, datums, personal data by role, assets, the CLI."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from seeded import CODE, Login
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from gridsvc.cli import app
from gridsvc.config import GridBounds, load_settings
from gridsvc.errors import InputError, NotFoundError
from gridsvc.geo import feature_collection, wgs84_to_gcj02
from gridsvc.render import page_html
from gridsvc.render.assets import ROOT, assets_dir, split_vendor_path, vendor_file
from gridsvc.render.colours import STACKED, TOUCH_DEGREES, grid_colours
from gridsvc.render.views import community_view
from gridsvc.store import repo, session_scope

runner = CliRunner()


def _layer(fmap: folium.Map, name: str) -> dict[str, Any]:
    found = [c.data for c in fmap._children.values() if getattr(c, "layer_name", None) == name]
    assert len(found) == 1, f"layer {name!r} not on the map"
    data: dict[str, Any] = found[0]
    return data


def _assert_touching_differ(frame: gpd.GeoDataFrame, colours: list[str]) -> int:
    """Check every pair of touching shapes (brute force) has two colours; return the pairs.

    Stacked shapes (micro-grids splitting one unit by floors) share a footprint and are exempt.
    """
    pairs = 0
    for i, j in combinations(range(len(frame)), 2):
        a, b = frame.geometry.iloc[i], frame.geometry.iloc[j]
        stacked = a.intersection(b).area > STACKED * min(a.area, b.area)
        if shapely.distance(a, b) <= TOUCH_DEGREES and not stacked:
            pairs += 1
            assert colours[i] != colours[j], f"rows {i} and {j} touch and share {colours[i]}"
    return pairs


def test_a_3x3_block_needs_four_colours_and_neighbours_differ() -> None:
    """
    +---+---+---+   nine unit squares: the centre touches all eight others,
    | 0 | 1 | 2 |   corners touch at a point too (which counts as touching),
    +---+---+---+   so no two of the four squares around any inner vertex
    | 3 | 4 | 5 |   may share a colour.
    +---+---+---+
    | 6 | 7 | 8 |
    +---+---+---+
    """
    squares = [shapely.box(x, -y, x + 1, -y + 1) for y in range(3) for x in range(3)]
    frame = gpd.GeoDataFrame(geometry=squares, crs="EPSG:4326")
    colours = grid_colours(frame, bands=["within"] * 9)
    assert _assert_touching_differ(frame, colours) == 20  # 12 edges + 8 corner touches
    assert len(set(colours)) == 4


def test_store_grids_and_micro_grids_never_share_a_colour_with_a_neighbour(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=CODE)
    for level, frame in grids.groupby("level"):
        frame = frame.reset_index(drop=True)
        bands = ["within"] * len(frame) if level == 1 else None
        assert _assert_touching_differ(frame, grid_colours(frame, bands=bands)) >= len(frame) - 1


def test_amap_page_carries_gcj02_coordinates_and_osm_page_wgs84(engine: Engine) -> None:
    settings = load_settings()
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=CODE, level=1)
        amap = community_view(session, CODE, settings=settings, tiles="amap")
        osm = community_view(session, CODE, settings=settings, tiles="osm")
    stored = feature_collection(grids)["features"]
    name = "base grids (households vs bounds)"
    for fmap, shifted in ((amap, True), (osm, False)):
        drawn = {f["properties"]["code"]: f for f in _layer(fmap, name)["features"]}
        assert sorted(drawn) == sorted(grids["code"])
        for feature in stored:
            ring = np.array(feature["geometry"]["coordinates"][0])
            got = np.array(drawn[feature["properties"]["code"]]["geometry"]["coordinates"][0])
            want = np.column_stack(wgs84_to_gcj02(ring[:, 0], ring[:, 1])) if shifted else ring
            assert got.shape == want.shape
            assert np.abs(got - want).max() < 1e-6
            # GCJ-02 sits hundreds of metres off WGS 84 in China: the shift is real
            assert (np.abs(got - ring).max() > 1e-3) == shifted


def test_tianditu_without_a_key_is_a_clear_error(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(InputError, match="GRIDSVC_TIANDITU_KEY"):
        community_view(session, CODE, settings=load_settings(), tiles="tianditu")


def _phones(engine: Engine) -> list[str]:
    from gridsvc.store.assignments import read_assignments

    with session_scope(engine) as session:
        plan = read_assignments(session, community=CODE)
        workers = repo.read(session, "workers")
    phones = workers[workers["id"].isin(plan["worker_id"])]["phone"].dropna().astype(str)
    return [p for p in phones if p]


def _popups(html: str) -> list[str]:
    """Every popup text of the page's GeoJSON layers (folium writes them JSON-escaped)."""
    found = re.findall(r'"popup": "((?:[^"\\]|\\.)*)"', html)
    return [json.loads(f'"{raw}"') for raw in found]


def _care_ids(html: str) -> set[str]:
    """Household ids of the care-household popups on the page."""
    return {re.sub(r"^<b>([^<]+)</b>.*", r"\1", p) for p in _popups(html) if "<br>visits:" in p}


def test_planner_sees_care_households_and_phones_worker_neither_phones_nor_others(
    client: TestClient, login: Login, engine: Engine
) -> None:
    url = f"/api/v1/communities/{CODE}/map"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=login("outsider")).status_code == 403
    planner = client.get(url, headers=login("planner"))
    assert planner.status_code == 200, planner.text
    assert planner.headers["content-type"].startswith("text/html")
    phones = _phones(engine)
    assert phones, "the staffed store has workers with phone numbers"
    assert all(p in planner.text for p in phones)
    assert any("全科网格长: " in p for p in _popups(planner.text))
    with session_scope(engine) as session:
        homes = repo.read(session, "households", community=CODE)
        worker_grid = repo.read(session, "grids", community=CODE, level=1)["code"].iloc[0]
        grid = repo.read(session, "grids", community=CODE, level=1)
    care = set(homes[homes["care_tags"].fillna("") != ""]["id"])
    assert care and _care_ids(planner.text) == care
    worker = client.get(url, headers=login("worker"))
    assert worker.status_code == 200, worker.text
    assert not any(p in worker.text for p in phones)
    mine = grid[grid["code"] == worker_grid].geometry.iloc[0]
    inside = set(homes[homes.within(mine.buffer(1e-7))]["id"])
    seen = _care_ids(worker.text)
    assert seen and seen <= inside and seen < care


def test_api_page_links_local_assets_only(client: TestClient, login: Login) -> None:
    html = client.get(f"/api/v1/communities/{CODE}/map", headers=login("admin")).text
    sources = re.findall(r"<(?:script|link)\b[^>]*?(?:src|href)=\"([^\"]+)\"", html)
    assert "/static/vendor/leaflet/dist/leaflet.js" in sources
    assert "/static/vendor/leaflet.markercluster/dist/leaflet.markercluster.js" in sources
    assert all(s.startswith("/static/vendor/") for s in sources), sources
    assert "cdn." not in html and "code.jquery.com" not in html
    for source in sources:
        response = client.get(source)
        assert response.status_code == 200, source
        package, path = split_vendor_path(source.removeprefix("/static/vendor/"))
        assert response.content == vendor_file(assets_dir(), package, path).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/leaflet/dist/%2e%2e/%2e%2e/%2e%2e/package.json",
        "/static/vendor/leaflet/%2e%2e%2f%2e%2e%2fpackage.json",
        "/static/vendor/leaflet/..%2F..%2Fpackage-lock.json",
        "/static/vendor/lodash/package.json",
        "/static/vendor/%2e%2e/package.json",
        "/static/vendor/leaflet/dist",
        "/static/vendor/leaflet/dist/%2fetc%2fpasswd",
        "/static/vendor/leafletx/dist/leaflet.js",
    ],
)
def test_static_vendor_route_refuses_paths_outside_the_allowlist(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.text[:200])
    assert "dependencies" not in response.text


def test_vendor_file_stays_inside_its_package() -> None:
    root = assets_dir()
    assert vendor_file(root, "leaflet", "dist/leaflet.js").name == "leaflet.js"
    for bad in ("../leaflet.markercluster/package.json", "/etc/passwd", "dist/../../../x"):
        with pytest.raises(NotFoundError):
            vendor_file(root, "leaflet", bad)
    with pytest.raises(NotFoundError, match="only leaflet"):
        vendor_file(root, "lodash", "package.json")
    assert root == (ROOT / "node_modules").resolve()


def test_cli_writes_a_self_contained_page_and_a_city_overview(
    store_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "maps" / "village.html"
    result = runner.invoke(
        app, ["map", "--community", CODE, "--store", store_url, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"<(?:script|link)\b[^>]*?(?:src|href)=", html)
    assert "L.markerClusterGroup" in html and "window.L = " not in html
    assert 'url("data:image/png;base64,' in html  # leaflet.css images inlined
    public = tmp_path / "public.html"
    result = runner.invoke(
        app, ["map", "--community", CODE, "--store", store_url, "--out", str(public), "--public"]
    )
    assert result.exit_code == 0, result.output
    assert "care households" not in public.read_text(encoding="utf-8")
    city = tmp_path / "city.html"
    result = runner.invoke(
        app, ["map", "--city", CODE[:4], "--store", store_url, "--out", str(city)]
    )
    assert result.exit_code == 0, result.output
    assert "of grids within bounds" in city.read_text(encoding="utf-8")


def test_city_share_counts_grids_within_bounds() -> None:
    from gridsvc.render.city import community_shares

    communities = gpd.GeoDataFrame(
        {"code": ["a", "b"], "name": ["A", "B"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    grids = gpd.GeoDataFrame({"community_code": ["a", "a", "a", "a"],
                              "households": [30, 50, 29, 51]})  # fmt: skip
    shares = community_shares(communities, grids, GridBounds())
    assert shares["share"].tolist() == [0.5, None]
    assert shares["grids"].tolist() == [4, 0]


def test_page_html_refuses_an_element_that_needs_an_unknown_cdn_asset() -> None:
    from gridsvc.errors import GridsvcError

    fmap = folium.Map(tiles=None)
    folium.plugins.Fullscreen().add_to(fmap)
    with pytest.raises(GridsvcError, match="Fullscreen needs CDN assets"):
        page_html(fmap)


@pytest.mark.parametrize(
    "url",
    [  # the contract with the planner editor page
        "/static/vendor/leaflet/dist/leaflet.js",
        "/static/vendor/leaflet/dist/leaflet.css",
        "/static/vendor/leaflet/dist/images/layers.png",
        "/static/vendor/leaflet.markercluster/dist/leaflet.markercluster.js",
        "/static/vendor/leaflet.markercluster/dist/MarkerCluster.Default.css",
        "/static/vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.js",
        "/static/vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",
    ],
)
def test_static_vendor_route_serves_the_npm_files(client: TestClient, url: str) -> None:
    response = client.get(url)  # no sign-in: a page needs them before anyone signs in
    assert response.status_code == 200, url
    package, path = split_vendor_path(url.removeprefix("/static/vendor/"))
    assert response.content == vendor_file(assets_dir(), package, path).read_bytes()
    kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[url.rsplit(".", 1)[1]]
    assert kind in response.headers["content-type"]
