"""Grid codes: parent code + serial, numbered west→east in bands from north to south.

Base grids get a 3-digit serial after the 12-digit community code, deeper levels a 2-digit one
after their parent's code (DB11/T 2157 numbers unit grids the same way). A new band starts where
a grid's centre lies more than half a typical grid below the top of the current band. Stacked
grids sharing a footprint are numbered from the lowest floor up. With existing codes, grids
that keep their code are skipped and new grids get serials after the highest serial in use
(append, never renumber).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import shapely

__all__ = ["measures", "number", "serial_width"]


def serial_width(level: int) -> int:
    """Return the digits of a grid serial at ``level`` (1 = base grid)."""
    return 3 if level == 1 else 2


def _bands(y: np.ndarray, height: float) -> np.ndarray:
    """Return a band index per centre: a band starts half a grid below the previous top."""
    band = np.empty(len(y), dtype=int)
    current, top = -1, np.inf
    for i in np.argsort(-y, kind="stable"):
        if top - y[i] > 0.5 * height:
            current, top = current + 1, y[i]
        band[i] = current
    return band


def measures(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each of ``geoms``' centre (its centroid, or a point inside when that falls
    outside) and area: what :func:`number` orders by, for many groups of grids at once."""
    centroid = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, centroid)
    if outside.any():
        centroid[outside] = shapely.point_on_surface(geoms[outside])
    xy, at = shapely.get_coordinates(centroid, return_index=True)
    centre = np.full((len(geoms), 2), np.nan)  # an empty grid has none
    centre[at] = xy
    return centre, shapely.area(geoms)


def _reading_order(floors: np.ndarray, centre: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Return the order of grids (``centre``, ``area``: see :func:`measures`): bands north to
    south, west to east in a band, then ``floors`` from the lowest up."""
    band_h = float(np.sqrt(np.median(area))) or 1.0
    band = _bands(centre[:, 1], band_h)
    return np.lexsort((floors, np.round(centre[:, 0], 2), band))


def number(
    geoms: np.ndarray,
    floor_lo: np.ndarray,
    *,
    parent: str,
    level: int,
    taken: Collection[str] = (),
    measured: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[str]:
    """Return a code for each geometry (metres), reading order, skipping ``taken`` serials.

    ``measured``: the geometries' :func:`measures`, when found beforehand."""
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return []
    floors = np.asarray(floor_lo, dtype=float)
    floors = np.where(np.isnan(floors), -1.0, floors)
    if all(g is geoms[0] for g in geoms):  # one footprint (a unit's stacked grids): by floor
        order = np.argsort(floors, kind="stable")
    else:
        order = _reading_order(floors, *(measured or measures(geoms)))
    width = serial_width(level)
    tails = (c[len(parent) :] for c in taken if c.startswith(parent))
    used = {int(t) for t in tails if t.isdigit()}
    start = max(used, default=0)
    codes = [""] * n
    for rank, i in enumerate(order, start=start + 1):
        digits = max(width, len(str(rank)))
        codes[i] = f"{parent}{rank:0{digits}d}"
    return codes
