"""Diagnose one departmental layer against the community and its households.

Findings, each located by a lon/lat point inside it and the grid ids involved:

- ``gap``: community area in no grid of the layer (with the households living there);
- ``overlap``: area in two grids of the layer at once;
- ``outside``: the part of a grid lying outside the community;
- ``sliver``: a fragment (a grid's piece inside the community, a gap or an overlap) thinner than
  ``sliver_width`` metres on average or smaller than ``sliver_m2``, holding at most
  ``sliver_households`` households.

Pieces below :data:`~gridsvc.merge.overlay.TOLERANCE_M2` are rounding noise and not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from ..partition.territory import GRID_SIZE
from .overlay import TOLERANCE_M2, area_pairs, contains_pairs

__all__ = ["Thresholds", "diagnose_layer"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as a sliver: small or thin, and (nearly) empty."""

    sliver_m2: float = 100.0
    sliver_width: float = 3.0
    sliver_households: int = 2


def _where(to_wgs: Transformer, geoms: np.ndarray) -> list[tuple[float, float]]:
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms)).reshape(-1, 2)
    lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1])
    return [(round(float(a), 6), round(float(b), 6)) for a, b in zip(lon, lat, strict=True)]


def _count(points: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    _p, g = contains_pairs(points, geoms)
    return np.bincount(g, minlength=len(geoms)).astype(int)


def _items(
    kind: str, geoms: np.ndarray, grids: list[list[str]], points: np.ndarray, to_wgs: Transformer
) -> list[dict[str, Any]]:
    if len(geoms) == 0:
        return []
    hh = _count(points, geoms)
    return [
        {
            "kind": kind,
            "grids": g,
            "area_m2": round(float(a), 1),
            "households": int(h),
            "lon": lon,
            "lat": lat,
        }
        for g, a, h, (lon, lat) in zip(
            grids, shapely.area(geoms), hh, _where(to_wgs, geoms), strict=True
        )
    ]


def diagnose_layer(
    raw: gpd.GeoDataFrame,
    outline: BaseGeometry,
    points: np.ndarray,
    to_wgs: Transformer,
    thresholds: Thresholds = Thresholds(),
) -> dict[str, Any]:
    """Return the gaps, overlaps, outside parts and slivers of one layer (``raw`` in metres)."""
    geoms = raw.geometry.to_numpy()
    ids = raw["grid_id"].astype(str).to_numpy()
    union = shapely.union_all(geoms, grid_size=GRID_SIZE)
    gaps = shapely.get_parts(shapely.difference(outline, union, grid_size=GRID_SIZE))
    gaps = gaps[shapely.area(gaps) > TOLERANCE_M2]
    near = [
        sorted(set(ids[shapely.STRtree(geoms).query(g, predicate="dwithin", distance=0.5)]))
        for g in gaps
    ]
    pairs = area_pairs(geoms, geoms, min_area=TOLERANCE_M2)
    pairs = pairs[pairs["i"] < pairs["j"]]
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    overlaps = shapely.intersection(geoms[i], geoms[j], grid_size=GRID_SIZE)
    overlap_ids = [[ids[a], ids[b]] for a, b in zip(i, j, strict=True)]
    outside = shapely.difference(geoms, outline, grid_size=GRID_SIZE)
    out_mask = shapely.area(outside) > TOLERANCE_M2
    inside = shapely.intersection(geoms, outline, grid_size=GRID_SIZE)
    parts, owner = shapely.get_parts(inside, return_index=True)
    keep = shapely.area(parts) > TOLERANCE_M2
    parts, owner = parts[keep], owner[keep]
    found: dict[str, Any] = {
        "gaps": _items("gap", gaps, near, points, to_wgs),
        "overlaps": _items("overlap", overlaps, overlap_ids, points, to_wgs),
        "outside": _items(
            "outside", outside[out_mask], [[g] for g in ids[out_mask]], points, to_wgs
        ),
    }
    for item, total in zip(found["outside"], shapely.area(geoms[out_mask]), strict=True):
        item["share"] = round(item["area_m2"] / max(float(total), 1e-9), 4)
    fragments = np.concatenate([parts, gaps, overlaps]).astype(object)
    frag_ids = [[ids[o]] for o in owner] + near + overlap_ids
    kinds = ["grid part"] * len(parts) + ["gap"] * len(gaps) + ["overlap"] * len(overlaps)
    area = shapely.area(fragments)
    width = 2.0 * area / np.maximum(shapely.length(fragments), 1e-9)
    hh = _count(points, fragments) if len(fragments) else np.zeros(0, int)
    small = ((area < thresholds.sliver_m2) | (width < thresholds.sliver_width)) & (
        hh <= thresholds.sliver_households
    )
    found["slivers"] = [
        dict(item, of=k, width_m=round(float(w), 2))
        for item, k, w, s in zip(
            _items("sliver", fragments, frag_ids, points, to_wgs), kinds, width, small, strict=True
        )
        if s
    ]
    found["counts"] = {
        "grids": len(raw),
        "gaps": len(found["gaps"]),
        "gap_m2": round(float(shapely.area(gaps).sum()), 1),
        "gap_households": int(sum(x["households"] for x in found["gaps"])),
        "overlaps": len(found["overlaps"]),
        "overlap_m2": round(float(shapely.area(overlaps).sum()), 1),
        "overlap_households": int(sum(x["households"] for x in found["overlaps"])),
        "outside": len(found["outside"]),
        "outside_m2": round(float(shapely.area(outside[out_mask]).sum()), 1),
        "slivers": len(found["slivers"]),
        "coverage": round(
            float(shapely.area(shapely.intersection(union, outline)) / max(outline.area, 1e-9)), 6
        ),
    }
    return found
