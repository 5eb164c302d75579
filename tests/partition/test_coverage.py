"""Borders of every pair of cells from one noding pass, coverage unions, inherited tiles."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gridsvc.geo import metric_crs
from gridsvc.partition import Bounds
from gridsvc.partition.atoms import AtomColumns, build_atoms
from gridsvc.partition.coverage import Borders, Known, borders, union_cells
from gridsvc.partition.graph import MIN_SHARED, build_graph
from gridsvc.partition.level import Tiles, inherit, partition_level
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


def test_cells_a_millimetre_apart_are_neighbours_only_in_a_bridging_graph() -> None:
    cells = np.array([shapely.box(0, 0, 10, 10), shapely.box(10.001, 0, 20, 10)], dtype=object)
    found = borders(cells)
    assert found.u.tolist() == [0] and found.gap.tolist() == [True]
    assert found.length[0] == pytest.approx(10.0, abs=0.01)
    blank = np.full(2, "", dtype=object)
    assert build_graph(cells, np.zeros(2, dtype=int), blank, blank).nbrs == [{}, {}]
    bridged = build_graph(cells, np.zeros(2, dtype=int), blank, blank, bridge=True)
    assert bridged.nbrs[0] == {1: pytest.approx(10.0, abs=0.01)}


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
    got = inherit(tiles, atoms)
    assert got is not None
    terr, known = got
    assert known is None  # the tiles came without borders
    assert [g.equals(tiles.geoms[i]) for g, i in zip(terr.cells, (2, 0), strict=True)] == [True] * 2
    assert terr.cell_block.tolist() == [1, 0]
    assert len(terr.orphans) == 1 and terr.orphans[0].equals(tiles.geoms[1])


def test_inherit_numbers_the_known_borders_as_the_territory_numbers_its_cells() -> None:
    geoms = _t_junction()  # borders 0|1 5 m, 0|2 5 m, 1|2 10 m; tile 1 is a share (fresh)
    known = Known(borders(geoms).take(np.array([0, -1, 2])), np.array([False, True, False]))
    tiles = Tiles(geoms, np.zeros(3, dtype=int), np.array([2, 2, 0]), known)
    # atoms: 0 on tile 2, 1 on tile 0: the territory's cells are tiles 2, 0, then orphan 1
    got = inherit(tiles, _atoms(np.array([0, 0, 1]), np.array([0, 1]), np.array([False, False])))
    assert got is not None and got[1] is not None
    terr, mine = got
    assert mine.fresh.tolist() == [False, False, True]
    cells = np.concatenate([terr.cells, terr.orphans])
    assert [c.equals(geoms[i]) for i, c in zip((2, 0, 1), cells, strict=True)] == [True] * 3
    assert _pairs(mine.lines) == pytest.approx({(0, 1): 5.0})
    whole = borders(cells, known=mine)
    assert _pairs(whole) == pytest.approx({(0, 1): 5.0, (0, 2): 10.0, (1, 2): 5.0})
    _assert_same_borders(whole, borders(cells))


def test_inherit_declines_a_unit_spread_over_two_tiles() -> None:
    tiles = Tiles(geoms=_t_junction(), block=np.zeros(3, dtype=int), of_member=np.array([0, 1]))
    atoms = _atoms(np.array([0, 0]), np.array([0]), np.array([False]))
    assert inherit(tiles, atoms) is None


def _pairs(found: Borders) -> dict[tuple[int, int], float]:
    """Return the length of each pair's border, pairs under ``MIN_SHARED`` left out (no edge
    of a graph: the noding of other cells may make or unmake such a crumb)."""
    return {
        (int(u), int(v)): float(x)
        for u, v, x in zip(found.u, found.v, found.length, strict=True)
        if x > MIN_SHARED
    }


def _assert_same_borders(got: Borders, want: Borders) -> None:
    mine, ref = _pairs(got), _pairs(want)
    assert set(mine) == set(ref)
    for pair, length in ref.items():
        assert mine[pair] == pytest.approx(length, abs=0.05), pair
    lines = got.lines(np.arange(len(got.u)))
    assert shapely.length(lines).tolist() == pytest.approx(got.length.tolist())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40), st.integers(2, 5))
def test_borders_within_groups_are_the_borders_of_the_groups_cells(
    seed: int, n: int, groups: int
) -> None:
    cells = _voronoi_cells(seed, n)
    found = borders(cells)
    group = np.random.default_rng(seed).integers(-1, groups, len(cells))
    for g, part in enumerate(found.within(group, groups)):
        mine = np.flatnonzero(group == g)
        slot = np.full(len(cells), -1)
        slot[mine[::-1]] = np.arange(len(mine))  # numbered backwards: pairs turn around
        taken = part.take(slot)
        want = found.take(slot)
        rows = found.rows()
        assert (taken.u < taken.v).all()
        for u, v, length in zip(taken.u, taken.v, taken.length, strict=True):
            a, b = sorted((int(mine[::-1][u]), int(mine[::-1][v])))
            assert length == found.length[rows[(a, b)]]  # exactly: taken, not found again
        assert taken.u.tolist() == want.u.tolist() and taken.v.tolist() == want.v.tolist()
        lines = taken.lines(np.arange(len(taken.u)))
        assert shapely.length(lines).tolist() == pytest.approx(taken.length.tolist())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40), st.floats(0.0, 3.1))
def test_known_borders_and_the_borders_of_cut_cells_are_those_found_afresh(
    seed: int, n: int, angle: float
) -> None:
    """Cut one cell in two (as an empty cell is shared out): the borders of the other cells
    are taken from before, the pieces' found among the cells near them."""
    cells = _voronoi_cells(seed, n)
    x = int(np.argmax(shapely.area(cells)))
    cx, cy = shapely.get_coordinates(shapely.centroid(cells[x]))[0]
    dx, dy = 1000 * np.cos(angle), 1000 * np.sin(angle)
    half = shapely.Polygon(
        [
            (cx - dx, cy - dy),
            (cx + dx, cy + dy),
            (cx + dx - dy, cy + dy + dx),
            (cx - dx - dy, cy - dy + dx),
        ]
    )
    pieces = [
        shapely.intersection(cells[x], half, grid_size=GRID_SIZE),
        shapely.difference(cells[x], half, grid_size=GRID_SIZE),
    ]
    pieces = [p for p in pieces if shapely.area(p) > 1.0]
    new = np.concatenate([np.delete(cells, x), np.array(pieces, dtype=object)])
    slot = np.arange(len(cells)) - (np.arange(len(cells)) > x)
    slot[x] = -1
    known = Known(borders(cells).take(slot), np.arange(len(new)) >= len(cells) - 1)
    _assert_same_borders(borders(new, known=known), borders(new))


def test_a_grids_tiles_carry_the_borders_a_noding_of_its_territory_finds() -> None:
    """禹都: each base grid's territory one level down (its units' cells, empty cells and the
    shares of empty rings it got) comes with the borders the level above found; with those
    of its shares found among its own tiles, they are the borders a noding of the territory
    finds."""
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "yudu"
    community, households, buildings, barriers = (
        gpd.read_file(folder / f"{part}.geojson")
        for part in ("community", "households", "buildings", "barriers")
    )
    crs = metric_crs(community)
    outline = community.to_crs(crs).geometry.iloc[0]
    hh = households.to_crs(crs).reset_index(drop=True)
    xy = shapely.get_coordinates(hh.geometry.to_numpy())
    compounds = pd.Series(
        buildings["compound"].fillna("").astype(str).to_numpy(), index=buildings["id"].astype(str)
    )
    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    grids = partition_level(
        outline, hh, xy, Bounds(30, 50), barriers=barriers.to_crs(crs).geometry.to_numpy(),
        compounds=compounds, to_wgs=to_wgs, notes=[],
    )  # fmt: skip
    group = np.full(len(hh), -1)
    for i, grid in enumerate(grids):
        group[grid.members] = i
    atoms = build_atoms(hh, xy, Bounds(1, 15), compounds=compounds, group=group).columns()
    checked = shares = 0
    for grid in grids:
        assert grid.tiles is not None
        got = inherit(grid.tiles, atoms.restrict(grid.members))
        if got is None or got[1] is None:
            continue
        terr, known = got
        cells = np.concatenate([terr.cells, terr.orphans])
        _assert_same_borders(borders(cells, known=known), borders(cells))
        checked += 1
        shares += int(known.fresh.any())
    assert checked > 0.8 * len(grids) and shares > 0


def test_a_level_with_none_below_gives_its_grids_no_tiles(lattice: tuple) -> None:
    community, _, households = lattice
    crs = metric_crs(community)
    hh = households.to_crs(crs).reset_index(drop=True)
    xy = shapely.get_coordinates(hh.geometry.to_numpy())
    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    outline = community.to_crs(crs).geometry.iloc[0]
    kw = {"barriers": None, "compounds": None, "to_wgs": to_wgs, "notes": []}
    last = partition_level(outline, hh, xy, Bounds(30, 50), below=False, **kw)
    above = partition_level(outline, hh, xy, Bounds(30, 50), **kw)
    assert [c.tiles for c in last] == [None] * len(last)
    assert all(c.tiles is not None for c in above)
    assert [c.geometry.wkb for c in last] == [c.geometry.wkb for c in above]
