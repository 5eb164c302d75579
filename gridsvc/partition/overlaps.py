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

from .territory import GRID_SIZE, polygon_parts, shared_lengths

__all__ = ["EXACT_M", "fit_to", "settle_overlaps"]

# metres: the grid overlaps are cut on, far finer than GRID_SIZE; GEOS's float overlay of edges
# running nearly along each other (a vertex 3 mm off a 50 m edge) found no overlap where
# 0.05 m² was, and cut one 0.28 m² larger than the shape
EXACT_M = 1e-7
GAP_M2 = 1e-6  # m²: a grid's micro-grids leaving less of it uncovered are left as they are
# m: what is left uncovered this close to a micro-grid joins it (the strips snapping leaves are
# under a centimetre wide): joined whole to one, a strip along its neighbours made a hair of it
# (Baltimore's micro-grids' mean Polsby–Popper fell from 0.556 to 0.532)
NEAR_M = 2 * GRID_SIZE


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
    leave the grid empty or in more pieces than it was (a grid may carry specks apart, under
    :data:`.check.AREA_TOL`: it keeps them), one of its households (``members``: their points,
    a row each) more than a grid step outside, or take more than the overlap. A grid wholly
    inside another is such a pair too: it would be emptied, so the other is cut around it.
    """
    a, b = shapely.STRtree(grids).query(grids)  # boxes, then one relate a pair: 3× cheaper
    a, b = a[a < b], b[a < b]
    # interiors meeting: ``overlaps`` is false for a grid wholly inside (or equal to) another
    pairs = np.column_stack([a, b])[shapely.relate_pattern(grids[a], grids[b], "T********")]
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
            if not 1 <= len(parts) <= len(polygon_parts(out[lose])):
                continue  # emptied, or in more pieces than it was (a grid may carry specks)
            cut = parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))
            if (
                abs(area - shapely.area(cut) - common) < 1e-6 + 1e-9 * area
                and (shapely.distance(cut, shapely.points(members[lose])) <= GRID_SIZE).all()
            ):
                out[lose] = cut
                break
    return out


def fit_to(outline: BaseGeometry, geoms: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Return ``geoms``, a grid's micro-grids (``flat``: not stacked, which share a footprint),
    cut exactly (on :data:`EXACT_M`) to ``outline``, the grid's polygon, and the flat ones
    grown to cover it: what they leave joins the micro-grids within :data:`NEAR_M` of it, the
    rest of a piece the one sharing its longest border.

    They are drawn on the tiles the grid was built from (or its areas cut again on the 1 cm
    grid), before :func:`settle_overlaps` cut slivers out of it and without the snapping that
    joined the shares of empty cells into it (:mod:`.empties`): unfitted, a micro-grid kept up
    to 0.44 m² of its parent's neighbour (禹都, Baltimore) and overlapped that neighbour's
    micro-grids there, and a grid's micro-grids left up to 0.83 m² of it uncovered. Cut and
    grown exactly, their edges there are the grid's. On the fixtures and 200 random
    communities no micro-grid lay wholly beyond its grid (it would be left as it is) and none
    was cut in two. It costs about 8 % of the engine's CPU (55 ms of 禹都's and urban's 0.65 s
    together): the test of every micro-grid, the exact cuts and the joins, a quarter each."""
    shapely.prepare(outline)
    out = geoms.copy()
    for i in np.flatnonzero(~shapely.covers(outline, geoms)).tolist():
        parts = polygon_parts(shapely.intersection(geoms[i], outline, grid_size=EXACT_M))
        if len(parts):
            out[i] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))
    hosts = np.flatnonzero(flat)
    if not len(hosts) or shapely.area(outline) - shapely.area(out[hosts]).sum() <= GAP_M2:
        return out
    covered = shapely.union_all(out[hosts], grid_size=EXACT_M)
    rest = shapely.difference(outline, covered, grid_size=EXACT_M)
    for i in hosts[shapely.intersects(out[hosts], rest)].tolist():
        near = shapely.buffer(out[i], NEAR_M, quad_segs=1)
        take = shapely.intersection(rest, near, grid_size=EXACT_M)
        grown = polygon_parts(shapely.union(out[i], take, grid_size=EXACT_M))
        if shapely.area(take) > 0 and len(grown) == 1:
            out[i] = grown[0]
            rest = shapely.difference(rest, take, grid_size=EXACT_M)
    for piece in polygon_parts(rest):
        near = hosts[shapely.intersects(out[hosts], piece)]
        if not len(near):
            continue
        lengths = shared_lengths(np.repeat(piece, len(near)), out[near])
        host = int(near[np.argmax(lengths)])
        grown = polygon_parts(shapely.union(out[host], piece, grid_size=EXACT_M))
        if lengths.max() > 0 and len(grown) == 1:
            out[host] = grown[0]
    return out
