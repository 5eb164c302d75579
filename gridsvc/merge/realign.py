"""Re-align a departmental layer as unions of unified grids, and write its crosswalk.

The crosswalk has one row per original grid of the layer: the unified grids it now consists
of, its households before and after (kept, left, joined) and its area before and after with the
share kept. A household's grid *before* is every grid of the layer drawn over it (two where the
layer overlapped itself; the tiled grid where it had a gap); it *kept* its grid when its
re-aligned grid is one of them.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..partition.territory import GRID_SIZE
from .layers import Layer
from .overlay import area_pairs, contains_pairs

__all__ = ["CROSSWALK_COLUMNS", "crosswalk", "kept_mask", "realign", "whole_unit_bound"]

CROSSWALK_COLUMNS = [
    "layer",
    "department",
    "policy",
    "grid_id",
    "name",
    "unified",
    "n_unified",
    "households_before",
    "households_after",
    "households_kept",
    "households_left",
    "households_joined",
    "share_kept",
    "area_before_m2",
    "area_after_m2",
    "area_share_kept",
]


def realign(layer: Layer, unified: gpd.GeoDataFrame, labels: np.ndarray) -> gpd.GeoDataFrame:
    """Return ``layer`` as unions of the ``unified`` grids (metres) labelled with each grid id."""
    codes = unified["code"].astype(str).to_numpy()
    geoms = unified.geometry.to_numpy()
    ids = layer.raw["grid_id"].astype(str).to_numpy()
    rows = []
    for gid in ids:
        mine = labels == gid
        geom = (
            shapely.union_all(geoms[mine], grid_size=GRID_SIZE) if mine.any() else shapely.Polygon()
        )
        rows.append(
            (geom, ";".join(sorted(codes[mine])), int(unified["households"].to_numpy()[mine].sum()))
        )
    return gpd.GeoDataFrame(
        {
            "layer": layer.name,
            "department": layer.department,
            "policy": layer.policy,
            "grid_id": ids,
            "name": layer.raw["name"].to_numpy(),
            "unified": [r[1] for r in rows],
            "households": [r[2] for r in rows],
        },
        geometry=np.array([r[0] for r in rows], dtype=object),
        crs=unified.crs,
    )


def kept_mask(
    layer: Layer, points: np.ndarray, home: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    """Return per household whether its re-aligned grid was one of its grids before.

    Also returns the (household, grid index) pairs of *before* membership in ``layer.raw``.
    """
    raw_ids = layer.raw["grid_id"].astype(str).to_numpy()
    p, g = contains_pairs(points, layer.raw.geometry.to_numpy())
    tiled_ids = layer.tiled["grid_id"].astype(str).to_numpy()
    fallback = np.setdiff1d(np.flatnonzero(home >= 0), p)
    gid = np.concatenate([raw_ids[g], tiled_ids[home[fallback]]]).astype(object)
    hh = np.concatenate([p, fallback])
    before = pd.DataFrame({"h": hh, "grid_id": gid}).drop_duplicates()
    hit = before[before["grid_id"].to_numpy() == after[before["h"].to_numpy()]]
    kept = np.zeros(len(points), dtype=bool)
    kept[hit["h"].to_numpy()] = True
    return kept, before


def crosswalk(
    layer: Layer, realigned: gpd.GeoDataFrame, before: pd.DataFrame, after: np.ndarray
) -> pd.DataFrame:
    """Return the crosswalk rows of one layer (see the module docstring)."""
    ids = realigned["grid_id"].astype(str).to_numpy()
    after_s = pd.Series(after)
    n_after = after_s[after_s != ""].value_counts()
    n_before = before["grid_id"].value_counts()
    kept = before[before["grid_id"].to_numpy() == after[before["h"].to_numpy()]]
    n_kept = kept["grid_id"].value_counts()
    raw = layer.raw.geometry.to_numpy()
    area_before = shapely.area(raw)
    area_after = shapely.area(realigned.geometry.to_numpy())
    pairs = area_pairs(raw, realigned.geometry.to_numpy())
    pairs = pairs[pairs["i"] == pairs["j"]]
    kept_area = np.zeros(len(ids))
    kept_area[pairs["i"].to_numpy()] = pairs["area"].to_numpy()
    rows: dict[str, Any] = {
        "layer": layer.name,
        "department": layer.department,
        "policy": layer.policy,
        "grid_id": ids,
        "name": realigned["name"].to_numpy(),
        "unified": realigned["unified"].to_numpy(),
        "n_unified": [len(u.split(";")) if u else 0 for u in realigned["unified"]],
        "households_before": [int(n_before.get(i, 0)) for i in ids],
        "households_after": [int(n_after.get(i, 0)) for i in ids],
        "households_kept": [int(n_kept.get(i, 0)) for i in ids],
    }
    frame = pd.DataFrame(rows)
    frame["households_left"] = frame["households_before"] - frame["households_kept"]
    frame["households_joined"] = frame["households_after"] - frame["households_kept"]
    frame["share_kept"] = (
        frame["households_kept"] / frame["households_before"].where(frame["households_before"] > 0)
    ).round(4)
    frame["area_before_m2"] = np.round(area_before, 1)
    frame["area_after_m2"] = np.round(area_after, 1)
    frame["area_share_kept"] = np.round(kept_area / np.maximum(area_before, 1e-9), 4)
    return frame[CROSSWALK_COLUMNS]


def whole_unit_bound(before: pd.DataFrame, atoms: np.ndarray) -> dict[str, Any]:
    """Return the most households that can keep their grid while units stay whole.

    A stairwell unit (``atoms``: each household's unit key) lies in one unified grid, which has
    one grid of the layer, so at most the unit's households sharing one *before* grid keep it;
    the rest sit in a unit the layer cuts and must change. ``before`` holds the (household,
    grid id) pairs of :func:`kept_mask`. Bounds and contiguity can only lower the share.
    """
    keys, unit = np.unique(np.asarray(atoms, dtype=str), return_inverse=True)
    size = np.bincount(unit, minlength=len(keys))
    pairs = pd.DataFrame({"unit": unit[before["h"].to_numpy()], "grid": before["grid_id"]})
    most = pairs.groupby(["unit", "grid"]).size().groupby(level=0).max()
    best = most.reindex(range(len(keys)), fill_value=0).to_numpy()
    lost = size - best
    return {
        "share": round(float(best.sum() / max(len(unit), 1)), 4),
        "households_in_cut_units": int(size[lost > 0].sum()),
        "households_that_must_change": int(lost.sum()),
        "units_cut": int((lost > 0).sum()),
    }
