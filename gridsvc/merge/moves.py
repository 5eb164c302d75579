"""Rules shared by the passes that move pieces between unified grids (adjust, reunite)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..partition import Bounds
from ..partition.territory import GRID_SIZE
from .layers import Layer
from .overlay import TOLERANCE_M2
from .unify import label_unified

__all__ = ["fits", "hard_keys", "inside", "keys_of"]


def fits(after: int, before: int, bounds: Bounds) -> bool:
    """Tell whether a count may change to ``after``: within bounds, or no further outside."""
    if bounds.lo <= after <= bounds.hi:
        return True
    # plain integers: this runs for every chain the adjustment looks at
    return bool(
        max(bounds.lo - after, after - bounds.hi) < max(bounds.lo - before, before - bounds.hi, 0)
    )


def hard_keys(
    geoms: np.ndarray, unified_of: np.ndarray, points: np.ndarray, hard: Sequence[Layer]
) -> list[tuple[str, ...]]:
    """Return per unified grid its hard grid ids (one per hard layer)."""
    columns = [label_unified(geoms, unified_of, points, la)[0] for la in hard]
    return keys_of(columns, len(geoms))


def keys_of(columns: Sequence[np.ndarray], n: int) -> list[tuple[str, ...]]:
    """Return per grid (of ``n``) the tuple of its labels in ``columns`` (one per hard layer)."""
    return [tuple(str(c[i]) for c in columns) for i in range(n)]


def inside(part: BaseGeometry, key: tuple[str, ...], hard: Sequence[Layer]) -> bool:
    """Tell whether ``part`` lies inside the hard grids named by ``key`` (one per layer)."""
    for la, gid in zip(hard, key, strict=True):
        grid = la.tiled_by_id.get(gid)
        if grid is None:
            return False
        if shapely.area(shapely.difference(part, grid, grid_size=GRID_SIZE)) > TOLERANCE_M2:
            return False
    return True
