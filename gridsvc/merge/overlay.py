"""Small vectorised overlay helpers shared by the merge modules (metric geometries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["TOLERANCE_M2", "area_pairs", "contains_pairs", "locate", "polygonal"]

TOLERANCE_M2 = 1.0  # pieces smaller than this (square metres) are snapping noise, not defects


def area_pairs(a: np.ndarray, b: np.ndarray, *, min_area: float = 0.0) -> pd.DataFrame:
    """Return ``(i, j, area)`` for each pair ``a[i]``, ``b[j]`` overlapping over ``min_area``."""
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    if len(a) == 0 or len(b) == 0:
        return pd.DataFrame({"i": np.zeros(0, int), "j": np.zeros(0, int), "area": np.zeros(0)})
    i, j = shapely.STRtree(b).query(a, predicate="intersects")
    area = shapely.area(shapely.intersection(a[i], b[j]))
    keep = area > min_area
    return pd.DataFrame({"i": i[keep], "j": j[keep], "area": area[keep]})


def contains_pairs(points: np.ndarray, polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(point, polygon)`` index pairs where the polygon covers the point."""
    if len(points) == 0 or len(polys) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    p, g = shapely.STRtree(np.asarray(polys, dtype=object)).query(
        np.asarray(points, dtype=object), predicate="intersects"
    )
    return p, g


def locate(points: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Return the index of the first polygon covering each point, or -1."""
    out = np.full(len(points), -1)
    p, g = contains_pairs(points, polys)
    out[p[::-1]] = g[::-1]  # first hit wins
    return out


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Return the polygons of ``geom`` (overlays at a grid size may leave lines or points)."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts) == 1:
        return parts[0]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()
