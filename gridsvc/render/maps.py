"""Folium map of one community: base grids coloured against the bounds, micro-grids, buildings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd

from ..config import GridBounds
from ..geo import feature_collection

if TYPE_CHECKING:
    from ..workflows import CommunityBundle

__all__ = ["BAND_COLOURS", "band", "community_map"]

BAND_COLOURS = {"under": "#f4a259", "within": "#5b8e7d", "over": "#bc4b51", "empty": "#cccccc"}


def band(households: int, bounds: GridBounds) -> str:
    """Say where a grid's household count sits against the bounds."""
    if households == 0:
        return "empty"
    if households < bounds.min_households:
        return "under"
    if households > bounds.max_households:
        return "over"
    return "within"


def community_map(
    bundle: CommunityBundle, *, tiles: str = "none", bounds: GridBounds
) -> folium.Map:
    """Draw a community's grids, micro-grids, buildings and boundary as toggleable layers."""
    x0, y0, x1, y1 = bundle.community.total_bounds
    fmap = folium.Map(tiles=None if tiles == "none" else "OpenStreetMap", control_scale=True)
    fmap.fit_bounds([[y0, x0], [y1, x1]])
    _add(
        fmap,
        bundle.community,
        "community boundary",
        lambda _: {"color": "#222", "weight": 3, "fill": False},
    )
    if len(bundle.grids):
        grids = bundle.grids.assign(band=[band(int(h), bounds) for h in bundle.grids["households"]])
        _add(
            fmap,
            grids,
            "base grids",
            lambda f: {
                "color": "#333",
                "weight": 2,
                "fillOpacity": 0.45,
                "fillColor": BAND_COLOURS[f["properties"]["band"]],
            },
            tooltip=["code", "households", "residents", "band"],
        )
    if len(bundle.microgrids):
        _add(
            fmap,
            bundle.microgrids,
            "micro-grids",
            lambda _: {"color": "#555", "weight": 1, "dashArray": "4", "fill": False},
            tooltip=["code", "households"],
            show=False,
        )
    if len(bundle.buildings):
        _add(
            fmap,
            bundle.buildings,
            "buildings",
            lambda _: {"color": "#4a4e69", "weight": 1, "fillOpacity": 0.6},
            tooltip=["id", "floors", "units", "use"],
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().html.add_child(folium.Element(_legend(bounds)))  # type: ignore[attr-defined]
    return fmap


def _add(
    fmap: folium.Map,
    frame: gpd.GeoDataFrame,
    name: str,
    style: Any,
    tooltip: list[str] | None = None,
    show: bool = True,
) -> None:
    layer = folium.GeoJson(
        feature_collection(frame),
        name=name,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=tooltip) if tooltip else None,
        show=show,
    )
    layer.add_to(fmap)


def _legend(bounds: GridBounds) -> str:
    rows = "".join(
        f'<div><span style="background:{c};width:12px;height:12px;display:inline-block"></span> '
        f"{label}</div>"
        for label, c in (
            (f"under {bounds.min_households}", BAND_COLOURS["under"]),
            (f"{bounds.min_households}–{bounds.max_households} households", BAND_COLOURS["within"]),
            (f"over {bounds.max_households}", BAND_COLOURS["over"]),
        )
    )
    return (
        '<div style="position:fixed;bottom:20px;left:20px;z-index:9999;background:white;'
        f'padding:6px 10px;border:1px solid #999;font:12px sans-serif">{rows}</div>'
    )
