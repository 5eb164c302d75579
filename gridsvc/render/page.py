"""Turn a folium map into a page that loads nothing from a public CDN.

folium links Leaflet, jQuery, Bootstrap and plugins from CDNs (``default_js``/``default_css`` of
each element). :func:`page_html` empties those lists on every element of the map, checks that
each dropped asset is one gridsvc replaces or does not need, and puts gridsvc's own copies in the
page head: links to ``/static/vendor/...`` (``assets="served"``, the API page) or the files
themselves (``assets="inline"``, a file that opens from disk offline).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import folium
from branca.element import Element

from ..errors import GridsvcError
from .assets import MAP_ASSETS, assets_dir, inline_tag, link_tag

__all__ = ["REPLACED", "page_html"]

# folium's CDN assets by name: the ones gridsvc serves itself (Leaflet, markercluster) and the
# ones its map views never use (jQuery, Bootstrap, awesome-markers: no folium.Icon is drawn).
REPLACED = frozenset({
    "leaflet", "leaflet_css", "markerclusterjs", "markerclustercss", "markerclusterdefaultcss",
    "jquery", "bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers",
    "awesome_markers_css", "awesome_markers_font_css", "awesome_rotate_css",
})  # fmt: skip
_REMOTE = re.compile(
    r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE
)


def _drop_cdn_assets(element: object) -> None:
    for attr in ("default_js", "default_css"):
        assets = getattr(element, attr, None)
        if assets:
            unknown = [name for name, _ in assets if name not in REPLACED]
            if unknown:
                raise GridsvcError(
                    f"{type(element).__name__} needs CDN assets {unknown} that gridsvc does not "
                    "serve; add them to package.json and gridsvc.render.assets.MAP_ASSETS"
                )
            setattr(element, attr, [])
    for child in getattr(element, "_children", {}).values():
        _drop_cdn_assets(child)


def page_html(
    fmap: folium.Map,
    *,
    assets: Literal["inline", "served"] = "served",
    root: Path | None = None,
) -> str:
    """Render ``fmap`` as a whole HTML page whose scripts and styles all come from gridsvc."""
    figure = fmap.get_root()
    _drop_cdn_assets(fmap)
    folder = assets_dir(root)
    for i, asset in enumerate(MAP_ASSETS):
        tag = link_tag(asset) if assets == "served" else inline_tag(folder, asset)
        figure.header.add_child(Element(tag), name=f"gridsvc_asset_{i}")  # type: ignore[attr-defined]
    html = figure.render()
    where = _REMOTE.search(html)
    if where is not None:
        raise GridsvcError(
            "the map page would load a remote script or style: "
            f"{html[where.start() : where.start() + 120]!r}"
        )
    return html
