"""The planner's editor: one HTML page at ``/editor`` and its own scripts and styles.

The page and its ES modules live in ``gridsvc/editor/`` (package data, no build step); Leaflet
and Leaflet-Geoman come from gridsvc's own ``/static/vendor/`` (never a CDN).
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from ...errors import NotFoundError

__all__ = ["router"]

router = APIRouter(tags=["editor"], include_in_schema=False)
ASSETS = files("gridsvc") / "editor"
NAME = re.compile(r"^[a-z][a-z0-9_-]*\.(js|css)$")
TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@router.get("/editor", response_class=HTMLResponse)
def editor_page(
    community: Annotated[str, Query(pattern=r"^\d{12}$", description="community code")],
) -> HTMLResponse:
    """The editor for ``community`` (the page signs in and loads the draft itself)."""
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html.replace("{{community}}", community))


@router.get("/editor/static/{name}")
def editor_asset(name: str) -> Response:
    """One of the editor's own scripts or style sheets."""
    match = NAME.match(name)
    asset = ASSETS / name
    if match is None or not asset.is_file():
        raise NotFoundError(f"the editor has no file {name!r}")
    return Response(
        asset.read_text(encoding="utf-8"),
        media_type=TYPES[match.group(1)],
        headers={"Cache-Control": "no-cache"},
    )
