"""Borders of every pair of cells from one noding pass, coverage unions, inherited tiles."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.partition.atoms import AtomColumns
from gridsvc.partition.coverage import borders, union_cells
from gridsvc.partition.level import Tiles, inherit
from gridsvc.partition.territory import GRID_SIZE, shared_lengths


def _t_junction() -> np.ndarray:
    """Cell 0 is a square; cells 1 and 2 split its right neighbour, meeting mid-edge of 0."""
    return np.array(
        [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 5), shapely.box(10, 5, 20, 10)],
        dtype=object,
    )


def test_borders_see_through_a_t_junction() -> None:
    found = borders(_t_junction())
    got = {
        (int(u), int(v)): float(x) for u, v, x in zip(found.u, found.v, found.length, strict=True)
    }
    assert got == pytest.approx({(0, 1): 5.0, (0, 2): 5.0, (1, 2): 10.0})
    lines = found.lines(np.arange(len(found.u)))
    assert shapely.length(lines).tolist() == pytest.approx(found.length.tolist())


def test_cells_a_millimetre_apart_share_a_border_only_when_bridged() -> None:
    cells = np.array([shapely.box(0, 0, 10, 10), shapely.box(10.001, 0, 20, 10)], dtype=object)
    assert len(borders(cells).u) == 0
    bridged = borders(cells, bridge=True)
    assert bridged.u.tolist() == [0] and bridged.length[0] == pytest.approx(10.0, abs=0.01)


def _voronoi_cells(seed: int, n: int) -> np.ndarray:
    """Voronoi cells of ``n`` random points in a pentagon, snapped to the grid."""
    rng = np.random.default_rng(seed)
    block = shapely.Polygon([(0, 0), (100, 0), (120, 60), (30, 90), (-10, 40)])
    xy = rng.uniform(5, 80, size=(n, 2))
    xy = xy[shapely.contains_xy(block, xy[:, 0], xy[:, 1])]
    raw = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=block))
    cells = shapely.intersection(raw, block, grid_size=GRID_SIZE)
    return np.asarray(cells[shapely.area(cells) > 0], dtype=object)


def _check_borders_against_pairwise_overlays(cells: np.ndarray) -> None:
    found = borders(cells)
    # the reference: each pair's overlay, its polygons only, as they are or one snapped onto the
    # other, whichever shares most (snapping moves a vertex by a grid step, so two cells may
    # run a centimetre apart; GEOS's snap can also fold an edge, so it is not enough alone)
    solid = np.array(
        [shapely.union_all([p for p in shapely.get_parts(c) if p.geom_type == "Polygon"])
         for c in cells],
        dtype=object,
    )  # fmt: skip
    a, b = shapely.STRtree(solid).query(solid, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    lengths = np.max(
        [
            shared_lengths(solid[a], solid[b]),
            shared_lengths(shapely.snap(solid[a], solid[b], 2 * GRID_SIZE), solid[b]),
            shared_lengths(shapely.snap(solid[b], solid[a], 2 * GRID_SIZE), solid[a]),
        ],
        axis=0,
    )
    want = {(int(x), int(y)): float(v) for x, y, v in zip(a, b, lengths, strict=True)}
    got = {
        (int(x), int(y)): float(v) for x, y, v in zip(found.u, found.v, found.length, strict=True)
    }
    for pair in set(want) | set(got):
        assert got.get(pair, 0.0) == pytest.approx(want.get(pair, 0.0), abs=0.05), pair
    lines = found.lines(np.arange(len(found.u)))
    assert shapely.length(lines).tolist() == pytest.approx(found.length.tolist())
    # the union of every cell is the overlay's union, one polygon
    whole = union_cells(solid)
    assert shapely.get_type_id(whole) == 3
    overlay = shapely.union_all(solid, grid_size=GRID_SIZE)
    assert shapely.area(shapely.symmetric_difference(whole, overlay)) < 1e-6


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40))
def test_borders_match_pairwise_overlays_on_voronoi_cells(seed: int, n: int) -> None:
    _check_borders_against_pairwise_overlays(_voronoi_cells(seed, n))


def test_a_cell_snapping_left_a_stray_line_borders_its_neighbours_once() -> None:
    """Seed 1500, n 15: cell 10 is a polygon plus a 1 cm line, and its edge with cell 9 runs
    a centimetre from cell 9's (each snapped on its own).

    The collection's boundary is None in GEOS (the pairwise reference got NaN), and with the
    line dropped borders() counted the 20.7 m edge once from each side (41.5 m).
    """
    cells = _voronoi_cells(1500, 15)
    assert shapely.get_type_id(cells).tolist().count(7) == 1
    found = borders(cells)
    got = {(int(x), int(y)): v for x, y, v in zip(found.u, found.v, found.length, strict=True)}
    assert got[(9, 10)] == pytest.approx(20.74, abs=0.01)
    _check_borders_against_pairwise_overlays(cells)


def test_union_cells_falls_back_to_the_overlay_at_a_t_junction() -> None:
    whole = union_cells(_t_junction())
    assert whole.equals(shapely.box(0, 0, 20, 10))


def _atoms(member: np.ndarray, ground: np.ndarray, stacked: np.ndarray) -> AtomColumns:
    n = len(ground)
    return AtomColumns(
        households=np.bincount(member, minlength=n).astype(float),
        xy=np.zeros((n, 2)),
        building=np.full(n, "", dtype=object),
        compound=np.full(n, "", dtype=object),
        floor_lo=np.full(n, np.nan),
        floor_hi=np.full(n, np.nan),
        stacked=stacked,
        ground=ground,
        member=member,
    )


def test_inherit_gives_each_unit_its_tile_and_keeps_the_rest_empty() -> None:
    tiles = Tiles(
        geoms=_t_junction(), block=np.array([0, 0, 1]), of_member=np.array([2, 2, 0, 0, 0])
    )
    # atoms: 0 on tile 2, 1 on tile 0 and 2 stacked above 1
    atoms = _atoms(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1]), np.array([False, False, True]))
    terr = inherit(tiles, atoms)
    assert terr is not None
    assert [g.equals(tiles.geoms[i]) for g, i in zip(terr.cells, (2, 0), strict=True)] == [True] * 2
    assert terr.cell_block.tolist() == [1, 0]
    assert len(terr.orphans) == 1 and terr.orphans[0].equals(tiles.geoms[1])


def test_inherit_declines_a_unit_spread_over_two_tiles() -> None:
    tiles = Tiles(geoms=_t_junction(), block=np.zeros(3, dtype=int), of_member=np.array([0, 1]))
    atoms = _atoms(np.array([0, 0]), np.array([0]), np.array([False]))
    assert inherit(tiles, atoms) is None
