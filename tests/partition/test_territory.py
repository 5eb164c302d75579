"""Household cells clipped to their block: the fast path for inner cells equals the overlay."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gridsvc.partition.territory import (
    CLEAR_M,
    GRID_SIZE,
    _clear,
    _match_across,
    _well_inside,
    clip_cells,
    polygonal,
    snap_cells,
    tessellate,
    unique_points,
)

BLOCKS = [
    shapely.box(0, 0, 80, 60),
    shapely.Polygon([(0, 0), (100, 0), (120, 60), (30, 90), (-10, 40)]),
    shapely.Polygon([(0, 0), (90, 0), (90, 30), (40, 30), (40, 80), (0, 80)]),  # an L: reflex
]


def _raw_cells(block: shapely.Polygon, xy: np.ndarray) -> np.ndarray:
    diagram = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=block, ordered=True)
    return np.asarray(shapely.get_parts(diagram), dtype=object)


@st.composite
def clusters(draw: st.DrawFn, decimals: int) -> tuple[shapely.Polygon, np.ndarray]:
    """A block and sites in clusters, some a few centimetres apart (tiny cells, vertices near
    each other), rounded to ``decimals``; the offset moves the diagram to UTM-sized and
    negative coordinates."""
    seed = draw(st.integers(0, 10_000))
    n = draw(st.integers(3, 300))
    which = draw(st.sampled_from(range(len(BLOCKS))))
    spread = draw(st.floats(0.001, 1.0))
    offset = draw(st.sampled_from([0.0, 503_000.0, -4_000.0]))
    rng = np.random.default_rng(seed)
    block = shapely.set_precision(
        shapely.affinity.translate(BLOCKS[which], offset, offset), GRID_SIZE
    )
    x0, y0, x1, y1 = shapely.bounds(block)
    centres = rng.uniform((x0, y0), (x1, y1), size=(max(1, n // 4), 2))
    xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 3 * spread, (n, 2))
    xy = np.unique(np.round(xy, decimals), axis=0)
    return block, xy[shapely.contains_xy(block, xy[:, 0], xy[:, 1])]


@settings(max_examples=40, deadline=None)
@given(clusters(3))
def test_clipped_cells_equal_the_overlay_coordinate_for_coordinate(
    case: tuple[shapely.Polygon, np.ndarray],
) -> None:
    block, xy = case
    if len(xy) < 2:
        return
    raw = _raw_cells(block, xy)
    raw = np.concatenate([raw, shapely.reverse(raw)])  # rings either way round
    got = clip_cells(raw, block)
    want = shapely.intersection(raw, block, grid_size=GRID_SIZE)
    assert shapely.to_wkb(got).tolist() == shapely.to_wkb(want).tolist()


@settings(max_examples=40, deadline=None)
@given(clusters(3), st.integers(0, 10_000))
def test_cells_well_inside_are_those_inside_and_clear_of_the_edge(
    case: tuple[shapely.Polygon, np.ndarray], seed: int
) -> None:
    """The shrunk-block shortcut answers what measuring every cell would, also for cells
    clipped to the edge and for specks 0.5–5 cm inside it (the 2 cm limit, the 3 cm shrink)."""
    block, xy = case
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.005, 0.05, 60)
    rings = shapely.boundary(shapely.buffer(block, -depth))
    at = shapely.line_interpolate_point(rings, rng.uniform(0, 1, 60), normalized=True)
    x, y = shapely.get_coordinates(at).T  # a ring of several lines gives no point
    specks = shapely.box(x - 0.001, y - 0.001, x + 0.001, y + 0.001)
    raw = _raw_cells(block, xy) if len(xy) > 1 else np.empty(0, dtype=object)
    cells = np.concatenate([raw, shapely.intersection(raw, block), specks])
    edge = shapely.boundary(block)
    want = shapely.contains_properly(block, cells) & ~shapely.dwithin(edge, cells, CLEAR_M)
    assert _well_inside(cells, block).tolist() == want.tolist()


@given(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=1, max_size=40),
    st.sampled_from([0.0, 503_000.0, -4_000.0]),
)
def test_unique_points_is_numpys_unique_of_rows(points: list[tuple[int, int]], at: float) -> None:
    """Same rows in the same order, first indices, inverse and counts (repeats drawn often)."""
    xy = np.array(points, dtype=float) * 0.01 + at
    got = unique_points(xy)
    want = np.unique(xy, axis=0, return_index=True, return_inverse=True, return_counts=True)
    assert [g.tolist() for g in got] == [
        w.ravel().tolist() if w.ndim == 1 else w.tolist() for w in want
    ]


def test_a_cell_inside_rounds_half_up_like_geos() -> None:
    """Vertices at exactly half a grid step (x.125 is x.12|5 in centimetres) round up, also
    below zero, and the ring starts where the overlay starts it."""
    block = shapely.box(-10, -10, 10, 10)
    ccw = shapely.Polygon([(-1.125, -1.375), (2.625, -1.0), (2.0, 3.875), (-1.0, 2.0)])
    cells = np.array([ccw, shapely.reverse(ccw)], dtype=object)
    got = clip_cells(cells, block)
    want = shapely.intersection(cells, block, grid_size=GRID_SIZE)
    assert shapely.to_wkb(got).tolist() == shapely.to_wkb(want).tolist()
    assert shapely.get_coordinates(got[0]).tolist() == [
        [-1.0, 2.0], [2.0, 3.88], [2.63, -1.0], [-1.12, -1.37], [-1.0, 2.0]
    ]  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 200))
def test_tessellated_units_tile_their_block_as_single_polygons(seed: int, n: int) -> None:
    """Households of units a metre apart: each unit's cell is one polygon and the cells, a
    clean coverage, dissolve into the block (a hairline gap would leave two polygons)."""
    rng = np.random.default_rng(seed)
    block = BLOCKS[seed % len(BLOCKS)]
    units = rng.uniform(5, 60, size=(max(2, n // 5), 2))
    units = units[shapely.contains_xy(block, units[:, 0], units[:, 1])]
    if len(units) < 2:
        return
    owner = rng.integers(0, len(units), n)
    owner[: len(units)] = np.arange(len(units))
    sites = units[owner] + rng.uniform(-1, 1, (n, 2))
    inside = shapely.contains_xy(block, sites[:, 0], sites[:, 1])
    terr = tessellate(block, units, None, members=(sites[inside], owner[inside]))
    assert (shapely.get_type_id(terr.cells) == 3).all()
    assert shapely.is_valid(terr.cells).all()
    whole = shapely.coverage_union_all(terr.cells)
    assert shapely.get_type_id(whole) == 3
    # snapping moves a vertex on a slanted edge by under half a step
    assert abs(shapely.area(whole) - block.area) < block.length * GRID_SIZE / 2


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 12), st.floats(0.001, 0.1))
def test_clearance_agrees_with_geos(seed: int, k: int, squeeze: float) -> None:
    """Random convex and non-convex rings, some squeezed thin or with near-repeated vertices."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (50, k)), axis=1)
    radius = rng.uniform(0.001, 5, (50, k))
    xy = np.stack([np.cos(angles) * radius, np.sin(angles) * radius * squeeze], axis=-1)
    polys = shapely.polygons(xy)
    polys = polys[shapely.is_valid(polys)]
    assert _clear(polys).tolist() == (shapely.minimum_clearance(polys) > CLEAR_M).tolist()


# a Voronoi cell GEOS drew for sites centimetres apart in a hypothesis community: two of its
# vertices lie 1e-13 m apart and its ring crosses itself there, so GEOS's overlay raised
# "TopologyException: unable to assign free hole to a shell" and the whole partition failed
_SELF_TOUCHING_CELL = (
    "0103000000010000000700000058DE18C121851E412A0D3917A18C4D415A1A72EE20851E41ABE58D31A18C4D41"
    "581A72EE20851E41ABE58D31A18C4D411A9FBE3622851E41B286D12EA18C4D414368300423851E41206AFA21A1"
    "8C4D415086080C23851E41550B1E1EA18C4D4158DE18C121851E412A0D3917A18C4D41"
)


def test_a_self_touching_voronoi_cell_is_clipped_not_fatal() -> None:
    cell = shapely.from_wkb(_SELF_TOUCHING_CELL)
    block = shapely.box(500000, 3873000, 500153, 3873153)
    neighbour = shapely.box(500010, 3873010, 500020, 3873020)
    assert not shapely.is_valid(cell)
    out = clip_cells(np.array([cell, neighbour], dtype=object), block)
    assert shapely.is_valid(out[0]) and shapely.get_type_id(out[0]) in (3, 6)
    assert abs(shapely.area(out[0]) - shapely.area(shapely.make_valid(cell))) < 0.01
    assert shapely.equals(out[1], neighbour)  # the other cells clipped as ever


@settings(max_examples=40, deadline=None)
@given(clusters(2))
def test_snapped_cells_stay_a_coverage_of_their_block(
    case: tuple[shapely.Polygon, np.ndarray],
) -> None:
    """Voronoi edges under a centimetre: snapped one by one, the cells around them bent apart
    and opened gaps that cut a unit in two. Snapped, they still tile the block: edges match
    (a valid coverage), nothing overlaps and the union has no holes."""
    block, xy = case
    if len(xy) < 2:
        return
    raw = polygonal(_raw_cells(block, xy))  # as tessellate does
    raw[shapely.get_type_id(raw) != 3] = shapely.Polygon()
    cells = polygonal(snap_cells(raw, block))
    cells = cells[~shapely.is_empty(cells)]
    assert shapely.coverage_is_valid(cells)
    whole = shapely.coverage_union_all(cells)
    assert shapely.get_type_id(whole) == 3 and shapely.get_num_interior_rings(whole) == 0
    assert abs(shapely.area(cells).sum() - block.area) < block.length * GRID_SIZE / 2


def test_a_self_touching_voronoi_cell_among_crowded_cells_is_snapped_not_fatal() -> None:
    # the same cell fails the clearance test, so it is snapped with the crowded cells
    cell = shapely.from_wkb(_SELF_TOUCHING_CELL)
    block = shapely.box(500000, 3873000, 500153, 3873153)
    neighbour = shapely.box(500010, 3873010, 500020, 3873020)
    out = snap_cells(np.array([cell, neighbour], dtype=object), block)
    assert shapely.is_valid(out[0]) and shapely.get_type_id(out[0]) == 3
    assert abs(shapely.area(out[0]) - shapely.area(shapely.make_valid(cell))) < 0.01
    assert shapely.equals(out[1], neighbour)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.floats(0.2, 0.8))
@example(seed=0, n=11, at=1 / 3)  # a vertex 1.8 cm from the road taken for a crossing
@example(seed=8, n=8, at=0.590644174090708)  # overlapped by 0.15 m² before
@example(seed=133, n=12, at=0.6075488891509282)  # a target past a road edge's end
def test_cells_across_a_slanted_road_never_overlap(seed: int, n: int, at: float) -> None:
    """Each block's cells are snapped to the grid on their own: where a cell crosses a long
    slanted road edge the crossing is rounded off the edge, and the sliver reached as far as
    the edge's next vertex (hypothesis found grids across a 326 m road overlapping by 1.6 m²);
    now both sides bend through the same vertices, so the cells of the two blocks only meet."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 3_873_000.0
    outline = shapely.box(x0, y0, x0 + 309, y0 + 325)
    x = x0 + at * 309
    road = np.array([shapely.LineString([(x, y0 - 5), (x + 30.0123, y0 + 330)])], dtype=object)
    xy = np.column_stack([rng.uniform(x0 + 5, x0 + 304, n), rng.uniform(y0 + 5, y0 + 320, n)])
    terr = tessellate(outline, xy, road)
    cells = terr.cells[~shapely.is_empty(terr.cells)]
    a, b = shapely.STRtree(cells).query(cells, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(cells[a[keep]], cells[b[keep]]))
    assert overlap.max(initial=0.0) < 1e-6


def test_matching_across_a_road_never_makes_two_cells_of_a_block_overlap() -> None:
    """Two left cells share the corner (0, 5) on the road; the cells across meet it at 5.01. A
    per-cell snap put 5.01 into one left cell's inner edge and the other's road edge (they
    overlapped by 0.05 m²): such a snap is undone."""
    left = [
        shapely.Polygon([(0, 0), (0, 5), (-10, 6), (-10, 0)]),
        shapely.Polygon([(0, 5), (0, 10), (-10, 10), (-10, 6)]),
    ]
    right = [shapely.box(0, 0, 10, 5.01), shapely.box(0, 5.01, 10, 10)]
    cells = np.array(left + right, dtype=object)
    blocks = np.array([shapely.box(-10, 0, 0, 10), shapely.box(0, 0, 10, 10)], dtype=object)
    out = _match_across(cells, blocks)
    assert sum(shapely.area(out)) == pytest.approx(shapely.union_all(out).area, abs=1e-9)
    assert all(shapely.is_valid(out))


def test_a_point_off_the_corner_where_a_road_meets_the_outline_gets_one_block() -> None:
    """A household up to a metre outside the community is kept (validate.TOLERANCE_M); off
    the corner a road ends in, both blocks are equally near: the lower one takes it, no crash
    (it raised a numpy shape mismatch, query_nearest giving both)."""
    outline = shapely.box(0, 0, 100, 100)
    road = np.array([shapely.LineString([(0, 0), (100, 100)])], dtype=object)
    xy = np.array([[70.0, 20.0], [20.0, 70.0], [100.4, 100.4]])
    terr = tessellate(outline, xy, road)
    assert sorted(terr.cell_block.tolist()) == [0, 0, 1]
    assert terr.cell_block[2] == min(terr.cell_block[:2])
