"""Empty cells (road strips, the ring inside a compound wall) shared among the grids around them."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridsvc.partition.empties import share_empties


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
