"""Territory of areal units (census blocks, compounds): each area keeps its own polygon.

In areas mode the households are points spread on a lattice inside their area (see
:mod:`.areas`), standing for the area's count. Voronoi cells of those points (or of an atom's
mean point) cannot reproduce the areas' outlines: part of a block went to a neighbour's cell and
the households there fell outside their own grid (486 of Baltimore's 2,894). Here an atom's cell
is made of its areas' polygons instead, so every household lies in its grid and grids follow
the block outlines (the streets). An area split into strips (over the upper bound) is divided
among its strips by the Voronoi cells of their households inside the area's polygon.

Ground no area covers (and areas nobody lives in) becomes empty pieces that join a
neighbouring grid, as empty blocks do; barriers still cut areas into blocks, and an area a
barrier crosses reaches across it to its households on the far side (as a unit does in point
mode), so no household is left outside its atom's cell.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .territory import (
    GRID_SIZE,
    Territory,
    _block_of,
    _cells_in_block,
    _majority,
    assemble,
    blocks,
    cut_soft_lines,
    polygon_parts,
)

__all__ = ["area_territory"]

SLIVER = 1e-4  # m²: pieces smaller than this are dropped (snapping noise)


def _pieces(
    block: BaseGeometry, shapes: np.ndarray, area_of: np.ndarray, sites: np.ndarray
) -> tuple[list[BaseGeometry], list[np.ndarray], list[BaseGeometry]]:
    """Cut ``block`` by the areas of its ``sites``; return inhabited pieces, their sites, rest."""
    inhabited: list[BaseGeometry] = []
    held: list[np.ndarray] = []
    taken: list[BaseGeometry] = []
    empty: list[BaseGeometry] = []
    for a in np.unique(area_of).tolist():
        piece: BaseGeometry = _polygons(shapely.intersection(shapes[a], block, grid_size=GRID_SIZE))
        if taken:  # areas that overlap: the first keeps the overlap
            piece = shapely.difference(piece, shapely.union_all(taken), grid_size=GRID_SIZE)
        mine = np.flatnonzero(area_of == a)
        for part in _polygons(piece).geoms:
            taken.append(part)
            inside = mine[shapely.intersects_xy(part, sites[mine, 0], sites[mine, 1])]
            if len(inside):
                inhabited.append(part)
                held.append(inside)
            else:
                empty.append(part)
    rest = shapely.difference(block, shapely.union_all(taken), grid_size=GRID_SIZE)
    return inhabited, held, empty + list(_polygons(rest).geoms)


def _polygons(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Return the polygons of ``geom`` above the sliver size (lines and points dropped)."""
    return shapely.MultiPolygon(list(polygon_parts(geom, SLIVER)))


def area_territory(
    outline: BaseGeometry,
    xy: np.ndarray,
    barriers: np.ndarray | None,
    soft: np.ndarray | None,
    *,
    members: tuple[np.ndarray, np.ndarray],
    areas: tuple[np.ndarray, np.ndarray],
) -> Territory | None:
    """Give each atom (point ``xy[i]``) the polygons of its areas inside ``outline``.

    ``members`` is (household points, atom of each); ``areas`` is (area of each household,
    area polygons), all in metres. Returns None when some atom would get no territory (no
    household of it lies in its area), so the caller falls back to Voronoi cells.
    """
    sites, owner = members
    area_of, shapes = areas
    hard = blocks(outline, barriers)
    tree = shapely.STRtree(hard)
    site_block = _block_of(tree, sites)
    block_of = _majority(owner, site_block, _block_of(tree, xy))
    parts: list[list[BaseGeometry]] = [[] for _ in range(len(xy))]
    orphans: list[BaseGeometry] = []
    orphan_block: list[int] = []
    for b in range(len(hard)):
        mine = np.flatnonzero(site_block == b)
        inhabited, held, empty = _pieces(hard[b], shapes, area_of[mine], sites[mine])
        orphans += empty
        orphan_block += [b] * len(empty)
        for piece, inside in zip(inhabited, held, strict=True):
            rows = mine[inside]
            atoms, local = np.unique(owner[rows], return_inverse=True)
            for atom, cell in zip(atoms, _cells_in_block(piece, sites[rows], local), strict=True):
                parts[int(atom)].append(cell)
    if any(not p for p in parts):
        return None
    cells = np.array([shapely.union_all(p, grid_size=GRID_SIZE) for p in parts], dtype=object)
    orphan_ids = np.array(orphan_block, dtype=np.int64)
    territory = assemble(cells, block_of, np.array(orphans, dtype=object), orphan_ids, hard)
    return cut_soft_lines(territory, outline, barriers, soft, sites, owner)
