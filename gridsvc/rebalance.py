""" "Fix this grid": let the partition engine redraw a grid together with its neighbours.

The grid and its neighbours that are not locked (nor stacked) form one region; the engine
partitions that region's households afresh within the base bounds; the new pieces take over the
old codes by largest overlap (one extra piece gets a new code, a missing one frees a code).
The region's outline never moves, so the grids around it are untouched and the plan still tiles
the community. The answer is an :class:`edits.Edit`, applied and validated like any other.
"""

from __future__ import annotations

from collections.abc import Collection

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from . import edits, frames
from .errors import InputError, Problem
from .partition import Bounds, partition

__all__ = ["fix_grid"]


def _region(state: edits.PlanState, code: str, locked: Collection[str]) -> list[str]:
    if code in locked:
        raise InputError(Problem(f"grid {code} is locked; unlock it to fix it", field="grid"))
    grid = state.geom(code)
    stacked = state.stacked()
    if code in stacked:
        raise InputError(Problem(f"grid {code} is stacked; it cannot be fixed here", field="grid"))
    around = [
        str(c)
        for c, g in zip(state.grids["code"], state.grids.geometry, strict=True)
        if c != code
        and c not in locked
        and c not in stacked
        and shapely.length(shapely.intersection(g.buffer(1e-9), grid.boundary)) > 0
    ]
    if not around:
        raise InputError(
            Problem(
                f"grid {code} has no neighbour that is not locked; unlock one to rebalance",
                field="locked",
            )
        )
    return [code, *around]


def _polygons(geom: BaseGeometry) -> list[BaseGeometry]:
    parts = shapely.get_parts(shapely.make_valid(geom))
    return [p for p in parts if p.geom_type == "Polygon" and p.area > edits.TINY]


def _tile(region: BaseGeometry, pieces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Make ``pieces`` tile ``region`` exactly on GeoJSON's 7-decimal grid, each one polygon:
    clip, remove overlaps, and give every stray part or leftover sliver to the piece sharing
    the longest border with it."""
    grid = edits.GRID
    region = shapely.set_precision(region, grid)
    out: list[BaseGeometry] = []
    stray: list[BaseGeometry] = []
    for piece in pieces:
        taken = shapely.union_all(out, grid_size=grid) if out else shapely.Polygon()
        clipped = shapely.intersection(shapely.set_precision(piece, grid), region, grid_size=grid)
        parts = sorted(_polygons(shapely.difference(clipped, taken, grid_size=grid)), key=_area)
        if parts:
            out.append(parts[-1])
            stray += parts[:-1]
    left = shapely.difference(region, shapely.union_all(out, grid_size=grid), grid_size=grid)
    for part in [*stray, *_polygons(left)]:
        shared = [shapely.length(shapely.intersection(part.boundary, p.buffer(1e-9))) for p in out]
        best = int(np.argmax(shared))
        out[best] = shapely.union_all([out[best], part], grid_size=grid)
    return out


def _area(geom: BaseGeometry) -> float:
    return float(shapely.area(geom))


def fix_grid(
    state: edits.PlanState,
    code: str,
    *,
    locked: Collection[str],
    bounds: Bounds,
    buildings: gpd.GeoDataFrame | None,
    seed: int,
    new_code: str,
) -> edits.Edit:
    """Repartition grid ``code`` with its unlocked neighbours; return the edit."""
    codes = _region(state, code, locked)
    region = shapely.union_all([state.geom(c) for c in codes])
    ids = sorted(set().union(*(state.members.get(c, frozenset()) for c in codes)))
    households = state.households[state.households["id"].isin(ids)].reset_index(drop=True)
    boundary = gpd.GeoDataFrame({"code": [code[:12]]}, geometry=[region], crs=frames.WGS84)
    inside = None
    if buildings is not None and len(buildings):
        inside = buildings[buildings.geometry.representative_point().within(region)]
        inside = inside.reset_index(drop=True) if len(inside) else None
    result = partition(boundary, households, buildings=inside, levels=(bounds,), seed=seed)
    pieces = _tile(region, list(result.grids.geometry))
    if len(pieces) > len(codes) + 1:
        raise InputError(
            Problem(
                f"the engine cut grids {', '.join(codes)} into {len(pieces)} grids; split them "
                "by hand instead",
                field="grid",
            )
        )
    olds = np.asarray([state.geom(c) for c in codes], dtype=object)
    overlap = shapely.area(
        shapely.intersection(np.asarray(pieces, dtype=object)[:, None], olds[None, :])
    )
    names: dict[int, str] = {}
    for flat in np.argsort(overlap, axis=None)[::-1]:
        i, j = divmod(int(flat), len(codes))
        if i not in names and codes[j] not in names.values():
            names[i] = codes[j]
    for i in range(len(pieces)):
        names.setdefault(i, new_code)
    geoms: dict[str, BaseGeometry | None] = {c: None for c in codes}
    geoms.update({names[i]: p for i, p in enumerate(pieces)})
    alive = {c: g for c, g in geoms.items() if g is not None}
    members = edits.locate(state, ids, list(alive), list(alive.values()))
    members.update({c: frozenset() for c, g in geoms.items() if g is None})
    warnings = [f"grid {c} was absorbed by its neighbours" for c, g in geoms.items() if g is None]
    return edits.Edit(geoms, members, warnings)
