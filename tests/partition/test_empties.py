"""Empty cells (road strips, the ring inside a compound wall) shared among the grids around them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from partition_drawings import UTM, X0, Y0, grid_of_buildings, to_wgs

from gridsvc.partition import Bounds, check_partition, partition
from gridsvc.partition.check import AREA_TOL
from gridsvc.partition.coverage import borders
from gridsvc.partition.empties import _union, share_empties
from gridsvc.partition.territory import tessellate


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


def _strip_case() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[dict[int, float]]]:
    """A walled compound of four 75 m × 100 m cells (0–3, one grid each, region 1), the 10 m
    empty strip along its north wall (cell 5) and a 40 m × 110 m cell west of both (cell 4,
    region 0, the strip's region: its grid holds the strip whole).

    ::

        +----+------------------------------+
        |    |           strip 5            |   (the road or the edge north of it)
        | 4  +=======+=======+=======+======+   the compound's wall
        |    |   0   |   1   |   2   |   3  |
        +----+-------+-------+-------+------+
    """
    squares = [shapely.box(x, 0, x + 75, 100) for x in (0, 75, 150, 225)]
    west = shapely.box(-40, 0, 0, 110)
    strip = shapely.box(0, 100, 300, 110)
    cells = np.array([*squares, west, strip], dtype=object)
    nbrs: list[dict[int, float]] = [{} for _ in range(6)]
    for a, b in [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (0, 5), (1, 5), (2, 5), (3, 5)]:
        nbrs[a][b] = nbrs[b][a] = 1.0
    parts = [np.array([0]), np.array([1]), np.array([2]), np.array([3]), np.array([4, 5])]
    return parts, cells, np.array([1, 1, 1, 1, 0, 0]), nbrs


def test_a_strip_along_another_regions_wall_goes_to_the_grids_behind_the_wall() -> None:
    """Session 9's 18 thin strip grids: the empty land between a compound's wall and the road
    belongs to the outside region, whose only grid touching it took it whole (Polsby–Popper
    0.11 here). The compound's grids now take the strip along their own wall."""
    parts, cells, region, nbrs = _strip_case()
    empty = np.array([False] * 5 + [True])
    whole = shapely.union_all([cells[4], cells[5]])
    assert _pp(whole) < 0.15
    geoms, cuts = share_empties(parts, cells, empty, region, nbrs)
    assert sorted(cuts[5]) == [0, 1, 2, 3, 4]
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.union_all(geoms).equals(shapely.union_all(cells))
    assert sum(g.area for g in geoms) == pytest.approx(sum(c.area for c in cells))
    for i in range(4):  # each compound grid took the strip outside its own wall
        assert geoms[i].contains(shapely.Point(37.5 + 75 * i, 105))
    assert geoms[4].area < cells[4].area + 10 * 10  # the west grid keeps little of it
    assert min(_pp(g) for g in geoms) > 0.5


def test_a_cut_across_a_wall_that_breaks_a_grid_gives_way_to_its_regions_own_cut() -> None:
    """The strip case with a 50 m cell north of the strip's east end (cell 6, region 0, its own
    grid) and an empty yard on the strip (cell 7, grid 4's, touching nothing else).

    Cut among all the grids, the strip under the yard goes to the compound's grid 2 and the
    yard, which no grid of its region then borders, leaves grid 4 in pieces: that cut is undone.
    Undoing it whole left grid 4 the whole strip (Polsby–Popper 0.11, 1M city: 0.148 → 0.078);
    the cut among its own region's grids stands instead (the yard follows grid 6's share)."""
    parts, cells, region, nbrs = _strip_case()
    north, yard = shapely.box(250, 110, 300, 160), shapely.box(140, 110, 160, 130)
    cells = np.array([*cells, north, yard], dtype=object)
    nbrs += [{5: 1.0}, {5: 1.0}]
    nbrs[5] |= {6: 1.0, 7: 1.0}
    parts = [*parts[:4], np.array([4, 5, 7]), np.array([6])]
    region = np.array([*region, 0, 0])
    empty = np.array([False] * 5 + [True, False, True])
    geoms, cuts = share_empties(parts, cells, empty, region, nbrs)
    assert sorted(cuts[5]) == [4, 5]  # no compound grid's piece
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert [g.equals(c) for g, c in zip(geoms[:4], cells[:4], strict=True)] == [True] * 4
    assert shapely.union_all(geoms).equals(shapely.union_all(cells))
    assert min(_pp(g) for g in geoms) > 0.2 > _pp(shapely.union_all(cells[[4, 5, 7]]))


def test_a_compounds_grids_take_the_strip_outside_its_wall_in_a_community() -> None:
    """Two walled compounds of four 40-household buildings each, 10 m of empty land around them
    (the community's edge runs along the road). The empty land is one block, joined to the
    north compound's region (its wall is the longer border), so before, the north grids alone
    shared it: the north-west one also took the strip down the south compound's west wall and
    along its south wall (Polsby–Popper 0.10). The south grids now take the strip outside their
    own wall; households keep their compound's grids.

    ::

        +---------------------------+
        | +-----------------------+ |
        | |  A0   A1   A2   A3    | |   north compound (110 m tall)
        | +-----------------------+ |
        | +-----------------------+ |   10 m strip between the walls
        | |  B0   B1   B2   B3    | |   south compound (100 m tall)
        | +-----------------------+ |
        +---------------------------+   road
    """
    north, south = shapely.box(10, 120, 310, 230), shapely.box(10, 10, 310, 110)
    a_b, a_h = grid_of_buildings(4, 1, 40, spacing=75, offset=(10, 137.5), prefix="A")
    b_b, b_h = grid_of_buildings(4, 1, 40, spacing=75, offset=(10, 22.5), prefix="B")
    a_b["compound"], b_b["compound"] = "north", "south"
    buildings = gpd.GeoDataFrame(pd.concat([a_b, b_b], ignore_index=True), crs=a_b.crs)
    households = gpd.GeoDataFrame(pd.concat([a_h, b_h], ignore_index=True), crs=a_h.crs)
    walls = to_wgs(
        [shapely.LineString(c.exterior.coords) for c in (north, south)], kind=["wall"] * 2
    )
    community = to_wgs([shapely.box(0, 0, 320, 240)], code=["140802002099"], name=["test"])
    result = partition(community, households, buildings=buildings, barriers=walls)
    assert check_partition(community, households, result, (Bounds(30, 50), Bounds(1, 15))) == []
    assert result.report["totals"]["barrier_crossings"] == 0
    grids = result.grids.to_crs(UTM).set_index("code")
    assert len(grids) == 8 and grids["polsby_popper"].min() > 0.25
    code_of = result.assignment.set_index("household_id")["grid_code"]
    south_codes = set(code_of[b_h["id"]])
    assert len(south_codes) == 4 and not south_codes & set(code_of[a_h["id"]])
    below = shapely.Point(X0 + 160, Y0 + 5)  # the strip between the south wall and the road
    holders = [c for c, g in grids.geometry.items() if g.contains(below)]
    assert len(holders) == 1 and holders[0] in south_codes


def test_a_ring_is_shared_across_regions_only_with_grids_whose_cells_border_it() -> None:
    parts, cells, nbrs = _ring_case()
    empty = np.array([False] * 4 + [True])
    region = np.array([0, 1, 1, 1, 0])  # only grid 0 shares the ring's region
    geoms, cuts = share_empties(parts, cells, empty, region, nbrs)
    assert sorted(cuts[4]) == [0, 1, 2, 3]  # squares 1-3 border the ring across its wall
    assert shapely.union_all(geoms).equals(shapely.box(-10, -10, 110, 110))
    assert min(_pp(g) for g in geoms) > _pp(shapely.union_all([cells[0], cells[4]]))
    nbrs[4] = {0: 1.0}  # now the ring borders only square 0 (a road between it and the rest)
    for i in (1, 2, 3):
        nbrs[i].pop(4)
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


def test_a_grid_joined_only_through_the_ring_keeps_the_arc_between_its_squares() -> None:
    """Grid 0 holds the opposite squares 0 and 3 (they meet at a corner only) and the ring.

    Sharing the ring leaves squares 0 and 3 apart, so the cut used to be undone and grid 0 kept
    the whole ring (Polsby–Popper 0.15; community 140802005001's worst grid was 0.074). Grid 0 now
    takes the share of one neighbour, the arc of the ring between its squares.
    """
    parts, cells, nbrs = _ring_case()
    parts = [np.array([0, 3, 4]), np.array([1]), np.array([2])]
    empty = np.array([False] * 4 + [True])
    geoms, cuts = share_empties(parts, cells, empty, np.zeros(5, dtype=int), nbrs)
    assert 4 in cuts  # the ring is still shared
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.union_all(geoms).equals(shapely.box(-10, -10, 110, 110))
    assert sum(g.area for g in geoms) == pytest.approx(120 * 120)
    whole = shapely.union_all([cells[0], cells[3], cells[4]])
    assert min(_pp(g) for g in geoms) > _pp(whole)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.floats(0.2, 0.8), st.booleans())
def test_grids_never_overlap_the_empty_block_across_a_slanted_road(
    seed: int, n: int, at: float, cut: bool
) -> None:
    """All households west of a slanted road: the block east of it is empty and stays whole in
    the tessellation. Where a cell's crossing of the road is rounded off the road, the cell bends
    into the block (the village's grids overlapped by 0.056 m²); a share of the block clipped
    on the grid bends into the cell across likewise (禹都's by 0.27 m²). The block is kept whole
    (another region) or shared among the cells' grids: either way the grids only meet."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 3_873_000.0
    outline = shapely.box(x0, y0, x0 + 309, y0 + 325)
    x = x0 + at * 309
    road = np.array([shapely.LineString([(x, y0 - 5), (x + 30.0123, y0 + 330)])], dtype=object)
    xy = np.column_stack([rng.uniform(x0 + 5, x - 5, n), rng.uniform(y0 + 5, y0 + 320, n)])
    terr = tessellate(outline, xy, road)
    assert len(terr.orphans) == 1
    cells = np.concatenate([terr.cells, terr.orphans])
    lines = borders(cells)
    nbrs: list[dict[int, float]] = [{} for _ in cells]
    for u, v, length in zip(lines.u.tolist(), lines.v.tolist(), lines.length.tolist(), strict=True):
        nbrs[u][v] = nbrs[v][u] = length
    orphan = len(cells) - 1
    home = max(nbrs[orphan], key=nbrs[orphan].__getitem__)
    parts = [np.array([i, orphan] if i == home else [i]) for i in range(orphan)]
    empty = np.arange(len(cells)) == orphan
    region = np.where(empty & (not cut), 1, 0)
    geoms = np.array(share_empties(parts, cells, empty, region, nbrs, lines=lines)[0])
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
    assert overlap.max(initial=0.0) < 1e-6
    assert all(shapely.is_valid(geoms))
    assert float(shapely.area(geoms).sum()) == pytest.approx(outline.area, abs=0.5)


def test_a_broken_grid_undoes_the_cut_that_broke_it_not_a_later_good_one() -> None:
    """Grid 0 (square A, strip X east of it, and H, a 2 m block of another region under X's
    east end) breaks when X is cut with B: H then hangs on B's share and no neighbour of its
    region can take it. Y, the strip west of A, is a good share of grid 2's with grid 0.

    ::

        +--+----+-----+-----+-----+
        |C |    |     |     |     |
        +--+ Y  |  A  |  X  |  B  |
           |    |     |     |     |
           +----+-----+-----+-----+
                              H

    Undoing cuts last first undid Y (the higher cell) before X, so Y was lost (grid 2 kept
    the whole strip, Polsby–Popper 0.33); only X is undone now (0.45).
    """
    a, b, c = (
        shapely.box(0, 0, 50, 100),
        shapely.box(100, 0, 150, 100),
        shapely.box(-70, 80, -20, 100),
    )
    x, h, y = shapely.box(50, 0, 100, 100), shapely.box(96, -2, 98, 0), shapely.box(-20, 0, 0, 100)
    cells = np.array([a, b, c, x, h, y], dtype=object)
    nbrs: list[dict[int, float]] = [{} for _ in range(6)]
    for u, v in [(0, 3), (1, 3), (3, 4), (2, 5), (0, 5)]:
        nbrs[u][v] = nbrs[v][u] = 1.0
    parts = [np.array([0, 3, 4]), np.array([1]), np.array([2, 5])]
    empty = np.array([False, False, False, True, True, True])
    region = np.array([0, 0, 0, 0, 1, 0])  # H: no grid but 0 holds a cell of its region
    geoms, cuts = share_empties(parts, cells, empty, region, nbrs)
    assert sorted(cuts) == [5]  # X undone, Y still shared
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.union_all(geoms).equals(shapely.union_all(cells))
    assert sum(g.area for g in geoms) == pytest.approx(sum(cell.area for cell in cells))
    assert geoms[0].contains(shapely.union_all([x, h]))  # grid 0 keeps X whole, and H
    assert min(_pp(g) for g in geoms) > _pp(shapely.union_all([c, y])) + 0.1


def _slanted_strip(
    seed: int, n: int, at: float, width: float, tilt: float, pair: bool
) -> tuple[shapely.Polygon, list[np.ndarray], np.ndarray, np.ndarray, list[dict[int, float]]]:
    """Households both sides of an empty strip between two slanted roads, a slanted cross road
    cutting the east side: the grids (each cell alone, or with the next one it borders when
    ``pair``) share the strip and the cross road's corners."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 3_873_000.0
    outline = shapely.box(x0, y0, x0 + 309, y0 + 325)
    x = x0 + at * 309
    dx = tilt * 330
    roads = np.array(
        [
            shapely.LineString([(x, y0 - 5), (x + dx, y0 + 330)]),
            shapely.LineString([(x + width, y0 - 5), (x + width + dx, y0 + 330)]),
            shapely.LineString([(x + width, y0 + 150.0037), (x0 + 320, y0 + 190.0113)]),
        ],
        dtype=object,
    )
    strip = shapely.Polygon(
        [(x, y0 - 5), (x + dx, y0 + 330), (x + width + dx, y0 + 330), (x + width, y0 - 5)]
    )
    xy = rng.uniform((x0 + 1, y0 + 1), (x0 + 308, y0 + 324), (4 * n, 2))
    xy = xy[~shapely.dwithin(shapely.points(xy), strip, 1.0)][:n]
    terr = tessellate(outline, xy, roads)
    cells = np.concatenate([terr.cells, terr.orphans])
    lines = borders(cells)
    nbrs: list[dict[int, float]] = [{} for _ in cells]
    for u, v, length in zip(lines.u.tolist(), lines.v.tolist(), lines.length.tolist(), strict=True):
        nbrs[u][v] = nbrs[v][u] = length
    lived = len(terr.cells)
    owner = np.arange(len(cells))
    if pair:
        for u in range(lived):
            v = min((v for v in nbrs[u] if v < lived and owner[v] == v), default=-1)
            if owner[u] == u and v > u:
                owner[v] = u
    owner[lived:] = -1
    while (owner < 0).any():  # each empty cell whole to a grid it borders (through others)
        for e in np.flatnonzero(owner < 0).tolist():
            near = [y for y in nbrs[e] if owner[y] >= 0]
            if near:
                owner[e] = owner[max(near, key=nbrs[e].__getitem__)]
    keys = sorted(set(owner[owner >= 0].tolist()))
    parts = [np.flatnonzero(owner == k) for k in keys]
    empty = np.arange(len(cells)) >= lived
    return outline, parts, cells, empty, nbrs


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(4, 40),
    st.floats(0.2, 0.7),
    st.floats(3.0, 40.0),
    st.floats(-0.3, 0.3),
    st.booleans(),
)
def test_grids_sharing_an_empty_strip_between_slanted_roads_tile_it(
    seed: int, n: int, at: float, width: float, tilt: float, pair: bool
) -> None:
    """Rule 5 where empty cells are cut next to slanted roads and slanted cell edges: the
    pieces are clipped on the 1 cm grid and the grids around each cut cell snapped to one
    another's vertices within 2 cm (``_matched``, ``_noded``). A vertex near an edge but off it
    must not pull one grid into its neighbour: the grids overlap by less than the validator
    tolerates (:data:`~gridsvc.partition.check.AREA_TOL`), leave no gap, and each is one valid
    polygon. (About 1 % of these cases still overlap by 0.0001–0.15 m², as before, e.g. two
    vertices 1 cm apart snapped into two grids in opposite order: (1419, 33, 0.45725969039574704,
    5.463774468212657, 0.28379964496418114, True) by 0.015 m²; the engine settles them after
    sharing, see :mod:`gridsvc.partition.overlaps`.)"""
    assert _strip_overlap(seed, n, at, width, tilt, pair) < AREA_TOL


@pytest.mark.parametrize(
    "case",
    [  # a vertex 1–2 cm off the strip's edge snapped into the grid across (0.020, 0.027 m²)
        (3533, 39, 0.4138255256072245, 7.533449078453009, 0.2795, True),
        (9718, 35, 0.5558685089093389, 10.43488435946361, 0.07905092348357734, True),
    ],
)
def test_grids_around_a_cut_strip_take_only_vertices_on_its_edges(
    case: tuple[int, int, float, float, float, bool],
) -> None:
    """Cases the property test above found overlapping: the grids around a cut cell are snapped
    only to vertices on its edges (their 1 cm square crosses it), so here they only meet."""
    assert _strip_overlap(*case) < 1e-6


def _strip_overlap(seed: int, n: int, at: float, width: float, tilt: float, pair: bool) -> float:
    """Share the strip of :func:`_slanted_strip`; check the tiling; return the largest overlap."""
    outline, parts, cells, empty, nbrs = _slanted_strip(seed, n, at, width, tilt, pair)
    lines = borders(cells)
    region = np.zeros(len(cells), dtype=int)
    geoms = np.array(share_empties(parts, cells, empty, region, nbrs, lines=lines)[0])
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
    assert all(shapely.is_valid(geoms))
    assert all(shapely.get_type_id(geoms) == 3)
    assert sum(len(p) for p in parts) == len(cells)
    assert float(shapely.area(shapely.union_all(geoms))) == pytest.approx(outline.area, abs=0.5)
    assert float(shapely.area(geoms).sum()) == pytest.approx(outline.area, abs=0.5)
    return float(overlap.max(initial=0.0))


def test_a_grid_whose_units_meet_only_through_the_ring_takes_a_corridor_along_its_wall() -> None:
    """Nine 40 m squares inside a 12 m ring; grid 0 holds the NE and SE squares and the ring,
    grid 1 the square between them (and the centre one).

    ::

        +-------------------+
        | +---+---+---+     |
        | | 2 | 2 | 0 |     |
        | +---+---+---+     |
        | | 4 | 1 | 1 |     |   ring: empty, grid 0's
        | +---+---+---+     |
        | | 3 | 3 | 0 |     |
        | +---+---+---+     |
        +-------------------+

    Sharing the ring left grid 0 in two; no other grid's whole share joins them without
    leaving some grid worse than keeping the ring, so the cut was undone and grid 0 kept the
    whole ring (Polsby–Popper 0.107; the 1M city's worst grids, 0.053–0.084). Grid 0 now takes
    a corridor along the wall east of grid 1's square, which keeps the strip along its own.
    """
    squares = [
        shapely.box(c * 40, r * 40, c * 40 + 40, r * 40 + 40) for r in range(3) for c in range(3)
    ]
    ring = shapely.box(-12, -12, 132, 132).difference(shapely.box(0, 0, 120, 120))
    cells = np.array([*squares, ring], dtype=object)
    nbrs: list[dict[int, float]] = [{} for _ in cells]
    for u in range(len(cells)):
        for v in range(u + 1, len(cells)):
            length = shapely.intersection(cells[u].boundary, cells[v].boundary).length
            if length > 0:
                nbrs[u][v] = nbrs[v][u] = length
    # squares numbered row by row from the south-west: 2 is SE, 5 east, 8 NE, 9 the ring
    parts = [
        np.array([2, 8, 9]),
        np.array([4, 5]),
        np.array([6, 7]),
        np.array([0, 1]),
        np.array([3]),
    ]
    empty = np.arange(len(cells)) == 9
    geoms, cuts = share_empties(parts, cells, empty, np.zeros(len(cells), dtype=int), nbrs)
    assert sorted(cuts[9]) == [0, 1, 2, 3, 4]  # the ring is shared among all five grids
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.union_all(geoms).equals(shapely.box(-12, -12, 132, 132))
    assert sum(g.area for g in geoms) == pytest.approx(144 * 144)
    corridor = shapely.box(126.5, 42, 132, 78)  # the outer half of the ring east of square 5
    assert geoms[0].contains(corridor)
    assert geoms[1].contains(shapely.box(120, 42, 125.5, 78))  # grid 1 keeps the inner half
    assert _pp(geoms[0]) > 0.29 > 0.107
    assert min(_pp(g) for g in geoms) > 0.29
