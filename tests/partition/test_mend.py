"""Grids whose inhabited cells touch only through an empty cell (the ring inside a compound wall):
the bisection avoids them, and the mending re-splits them with a neighbour."""

from __future__ import annotations

from typing import Any

import numpy as np
from graph_drawings import first_plan, graph, is_torn, regions, whole
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds
from gridsvc.partition.mend import mend
from gridsvc.partition.split import _bisect, repair

# four units of 10 in a row (a-b-c-d) and an empty ring (4) along all of them: cutting a|bc|d
# through the ring is the cheapest balanced cut, but a and d would touch only through the ring
ROW = graph(
    {(0, 1): 1.0, (1, 2): 5.0, (2, 3): 1.0, (4, 0): 0.1, (4, 1): 0.1, (4, 2): 0.1, (4, 3): 0.1}, 5
)
ROW_W = np.array([10.0, 10.0, 10.0, 10.0, 0.0])
ROW_XY = np.array([[0.0, 0.5], [1.0, 0.0], [2.0, 0.0], [3.0, 0.5], [1.5, 5.0]])


def test_the_bisection_keeps_each_grids_units_touching() -> None:
    parts = _bisect(np.arange(5), 2, ROW_W, ROW_XY, ROW, Bounds(15, 25), 1.0)
    assert sorted(sorted(p.tolist()) for p in parts if ROW_W[p].any()) in (
        [[0, 1], [2, 3, 4]],
        [[0, 1, 4], [2, 3]],
    )
    assert not any(is_torn(p, ROW_W, ROW) for p in parts)


def test_a_grid_joined_only_by_the_ring_is_mended_with_its_neighbour() -> None:
    torn = [np.array([0, 3, 4]), np.array([1, 2])]
    assert is_torn(torn[0], ROW_W, ROW)
    mended = mend(torn, ROW_W, ROW, Bounds(15, 25), 1.0)
    assert sorted(sorted(p.tolist()) for p in mended) in ([[0, 1], [2, 3, 4]], [[0, 1, 4], [2, 3]])


def test_lumpy_units_across_the_ring_regroup_with_a_touching_unit() -> None:
    # units of 24 and 22 on two sides of a compound (joined by the ring 4), a lone unit of 24
    # beside the first: 24 + 24 and 22 keep one grid within 30–50, now without the ring
    nbrs = graph({(0, 2): 3.0, (1, 3): 3.0, (4, 0): 0.1, (4, 1): 0.1, (4, 2): 0.1}, 5)
    w = np.array([24.0, 22.0, 24.0, 40.0, 0.0])
    parts = [np.array([0, 1, 4]), np.array([2]), np.array([3])]
    mended = mend(parts, w, nbrs, Bounds(30, 50), 1.0)
    assert sorted(sorted(p.tolist()) for p in mended) == [[0, 2, 4], [1], [3]]


def test_no_mend_that_would_leave_fewer_grids_within_the_bounds() -> None:
    nbrs = graph({(0, 2): 3.0, (4, 0): 0.1, (4, 1): 0.1, (4, 2): 0.1}, 5)
    w = np.array([24.0, 22.0, 40.0, 40.0, 0.0])
    parts = [np.array([0, 1, 4]), np.array([2]), np.array([3])]  # 46 and 40 within 30–50
    mended = mend(parts, w, nbrs, Bounds(30, 50), 1.0)
    assert [p.tolist() for p in mended] == [p.tolist() for p in parts]


def test_a_grid_whose_units_touch_two_different_neighbours_is_mended_with_both() -> None:
    # a (0) and b (1) joined only by the ring 6; a touches c (2), b touches d (3), and c's
    # partner c2 (4) touches d's partner d2 (5): neither neighbour alone can take a grid's worth
    # of the torn grid's units, the three regroup as a+c, b+d and c2+d2
    nbrs = graph({(0, 2): 2.0, (2, 4): 2.0, (1, 3): 2.0, (3, 5): 2.0, (4, 5): 2.0, (6, 0): 0.1,
                  (6, 1): 0.1}, 7)  # fmt: skip
    w = np.array([10.0, 10.0, 5.0, 5.0, 10.0, 10.0, 0.0])
    parts = [np.array([0, 1, 6]), np.array([2, 4]), np.array([3, 5])]
    assert is_torn(parts[0], w, nbrs)
    mended = mend(parts, w, nbrs, Bounds(15, 25), 1.0)
    # the ring goes with a's grid, the first of the two it borders equally
    assert [p.tolist() for p in mended] == [[0, 2, 6], [1, 3], [4, 5]]


def test_no_three_grid_mend_that_would_leave_fewer_grids_within_the_bounds() -> None:
    # as above, but c2 and d2 hold 20 each: c2 + d2 = 40 is too many for one grid
    nbrs = graph({(0, 2): 2.0, (2, 4): 2.0, (1, 3): 2.0, (3, 5): 2.0, (4, 5): 2.0, (6, 0): 0.1,
                  (6, 1): 0.1}, 7)  # fmt: skip
    w = np.array([10.0, 10.0, 5.0, 5.0, 20.0, 20.0, 0.0])
    parts = [np.array([0, 1, 6]), np.array([2, 4]), np.array([3, 5])]
    mended = mend(parts, w, nbrs, Bounds(15, 25), 1.0)
    assert [p.tolist() for p in mended] == [p.tolist() for p in parts]


@settings(deadline=None, max_examples=200)
@given(regions(), st.integers(1, 4))
def test_mending_keeps_every_grid_whole_and_within_the_bounds(case: Any, k: int) -> None:
    nbrs, w, _ = case
    assume(w.sum() > 0)  # the engine splits an empty region into one part (k = 1)
    bounds = Bounds(10, 20)
    before = first_plan(case, k, bounds)
    after = mend(before, w, nbrs, bounds, 1.0)
    assert whole(after, len(w), nbrs)

    def held(parts: list[np.ndarray]) -> int:
        return sum(bounds.holds(int(w[p].sum())) for p in parts)

    def torn(parts: list[np.ndarray]) -> int:
        return sum(is_torn(p, w, nbrs) for p in parts)

    assert held(after) >= held(before)
    assert torn(after) <= torn(before)
    if [p.tolist() for p in after] != [p.tolist() for p in before]:
        assert torn(after) < torn(before)


def test_the_boundary_repair_prefers_a_move_that_tears_no_grid() -> None:
    # a (10) and the ring 4 are too few; b or c (10 each) can come over from b-c-d (26): c
    # touches a only through the ring, b touches a itself
    nbrs = graph({(0, 1): 1.0, (1, 2): 1.0, (2, 3): 1.0, (1, 3): 1.0, (4, 0): 0.1, (4, 2): 0.1}, 5)
    w = np.array([10.0, 10.0, 10.0, 6.0, 0.0])
    repaired = repair([np.array([0, 4]), np.array([1, 2, 3])], w, nbrs, Bounds(15, 25))
    assert [p.tolist() for p in repaired] == [[0, 1, 4], [2, 3]]
