"""reunite(): detached pieces rejoin their grid by a corridor or go to a neighbour; slivers go."""

from __future__ import annotations

import numpy as np
import shapely

from gridsvc.merge.reunite import reunite
from gridsvc.partition import Bounds

WIDE = Bounds(1, 100)


def _points(*xy: tuple[float, float]) -> np.ndarray:
    return np.array(shapely.points(list(xy)), dtype=object)


def _grids(*geoms: shapely.Geometry) -> np.ndarray:
    return np.array(list(geoms), dtype=object)


def _one_polygon_each_holding_its_households(out, points: np.ndarray) -> None:
    for g, geom in enumerate(out.geoms):
        assert geom.geom_type == "Polygon"
        assert shapely.covers(geom, points[out.unified_of == g]).all()


def test_a_piece_across_empty_ground_is_joined_back_by_a_corridor() -> None:
    """A = x 0–40 plus a piece at x 50–60 on the south edge, holding one household.

    The piece's west side slants away, so the shortest line to A runs along the south edge.
    """
    piece = shapely.Polygon([(50, 0), (60, 0), (60, 10), (52, 10)])
    a = shapely.union(shapely.box(0, 0, 40, 40), piece)
    b = shapely.difference(shapely.box(40, 0, 100, 40), piece)
    points = _points((10, 20), (55, 5), (80, 30), (80, 10))
    out = reunite(_grids(a, b), np.array([0, 0, 1, 1]), points, [], bounds=WIDE, fixed=[0, 0])
    assert (out.bridges, out.pieces, out.slivers) == (1, 0, 0)
    assert out.unified_of.tolist() == [0, 0, 1, 1]  # nobody moved
    _one_polygon_each_holding_its_households(out, points)
    assert shapely.area(shapely.union_all(out.geoms)) == shapely.area(shapely.union(a, b))


def test_an_enclosed_piece_goes_to_the_grid_around_it_with_its_household() -> None:
    """The piece reaches B's north edge; a corridor from it to A would cut B in two halves."""
    piece = shapely.Polygon([(70, 15), (80, 15), (80, 40), (75, 40)])
    a = shapely.union(shapely.box(0, 0, 40, 40), piece)
    b = shapely.difference(shapely.box(40, 0, 100, 40), piece)
    points = _points((10, 20), (75, 20), (60, 5), (60, 35), (90, 20))
    out = reunite(_grids(a, b), np.array([0, 0, 1, 1, 1]), points, [], bounds=WIDE, fixed=[0, 0])
    assert (out.bridges, out.pieces) == (0, 1)
    assert out.unified_of.tolist() == [0, 1, 1, 1, 1]
    _one_polygon_each_holding_its_households(out, points)


def test_an_empty_sliver_dissolves_into_its_neighbour_and_the_grid_is_dropped() -> None:
    a, b = shapely.box(0, 0, 50, 40), shapely.box(50, 0, 100, 40)
    sliver = shapely.box(100, 0, 100.01, 40)  # 0.4 m²: below 100 m² and 3 m wide
    points = _points((10, 20), (60, 20))
    out = reunite(_grids(a, b, sliver), np.array([0, 1]), points, [], bounds=WIDE, fixed=[0, 0, 0])
    assert out.kept.tolist() == [True, True, False]
    assert out.slivers == 1 and len(out.geoms) == 2
    assert shapely.covers(out.geoms[1], sliver)
    _one_polygon_each_holding_its_households(out, points)


def test_a_fixed_empty_grid_stays() -> None:
    """A dedicated block (a school) is fixed: it stays even when small."""
    a, school = shapely.box(0, 0, 50, 40), shapely.box(50, 0, 55, 10)
    out = reunite(
        _grids(a, school), np.array([0]), _points((10, 20)), [], bounds=WIDE, fixed=[0, 1]
    )
    assert out.kept.tolist() == [True, True] and out.slivers == 0


def test_a_corridor_never_cuts_into_a_fixed_grid() -> None:
    """A's piece at x 50–90 lies beyond a school (x 40–50, fixed) that fills the gap. The
    piece's west side slants, so a corridor would run along the south edge and leave the
    school in one piece; still the school neither gives nor receives: the piece goes to B and
    the school keeps every square metre."""
    piece = shapely.Polygon([(50, 0), (90, 0), (90, 20), (52, 20)])
    a = shapely.union(shapely.box(0, 0, 40, 40), piece)
    school = shapely.box(40, 0, 50, 40)
    b = shapely.difference(shapely.box(50, 0, 90, 40), piece)
    points = _points((10, 20), (70, 10), (70, 30))
    out = reunite(
        _grids(a, school, b), np.array([0, 0, 2]), points, [], bounds=WIDE, fixed=[0, 1, 0]
    )
    assert out.bridges == 0 and out.pieces == 1
    assert shapely.equals(out.geoms[1], school)
    assert out.unified_of.tolist() == [0, 2, 2]
    _one_polygon_each_holding_its_households(out, points)
