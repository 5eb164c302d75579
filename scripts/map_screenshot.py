"""Take docs/map-view.png (the README picture): a community's map view in headless Chromium.

Usage: python scripts/map_screenshot.py STORE_URL COMMUNITY_CODE [OUT.png]
(e.g. the demo's store: sqlite:///out/demo/gridsvc.sqlite 140802002011). The page is the one
``gridsvc map`` writes (Leaflet inlined, no tiles), so no network is used; one grid's popup is
opened to show its counts and 1+1+N team.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from gridsvc.config import load_settings
from gridsvc.render import page_html
from gridsvc.render.views import community_view
from gridsvc.store import open_store, session_scope

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def main(store: str, code: str, out: Path) -> None:
    """Render the community's page, open the popup of its middle grid, save a screenshot."""
    settings = load_settings(database_url=store)
    with session_scope(open_store(settings)) as session:
        html = page_html(community_view(session, code, settings=settings), assets="inline")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.route("**/*", lambda route: route.abort())  # nothing may come from the network
        page.set_content(html, wait_until="load")
        page.wait_for_function("() => window.gridsvc !== undefined")
        page.evaluate(
            """() => { const g = window.gridsvc;
                g.map.removeLayer(g.layers.households);
                const grids = g.layers.grids.getLayers();
                const grid = grids[Math.floor(grids.length * 0.8)];
                grid.fire('click', {latlng: grid.getCenter()}, true); }"""
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    main(
        sys.argv[1],
        sys.argv[2],
        Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs" / "map-view.png",
    )
