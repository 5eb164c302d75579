"""settle_overlaps: the slivers two grids of a level share go to one of them, cut exactly."""

from __future__ import annotations

import numpy as np
import shapely

from gridsvc.partition.overlaps import settle_overlaps

CELLS = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], dtype=object)
OWNER = np.array([0, 1])
NOBODY = [np.empty((0, 2)), np.empty((0, 2))]


def _overlap(grids: np.ndarray) -> float:
    return float(shapely.area(shapely.intersection(grids[0], grids[1])))


def test_the_sliver_stays_with_the_grid_whose_cells_hold_it() -> None:
    """Grid 1 was bent 5 cm into grid 0's cell: it loses the sliver, and nothing else."""
    grids = np.array([shapely.box(0, 0, 10, 10), shapely.box(9.95, 0, 20, 10)], dtype=object)
    out = settle_overlaps(grids, CELLS, OWNER, NOBODY)
    assert _overlap(grids) > 0.49
    assert _overlap(out) == 0.0
    assert out[0] is grids[0]
    assert shapely.equals(out[1], shapely.box(10, 0, 20, 10))
    assert shapely.area(shapely.union_all(out)) == shapely.area(shapely.union_all(grids))


def test_a_grid_keeps_the_sliver_holding_one_of_its_households() -> None:
    """Cut out of grid 1, the sliver would leave its household 4 cm outside: grid 0 gives it."""
    grids = np.array([shapely.box(0, 0, 10, 10), shapely.box(9.95, 0, 20, 10)], dtype=object)
    members = [np.array([[5.0, 5.0]]), np.array([[9.96, 5.0], [15.0, 5.0]])]
    out = settle_overlaps(grids, CELLS, OWNER, members)
    assert _overlap(out) == 0.0
    assert shapely.equals(out[0], shapely.box(0, 0, 9.95, 10))
    assert out[1] is grids[1]


def test_a_grid_the_cut_would_break_keeps_the_sliver() -> None:
    """A sliver across grid 1's neck would leave it in two pieces: grid 0 gives it instead."""
    neck = shapely.union_all([shapely.box(9.95, 0, 20, 4), shapely.box(9.95, 6, 20, 10)])
    grids = np.array(
        [shapely.box(0, 0, 10, 10), shapely.union(neck, shapely.box(9.95, 4, 10, 6))],
        dtype=object,
    )
    out = settle_overlaps(grids, CELLS, OWNER, NOBODY)
    assert _overlap(out) == 0.0
    assert shapely.equals(out[0], shapely.box(0, 0, 9.95, 10))
    assert shapely.get_num_geometries(out[1]) == 1


def test_grids_that_only_meet_come_back_as_they_were() -> None:
    grids = CELLS.copy()
    assert settle_overlaps(grids, CELLS, OWNER, NOBODY) is grids


def test_a_grid_of_several_parts_loses_the_sliver_and_keeps_its_parts() -> None:
    """Both grids carry a speck apart (a snapped island, under check's AREA_TOL): the cut
    leaves grid 1 in as many parts as before, so it is made, and the speck stays with it."""
    speck = shapely.box(30, 0, 30.5, 0.5)
    grids = np.array(
        [
            shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(-10, 0, -9.5, 0.5)]),
            shapely.MultiPolygon([shapely.box(9.95, 0, 20, 10), speck]),
        ],
        dtype=object,
    )
    out = settle_overlaps(grids, CELLS, OWNER, NOBODY)
    assert _overlap(out) == 0.0
    assert out[0] is grids[0]
    assert shapely.equals(out[1], shapely.MultiPolygon([shapely.box(10, 0, 20, 10), speck]))


def test_a_grid_wholly_inside_another_is_cut_out_of_it() -> None:
    """``overlaps`` is false for a grid within another (check_partition flags them): the inner
    one would be emptied, so the outer one is cut around it, a hole where the inner grid is."""
    inner = shapely.box(2, 2, 4, 4)
    grids = np.array([shapely.box(0, 0, 10, 10), inner], dtype=object)
    out = settle_overlaps(grids, CELLS, OWNER, NOBODY)
    assert _overlap(grids) == 4.0
    assert _overlap(out) == 0.0
    assert out[1] is grids[1]
    assert shapely.equals(out[0], shapely.difference(shapely.box(0, 0, 10, 10), inner))


def test_a_grid_inside_another_along_its_edge_is_cut_out_of_it() -> None:
    """The inner grid shares the outer one's edge: the outer one is left one piece, notched."""
    inner = shapely.box(8, 0, 10, 2)
    grids = np.array([shapely.box(0, 0, 10, 10), inner], dtype=object)
    out = settle_overlaps(grids, CELLS, OWNER, NOBODY)
    assert _overlap(out) == 0.0
    assert out[1] is grids[1]
    assert shapely.area(out[0]) == 96.0
    assert shapely.get_num_geometries(out[0]) == 1
