"""Empty cells (road strips, the ring inside a compound wall) shared among the grids around them."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridsvc.partition.empties import _union, share_empties


def _pp(g: shapely.Geometry) -> float:
    return float(4 * np.pi * g.area / g.length**2)


def _ring_case() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[dict[int, float]]]:
    """Four inhabited 50 m squares (cells 0–3, one grid each) inside a 10 m empty ring (cell 4).

    ::

        +--------------+
        | +----+----+  |
        | | 2  | 3  |  |
        | +----+----+  |   ring = cell 4, empty, touching all four
        | | 0  | 1  |  |
        | +----+----+  |
        +--------------+
    """
    squares = [shapely.box(x, y, x + 50, y + 50) for y in (0, 50) for x in (0, 50)]
    ring = shapely.box(-10, -10, 110, 110).difference(shapely.box(0, 0, 100, 100))
    cells = np.array([*squares, ring], dtype=object)
    nbrs: list[dict[int, float]] = [{} for _ in range(5)]
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4)]:
        nbrs[a][b] = nbrs[b][a] = 1.0
    return [np.array([0, 4]), np.array([1]), np.array([2]), np.array([3])], cells, nbrs


def test_a_ring_is_shared_among_the_grids_it_borders_and_the_tiling_holds() -> None:
    parts, cells, nbrs = _ring_case()
    empty = np.array([False] * 4 + [True])
    geoms = share_empties(parts, cells, empty, np.zeros(5, dtype=int), nbrs)[0]
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert all(g.area > 50 * 50 for g in geoms)  # every grid got a piece of the ring
    assert sum(g.area for g in geoms) == pytest.approx(120 * 120)
    assert shapely.union_all(geoms).equals(shapely.box(-10, -10, 110, 110))
    assert not any(geoms[i].overlaps(geoms[j]) for i in range(4) for j in range(i + 1, 4))
    whole = shapely.union_all([cells[0], cells[4]])
    assert min(_pp(g) for g in geoms) > _pp(whole)


def test_a_ring_is_never_shared_with_grids_of_another_region() -> None:
    parts, cells, nbrs = _ring_case()
    empty = np.array([False] * 4 + [True])
    region = np.array([0, 1, 1, 1, 0])  # only grid 0 shares the ring's region
    geoms = share_empties(parts, cells, empty, region, nbrs)[0]
    assert geoms[0].equals(shapely.union_all([cells[0], cells[4]]))
    assert [g.area for g in geoms[1:]] == [2500.0, 2500.0, 2500.0]


def test_an_empty_block_hanging_on_a_shared_ring_follows_the_ring_piece_it_touches() -> None:
    """urban's worst grid before: its empty blocks reached the rest of it only through the ring.

    Grid 0 holds square 0, the ring (cell 4) and an empty block east of the ring (cell 5) that
    touches nothing but the ring. Sharing the ring leaves the block cut off from square 0, so
    the cut used to be undone and grid 0 kept the whole ring (Polsby–Popper ≈ 0.13). The block
    now goes to the grid whose share of the ring it touches, and the ring is still shared.
    """
    parts, cells, nbrs = _ring_case()
    block = shapely.box(110, 20, 150, 80)
    cells = np.array([*cells, block], dtype=object)
    nbrs.append({4: 1.0})
    nbrs[4][5] = 1.0
    parts[0] = np.array([0, 4, 5])
    empty = np.array([False] * 4 + [True, True])
    geoms, cuts = share_empties(parts, cells, empty, np.zeros(6, dtype=int), nbrs)
    assert 4 in cuts and len(cuts[4]) == 4  # the ring is shared among all four grids
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.union_all(geoms).equals(shapely.union_all(cells))
    assert sum(g.area for g in geoms) == pytest.approx(sum(c.area for c in cells))
    assert geoms[0].area < 50 * 50 + 120 * 120 - 100 * 100  # no longer the whole ring
    assert not geoms[0].intersects(block.centroid)  # the block left grid 0 ...
    assert any(g.contains(block.centroid) for g in geoms[1:])  # ... for a neighbour
    whole = shapely.union_all([cells[0], cells[4], block])
    assert min(_pp(g) for g in geoms) > _pp(whole) + 0.1


def test_a_grid_whose_union_keeps_one_part_is_one_polygon() -> None:
    # a share thinner than the grid step vanishes in the union, which GEOS returns as a
    # MultiPolygon of one part: the grid is whole, so no sharing around it is to be undone
    grid = shapely.box(0, 0, 10, 10)
    sliver = shapely.box(20, 0, 20.0004, 5)
    merged = _union([grid, sliver])
    assert shapely.get_type_id(merged) == 3
    assert merged.equals(grid)
