"""Border atoms move to the neighbouring grid they share more border with (shorter borders, more
compact grids), never at the cost of the bounds, contiguity or a grid's units touching."""

from __future__ import annotations

from typing import Any

import numpy as np
from graph_drawings import first_plan, graph, is_torn, regions, whole
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds
from gridsvc.partition.refine import refine


def _cut(parts: list[np.ndarray], nbrs: list[dict[int, float]]) -> float:
    owner = {x: i for i, p in enumerate(parts) for x in p.tolist()}
    return sum(c for x, i in owner.items() for y, c in nbrs[x].items() if owner[y] > i)


# 0 1 2 3
# 4 5 6 7   unit squares, every shared side 1 long
XY = np.array([[x, y] for y in (1.0, 0.0) for x in range(4)])
SQUARES = graph(
    {
        (a, b): 1.0
        for a in range(8)
        for b in range(a + 1, 8)
        if (b - a == 1 and b != 4) or b - a == 4
    },
    8,
)


def test_a_zigzag_border_is_straightened() -> None:
    parts = [np.array([0, 1, 4]), np.array([2, 3, 5, 6, 7])]  # the border steps round 5
    refined = refine(parts, np.ones(8), XY, SQUARES, Bounds(3, 5))
    assert [p.tolist() for p in refined] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    assert _cut(refined, SQUARES) == 2.0 < _cut(parts, SQUARES) == 3.0


def test_no_move_takes_a_grid_out_of_the_bounds() -> None:
    # moving 1 over to 2 would cut 1 instead of 5, but leave 0 alone with 10 households
    nbrs = graph({(0, 1): 1.0, (1, 2): 5.0}, 3)
    w = np.array([10.0, 10.0, 10.0])
    parts = [np.array([0, 1]), np.array([2])]
    assert [p.tolist() for p in refine(parts, w, np.eye(3, 2), nbrs, Bounds(10, 20))] == [
        [0],
        [1, 2],
    ]
    assert [p.tolist() for p in refine(parts, w, np.eye(3, 2), nbrs, Bounds(15, 25))] == [
        [0, 1],
        [2],
    ]


def test_no_move_leaves_a_grid_in_two() -> None:
    # 1 shares more border with 2 than with 0 and 3, but 0 and 3 touch only through it
    nbrs = graph({(0, 1): 1.0, (1, 3): 1.0, (1, 2): 5.0}, 4)
    parts = [np.array([0, 1, 3]), np.array([2])]
    assert [p.tolist() for p in refine(parts, np.ones(4), np.eye(4, 2), nbrs, Bounds(1, 4))] == [
        [0, 1, 3],
        [2],
    ]


@settings(deadline=None, max_examples=200)
@given(regions(), st.integers(1, 4))
def test_refining_shortens_borders_and_keeps_every_grid_whole(case: Any, k: int) -> None:
    nbrs, w, xy = case
    assume(w.sum() > 0)  # the engine splits an empty region into one part (k = 1)
    bounds = Bounds(10, 20)
    before = first_plan(case, k, bounds)
    after = refine(before, w, xy, nbrs, bounds)
    assert whole(after, len(w), nbrs)

    def held(parts: list[np.ndarray]) -> int:
        return sum(bounds.holds(int(w[p].sum())) for p in parts)

    assert held(after) >= held(before)
    assert sum(is_torn(p, w, nbrs) for p in after) <= sum(is_torn(p, w, nbrs) for p in before)
    assert _cut(after, nbrs) <= _cut(before, nbrs) + 1e-9
    if [p.tolist() for p in after] != [p.tolist() for p in before]:
        assert _cut(after, nbrs) < _cut(before, nbrs)
