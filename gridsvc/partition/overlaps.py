"""Settle the overlaps snapping leaves between the grids a level draws (rule 5: no two overlap).

Every polygon is snapped to the 1 cm grid (:data:`.territory.GRID_SIZE`), and where edges are
rounded apart they overlap in slivers: a cell's crossing of a slanted road rounded off it bends
the cell's edge into the block across (:func:`.territory.tessellate`), a share of an empty cell
bends into the grid across the cell's edge (:mod:`.empties`). Both are matched vertex for
vertex where they can be, yet 1–2 % of random communities had two grids or micro-grids sharing
up to 0.22 m², and Baltimore's census blocks 0.28 m². They are settled here, once, on the
grids :func:`.level.partition_level` draws, not on the cells: cut there, the cells' border
lengths and so the plans moved (禹都's mean Polsby–Popper fell from 0.629 to 0.611).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .territory import GRID_SIZE, polygon_parts

__all__ = ["EXACT_M", "clip_to", "settle_overlaps"]

# metres: the grid overlaps are cut on, far finer than GRID_SIZE; GEOS's float overlay of edges
# running nearly along each other (a vertex 3 mm off a 50 m edge) found no overlap where
# 0.05 m² was, and cut one 0.28 m² larger than the shape
EXACT_M = 1e-7


def settle_overlaps(
    grids: np.ndarray, cells: np.ndarray, cell_grid: np.ndarray, members: list[np.ndarray]
) -> np.ndarray:
    """Return ``grids`` with no two overlapping: where two do, the overlap stays with the grid
    whose ``cells`` (``cell_grid``: the grid of each, -1 for none) hold more of it (the
    lower-numbered on a tie) and is cut out of the other.

    The cut is exact (on :data:`EXACT_M`), not on the 1 cm grid: snapped, the cut grid bent
    its edges through the keeper's vertices and overlapped it or its other neighbours again;
    exact, its edge there is the keeper's, and only the points where their edges cross are
    off the 1 cm grid. A cut is undone, and the overlap goes to the other grid, when it would
    leave the grid in pieces, one of its households (``members``: their points, a row each)
    more than a grid step outside, or take more than the overlap.
    """
    a, b = shapely.STRtree(grids).query(grids)  # boxes, then one relate a pair: 3× cheaper
    a, b = a[a < b], b[a < b]
    pairs = np.column_stack([a, b])[shapely.overlaps(grids[a], grids[b])]
    if len(pairs) == 0:
        return grids
    tree = shapely.STRtree(cells)
    out = grids.copy()
    for i, j in pairs.tolist():
        overlap = shapely.intersection(out[i], out[j], grid_size=EXACT_M)
        common = shapely.area(overlap)
        if common == 0:
            continue
        near = tree.query(overlap, predicate="intersects")
        held = shapely.area(shapely.intersection(cells[near], overlap))
        first = (
            (j, i)
            if held[cell_grid[near] == j].sum() > held[cell_grid[near] == i].sum()
            else (i, j)
        )
        for keep, lose in (first, first[::-1]):
            area = shapely.area(out[lose])  # the float error of areas grows with them
            parts = polygon_parts(shapely.difference(out[lose], out[keep], grid_size=EXACT_M))
            if (
                len(parts) == 1
                and abs(area - shapely.area(parts[0]) - common) < 1e-6 + 1e-9 * area
                and (shapely.distance(parts[0], shapely.points(members[lose])) <= GRID_SIZE).all()
            ):
                out[lose] = parts[0]
                break
    return out


def clip_to(outline: BaseGeometry, geoms: np.ndarray) -> np.ndarray:
    """Return ``geoms`` cut exactly (on :data:`EXACT_M`) to ``outline`` where they reach beyond.

    A grid's micro-grids are drawn on the tiles it was built from, before :func:`settle_overlaps`
    cut slivers out of it: unclipped, a micro-grid kept up to 0.2 m² of its parent's neighbour
    and overlapped that neighbour's micro-grids there (禹都's by 0.43 m², Baltimore's, whose
    areas are cut again on the 1 cm grid, by 0.44 m²). Cut exactly, the micro-grids' edge there
    is the parent's. A grid wholly beyond is left as it is: on the fixtures and 200 random
    communities none was, and none was cut in two. It costs about 5 % of the engine's CPU (12
    of 250 ms on 禹都, 20 of 400 ms on urban), mostly the test of every micro-grid."""
    shapely.prepare(outline)
    out = geoms.copy()
    for i in np.flatnonzero(~shapely.covers(outline, geoms)).tolist():
        parts = polygon_parts(shapely.intersection(geoms[i], outline, grid_size=EXACT_M))
        if len(parts):
            out[i] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))
    return out
