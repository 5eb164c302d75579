"""Turn areal units with a household count (census blocks, compounds) into household points.

Each area becomes ``count`` households spread on a regular lattice inside its polygon, all with
the area as their building, so an area is kept whole when it fits in a grid. An area holding more
than the upper bound has no floors, so the atoms step splits it geometrically into strips along
its long axis: even strips when each can hold the bounds, else one small strip and full ones
(see :func:`gridsvc.partition.atoms.build_atoms`).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, Problem

__all__ = ["areas_to_households"]


def _lattice(poly: Any, count: int) -> np.ndarray:
    """Return ``count`` points inside ``poly`` on a lattice (deterministic).

    Each point is nudged by up to a tenth of the lattice step (a fixed-seed jitter): on an exact
    lattice four points share a circle, and GEOS then leaves some Voronoi cells empty.
    """
    if count <= 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = poly.bounds
    step = max(np.sqrt(poly.area / (count * 1.5)), 0.05)
    for _ in range(12):
        xs = np.arange(x0 + step / 2, x1, step)
        ys = np.arange(y0 + step / 2, y1, step)
        gx, gy = np.meshgrid(xs, ys)
        pts = np.column_stack([gx.ravel(), gy.ravel()])
        pts += np.random.default_rng(0).uniform(-0.1, 0.1, pts.shape) * step
        inside = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])] if len(pts) else pts
        if len(inside) >= count:
            pick = np.linspace(0, len(inside) - 1, count).round().astype(int)
            return inside[pick]
        step /= 1.6
    rp = shapely.get_coordinates(shapely.point_on_surface(poly))
    return np.repeat(rp, count, axis=0)


def areas_to_households(
    areas: gpd.GeoDataFrame,
    count_field: str,
    crs: Any,
    *,
    within: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Return one household point per counted household of each area, in ``crs``.

    Column ``area`` holds the position of each household's area in ``areas``. With ``within``
    (the community boundary) the points keep to the part of each area inside it, so an area
    drawn a little past the boundary still has every household in some grid.
    """
    counts = pd.to_numeric(areas[count_field], errors="coerce")
    # a count of 12.7 households is no count: cut to 12 it lost a household without a word
    whole = counts.isna() | (counts < 0) | (counts != np.floor(counts))
    bad = np.flatnonzero(whole.to_numpy())
    if len(bad):
        raise InputError(
            [
                Problem(
                    f"count {_plain(areas[count_field].iloc[i])!r} is not a whole household count",
                    source="areas",
                    feature=int(i),
                    field=count_field,
                )
                for i in bad
            ]
        )
    metric = areas.to_crs(crs)
    shapes = metric.geometry.to_numpy()
    if within is not None:
        clipped = shapely.intersection(shapes, within.to_crs(crs).union_all())
        shapes = np.where(shapely.area(clipped) > 0, clipped, shapes)
    ids = (
        areas["id"].astype(str)
        if "id" in areas.columns
        else pd.Series(areas.index.astype(str), index=areas.index)
    )
    rows_xy, rows_id, rows_b, rows_area = [], [], [], []
    for i, (geom, n) in enumerate(zip(shapes, counts.astype(int), strict=True)):
        pts = _lattice(geom, int(n))
        rows_xy.append(pts)
        aid = ids.iloc[i]
        rows_id += [f"{aid}#{j + 1}" for j in range(len(pts))]
        rows_b += [f"area:{aid}"] * len(pts)
        rows_area += [i] * len(pts)
    xy = np.concatenate(rows_xy) if rows_xy else np.empty((0, 2))
    frame = gpd.GeoDataFrame(
        {
            "id": rows_id,
            "building_id": rows_b,
            "unit": [None] * len(rows_id),
            "floor": [None] * len(rows_id),
            "size": [1] * len(rows_id),
            "area": rows_area,
        },
        geometry=gpd.GeoSeries(shapely.points(xy), crs=crs),
        crs=crs,
    )
    return frame.to_crs(areas.crs)


def _plain(value: object) -> object:
    """Return a numpy scalar as the Python value it holds (``12.7``, not ``np.float64(12.7)``)."""
    return value.item() if isinstance(value, np.generic) else value
