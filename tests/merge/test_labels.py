"""Labelling unified grids with a layer's grids: whole, or only the grids a move touched."""

from __future__ import annotations

from itertools import pairwise

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.merge.layers import Layer
from gridsvc.merge.unify import label_unified

UTM = "EPSG:32649"


def _layer(cuts: list[float]) -> Layer:
    """A layer of vertical strips over a 100 × 40 m box, cut at ``cuts`` (metres)."""
    xs = [0.0, *sorted(set(cuts)), 100.0]
    geoms = [shapely.box(a, 0, b, 40) for a, b in pairwise(xs) if b > a]
    frame = gpd.GeoDataFrame(
        {"grid_id": [f"G{i}" for i in range(len(geoms))], "name": ""}, geometry=geoms, crs=UTM
    )
    return Layer("party", "party", "soft", frame, frame)


def _unified(cuts: list[float]) -> np.ndarray:
    """Unified grids: horizontal-then-vertical cells over the same box."""
    xs = [0.0, *sorted(set(cuts)), 100.0]
    return np.array(
        [shapely.box(a, y, b, y + 20) for a, b in pairwise(xs) for y in (0, 20)],
        dtype=object,
    )


@settings(max_examples=40, deadline=None)
@given(
    layer_cuts=st.lists(st.floats(5, 95), max_size=4),
    unified_cuts=st.lists(st.floats(5, 95), min_size=1, max_size=4),
    seed=st.integers(0, 10_000),
)
def test_labels_of_some_grids_equal_those_of_the_whole_labelling(
    layer_cuts: list[float], unified_cuts: list[float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    layer = _layer(layer_cuts)
    unified = _unified(unified_cuts)
    xy = rng.uniform([0.5, 0.5], [99.5, 39.5], size=(60, 2))
    points = shapely.points(xy)
    # each household in the unified grid covering it, some left without one (-1)
    grid_of = np.array([int(np.flatnonzero(shapely.covers(unified, p))[0]) for p in points])
    grid_of[rng.random(len(grid_of)) < 0.1] = -1
    whole, home = label_unified(unified, grid_of, points, layer)
    only = np.flatnonzero(rng.random(len(unified)) < 0.5)
    part, home_again = label_unified(unified, grid_of, points, layer, home=home, only=only)
    assert (home_again == home).all()
    assert list(part[only]) == list(whole[only])
    rest = np.setdiff1d(np.arange(len(unified)), only)
    assert (part[rest] == "").all()
    # households decide: the grid holding most of a unified grid's households is its label
    for u in only.tolist():
        mine = home[grid_of == u]
        if len(mine):
            counts = np.bincount(mine, minlength=len(layer.tiled))
            assert counts[int(part[u][1:])] == counts.max()
