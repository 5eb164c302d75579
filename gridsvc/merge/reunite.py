"""Make every unified grid one connected polygon, and no grid an empty sliver.

The partition can leave a unified grid in pieces (a household's Voronoi cell cut off from the
rest of its block by other blocks' cells where a soft line cuts the block) or leave an empty
sliver between a hard line and the outline. Each detached piece of a grid (every part but the
one holding most of its households) is joined back to the main part by a corridor
``CORRIDOR_M`` wide along the shortest line between them, taken from the grids it crosses when
it holds none of their households, leaves each of them one polygon and stays in the grid's hard
grids (so a block or stairwell unit stays whole). Failing that the piece goes, with the
households in it, to the touching unified grid sharing the longest border with it, chosen first
among grids whose hard grids hold the piece and whose household count still fits the bounds (or
moves no further outside them). An empty grid smaller or thinner than the sliver thresholds goes
whole to a neighbour the same way and is dropped; deliberate empty blocks (``dedicated``) and
empty grids of meaningful area stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..partition import Bounds
from ..partition.territory import GRID_SIZE, shared_lengths
from .diagnose import Thresholds
from .layers import Layer
from .moves import fits, hard_keys, inside
from .overlay import TOLERANCE_M2, polygonal

__all__ = ["CORRIDOR_M", "Reunited", "is_sliver", "reunite"]

CORRIDOR_M = 2.0


@dataclass(frozen=True)
class Reunited:
    """Geometries and household → grid index after the pass, over the grids ``kept``."""

    geoms: np.ndarray
    unified_of: np.ndarray
    kept: np.ndarray  # bool per input grid; dropped slivers are False
    pieces: int  # detached pieces handed to a neighbour
    slivers: int  # empty sliver grids dissolved into a neighbour
    bridges: int  # detached pieces joined back by a corridor


def is_sliver(geoms: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Tell per geometry whether it is smaller or thinner than the sliver thresholds."""
    area = shapely.area(geoms)
    width = 2.0 * area / np.maximum(shapely.length(geoms), 1e-9)
    return np.asarray((area < thresholds.sliver_m2) | (width < thresholds.sliver_width))


def reunite(
    geoms: np.ndarray,
    unified_of: np.ndarray,
    points: np.ndarray,
    hard: Sequence[Layer],
    *,
    bounds: Bounds,
    fixed: np.ndarray,
    thresholds: Thresholds = Thresholds(),
) -> Reunited:
    """Return the unified grids with detached pieces and empty slivers given to neighbours.

    ``geoms`` are metric; ``unified_of`` the grid index per household (-1 for none);
    ``fixed`` marks grids that neither give nor receive (stacked twins, dedicated blocks).
    """
    geoms = np.array(geoms, dtype=object)
    unified_of = np.array(unified_of)
    fixed = np.asarray(fixed, dtype=bool)
    key = hard_keys(geoms, unified_of, points, hard)
    counts = np.bincount(unified_of[unified_of >= 0], minlength=len(geoms))
    kept = np.ones(len(geoms), dtype=bool)
    pieces = slivers = bridges = 0
    for g in range(len(geoms)):
        if fixed[g]:
            continue
        rows = np.flatnonzero(unified_of == g)
        parts = shapely.get_parts(geoms[g])
        parts = parts[shapely.area(parts) > TOLERANCE_M2]
        if not len(rows) and is_sliver(np.array([geoms[g]]), thresholds)[0]:
            to = _receiver(geoms[g], g, 0, geoms, counts, key, hard, bounds, fixed | ~kept)
            if to is not None:
                geoms[to] = polygonal(shapely.union(geoms[to], geoms[g], grid_size=GRID_SIZE))
                kept[g] = False
                slivers += 1
            continue
        if len(parts) < 2:
            continue
        near = np.array([shapely.distance(parts, p) for p in points[rows]]).reshape(len(rows), -1)
        part_of = near.argmin(axis=1) if len(rows) else np.zeros(0, int)
        held = np.bincount(part_of, minlength=len(parts))
        main = max(range(len(parts)), key=lambda i: (held[i], shapely.area(parts[i])))
        for i in range(len(parts)):
            if i == main:
                continue
            joined = _bridge(
                g, parts[main], parts[i], geoms, unified_of, points, key, hard, fixed, kept
            )
            if joined is not None:
                geoms = joined
                bridges += 1
                continue
            n = int(held[i])
            to = _receiver(parts[i], g, n, geoms, counts, key, hard, bounds, fixed | ~kept)
            if to is None:
                continue
            geoms[to] = polygonal(shapely.union(geoms[to], parts[i], grid_size=GRID_SIZE))
            geoms[g] = polygonal(shapely.difference(geoms[g], parts[i], grid_size=GRID_SIZE))
            unified_of[rows[part_of == i]] = to
            counts[to] += n
            counts[g] -= n
            pieces += 1
    remap = np.cumsum(kept) - 1
    unified_of = np.where(unified_of >= 0, remap[np.maximum(unified_of, 0)], -1)
    return Reunited(geoms[kept], unified_of, kept, pieces, slivers, bridges)


def _bridge(
    g: int,
    main: BaseGeometry,
    piece: BaseGeometry,
    geoms: np.ndarray,
    unified_of: np.ndarray,
    points: np.ndarray,
    key: list[tuple[str, ...]],
    hard: Sequence[Layer],
    fixed: np.ndarray,
    kept: np.ndarray,
) -> np.ndarray | None:
    """Return the geometries with ``piece`` joined to ``main`` by a corridor, or None.

    The corridor never crosses a household, a hard-layer border or a ``fixed`` grid (those
    neither give nor receive); grids already dissolved (not ``kept``) are left as they are.
    """
    corridor = shapely.buffer(shapely.shortest_line(piece, main), CORRIDOR_M / 2)
    if not inside(corridor, key[g], hard):
        return None
    out = np.array(geoms, dtype=object)
    for k in shapely.STRtree(geoms).query(corridor, predicate="intersects").tolist():
        if k == g or not kept[k]:
            continue
        if fixed[k] and shapely.area(shapely.intersection(corridor, geoms[k])) > TOLERANCE_M2:
            return None
        if shapely.intersects(corridor, points[unified_of == k]).any():
            return None
        rest = polygonal(shapely.difference(geoms[k], corridor, grid_size=GRID_SIZE))
        if _parts(rest) != 1:
            return None
        out[k] = rest
    grown = polygonal(shapely.union(geoms[g], corridor, grid_size=GRID_SIZE))
    out[g] = polygonal(shapely.intersection(grown, shapely.union_all(geoms), grid_size=GRID_SIZE))
    return out if _parts(out[g]) == 1 else None


def _parts(geom: BaseGeometry) -> int:
    parts = shapely.get_parts(geom)
    return int((shapely.area(parts) > TOLERANCE_M2).sum())


def _receiver(
    piece: BaseGeometry,
    giver: int,
    households: int,
    geoms: np.ndarray,
    counts: np.ndarray,
    key: list[tuple[str, ...]],
    hard: Sequence[Layer],
    bounds: Bounds,
    closed: np.ndarray,
) -> int | None:
    """Return the neighbour to take ``piece`` (best: holds it in its hard grids, fits bounds)."""
    near = shapely.STRtree(geoms).query(piece, predicate="intersects")
    near = np.array([k for k in near.tolist() if k != giver and not closed[k]], dtype=int)
    if not len(near):
        return None
    lengths = shared_lengths(np.array([piece] * len(near), dtype=object), geoms[near])
    best: tuple[tuple[bool, bool, float], int] | None = None
    for k, length in zip(near.tolist(), lengths.tolist(), strict=True):
        if length <= 0:
            continue
        rank = (
            inside(piece, key[k], hard),
            not households or fits(counts[k] + households, counts[k], bounds),
            length,
        )
        if best is None or rank > best[0]:
            best = (rank, k)
    return None if best is None else best[1]
