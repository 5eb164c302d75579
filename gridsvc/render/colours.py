"""Colours of map views: household bands against the bounds, and graph colouring of neighbours.

Each band (under / within / over the bounds) has a fixed palette of shades of its hue; a grid's
shade comes from a greedy colouring of the touching graph (networkx), so two grids that touch
(along an edge or at a corner) never get the same colour, while the hue still tells the band.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from ..config import GridBounds
from ..errors import GridsvcError

__all__ = [
    "BAND_COLOURS",
    "LAYER_PALETTE",
    "PALETTES",
    "STACKED",
    "TOUCH_DEGREES",
    "band",
    "grid_colours",
    "share_colour",
    "touching_graph",
]

BAND_COLOURS = {"under": "#f4a259", "within": "#5b8e7d", "over": "#bc4b51", "empty": "#cccccc"}

# Eight shades per band; greedy colouring in "smallest last" order needs at most
# degeneracy + 1 colours, which is at most 6 for touching polygons of a map.
PALETTES: dict[str, tuple[str, ...]] = {
    "within": tuple(
        ["#5b8e7d", "#8cb369", "#2a9d8f", "#a7c957", "#3d6b5a", "#6fb7a6", "#b5d99c", "#1f6f5c"]
    ),
    "under": tuple(
        ["#f4a259", "#f6c177", "#e76f51", "#ffd6a5", "#d98a3d", "#f9b48a", "#e9c46a", "#c8702a"]
    ),
    "over": tuple(
        ["#bc4b51", "#e07a7f", "#8e2c48", "#f28c9b", "#a4343a", "#d95d70", "#6d1f2c", "#f3a3a9"]
    ),
    "empty": tuple(
        ["#cccccc", "#e0e0e0", "#aaaaaa", "#bbbbbb", "#d6d6d6", "#999999", "#c4c4c4", "#eeeeee"]
    ),
}
# Neutral palette for departmental layers and micro-grids (no band meaning).
LAYER_PALETTE = tuple(
    ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f"]
)
# Two shapes closer than this (degrees, about 1 cm) touch: grids are stored with 7 decimals.
TOUCH_DEGREES = 1e-7
# Shapes sharing more than this share of the smaller one's area are stacked, not neighbours.
STACKED = 0.5
# Share of grids within bounds -> colour of a community on the city overview (low to high).
SHARE_STEPS = ((0.5, "#bc4b51"), (0.7, "#e07a7f"), (0.85, "#f6c177"), (0.95, "#a7c957"))
SHARE_TOP = "#2a9d8f"


def band(households: int, bounds: GridBounds) -> str:
    """Say where a grid's household count sits against the bounds."""
    if households == 0:
        return "empty"
    if households < bounds.min_households:
        return "under"
    if households > bounds.max_households:
        return "over"
    return "within"


def touching_graph(frame: gpd.GeoDataFrame) -> nx.Graph:
    """Return the graph of rows (by position) whose shapes touch or overlap a little.

    Stacked shapes (over half of the smaller one covered by the other: micro-grids that split
    one stairwell unit by floors share its footprint) are drawn on top of each other, so they
    are not neighbours; everything else within :data:`TOUCH_DEGREES` is, corners included.
    """
    geoms = np.asarray(frame.geometry.values)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(geoms)))
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=TOUCH_DEGREES)
    left, right = left[left < right], right[left < right]
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    keep = shared <= STACKED * smaller
    graph.add_edges_from(zip(left[keep].tolist(), right[keep].tolist(), strict=True))
    return graph


def _greedy(frame: gpd.GeoDataFrame, size: int) -> list[int]:
    colouring = nx.greedy_color(touching_graph(frame), strategy="smallest_last")
    needed = max(colouring.values(), default=-1) + 1
    if needed > size:
        raise GridsvcError(
            f"{needed} colours are needed to keep touching shapes apart but the palette has "
            f"{size}; check for many shapes meeting at one point or overlapping"
        )
    return [colouring[i] for i in range(len(frame))]


def grid_colours(frame: gpd.GeoDataFrame, *, bands: list[str] | None = None) -> list[str]:
    """Return one fill colour per row: touching rows differ; the hue follows ``bands`` if given."""
    if bands is None:
        return [LAYER_PALETTE[i] for i in _greedy(frame, len(LAYER_PALETTE))]
    indices = _greedy(frame, min(len(p) for p in PALETTES.values()))
    return [PALETTES[b][i] for b, i in zip(bands, indices, strict=True)]


def share_colour(share: float | None) -> str:
    """Colour a community by its share of grids within bounds (grey when it has no grids)."""
    if share is None or share != share:  # None or NaN: no grids
        return BAND_COLOURS["empty"]
    for limit, colour in SHARE_STEPS:
        if share < limit:
            return colour
    return SHARE_TOP
