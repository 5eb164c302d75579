"""Map views in real headless Chromium: no request leaves 127.0.0.1, no console errors, and the
layers hold what the store holds."""

from __future__ import annotations

from itertools import combinations

import httpx
import shapely
from harness import PASSWORD, LiveServer, PageLog
from playwright.sync_api import Page

from gridsvc.config import load_settings
from gridsvc.render import page_html
from gridsvc.render.colours import TOUCH_DEGREES
from gridsvc.render.views import community_view
from gridsvc.store import repo, session_scope

COUNTS = """() => Object.fromEntries(Object.entries(window.gridsvc.layers)
    .map(([key, layer]) => [key, layer.getLayers().length]))"""
FILLS = """() => window.gridsvc.layers.grids.getLayers()
    .map(l => [l.feature.properties.code, l.options.fillColor])"""


def _sign_in(page: Page, base: str, username: str) -> None:
    """Send the account's bearer token with every request of the page (the harness aborts any
    request leaving 127.0.0.1)."""
    response = httpx.post(f"{base}/api/v1/token", data={"username": username, "password": PASSWORD})
    response.raise_for_status()
    token = response.json()["access_token"]
    page.set_extra_http_headers({"Authorization": f"Bearer {token}"})


def _open(page: Page, url: str) -> dict[str, int]:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_function("() => window.gridsvc !== undefined")
    page.wait_for_load_state("networkidle")
    counts: dict[str, int] = page.evaluate(COUNTS)
    return counts


def test_community_map_loads_offline_with_every_grid_and_distinct_neighbours(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    _sign_in(page, live_server.url, "planner")
    counts = _open(page, f"{live_server.url}/api/v1/communities/{live_server.code}/map")
    with session_scope(live_server.engine) as session:
        grids = repo.read(session, "grids", community=live_server.code)
        homes = repo.read(session, "households", community=live_server.code)
        layers = repo.read(session, "layer_grids")
    base = grids[grids["level"] == 1].reset_index(drop=True)
    assert counts["grids"] == len(base) > 0
    assert counts["labels"] == len(base)
    assert counts["microgrids"] == int((grids["level"] > 1).sum()) > 0
    assert counts["households"] == len(homes)
    assert counts["care"] == int((homes["care_tags"].fillna("") != "").sum()) > 0
    assert {k for k in counts if k.startswith("layer:")} == {
        f"layer:{name}" for name in layers["layer"].unique()
    }
    fills = dict(page.evaluate(FILLS))
    assert sorted(fills) == sorted(base["code"])
    touching = [
        (a, b)
        for (a, ga), (b, gb) in combinations(zip(base["code"], base.geometry, strict=True), 2)
        if shapely.distance(ga, gb) <= TOUCH_DEGREES
    ]
    assert len(touching) >= len(base) - 1
    assert all(fills[a] != fills[b] for a, b in touching), touching
    page.get_by_text("micro-grids").click()  # layers toggle from the layer control
    assert page.evaluate("() => window.gridsvc.map.hasLayer(window.gridsvc.layers.microgrids)")
    page.locator("path.leaflet-interactive").first.click(force=True)
    page_log.assert_clean()


def test_city_overview_loads_offline(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    _sign_in(page, live_server.url, "admin")
    counts = _open(page, f"{live_server.url}/api/v1/maps/city")
    with session_scope(live_server.engine) as session:
        assert counts["communities"] == repo.count(session, "communities") > 0
    page_log.assert_clean()


def test_cli_page_works_from_disk_with_no_network(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    """The CLI's file inlines Leaflet: loaded with no server at all, it still draws every grid."""
    with session_scope(live_server.engine) as session:
        html = page_html(
            community_view(session, live_server.code, settings=load_settings()), assets="inline"
        )
        grids = repo.read(session, "grids", community=live_server.code, level=1)
    page.set_content(html, wait_until="load")
    page.wait_for_function("() => window.gridsvc !== undefined")
    assert page.evaluate(COUNTS)["grids"] == len(grids) > 0
    assert page.locator(".gridsvc-legend").is_visible()
    page_log.assert_clean()
