"""Exact set partitioning: enumeration, stuck-unit proofs, optimal covers."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds
from gridsvc.partition.budget import HIGHS_NONZEROS, Budget
from gridsvc.partition.exact import enumerate_groups, exact_partition, stuck_atoms


def _path(weights: list[int]) -> tuple[np.ndarray, list[dict[int, float]]]:
    """Atoms 0-1-2-… in a row, each sharing a 1 m border with the next."""
    n = len(weights)
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for i in range(n - 1):
        nbrs[i][i + 1] = nbrs[i + 1][i] = 1.0
    return np.array(weights, dtype=float), nbrs


def test_enumeration_lists_each_connected_group_once() -> None:
    # 20-20-20-20 in a row, bounds 30–50: only the three neighbouring pairs fit
    w, nbrs = _path([20, 20, 20, 20])
    groups = enumerate_groups(range(4), w, nbrs, Bounds(30, 50))
    assert sorted(groups or []) == [(0, 1), (1, 2), (2, 3)]


def test_enumeration_stops_past_its_limit() -> None:
    w, nbrs = _path([1] * 40)
    assert enumerate_groups(range(40), w, nbrs, Bounds(30, 50), limit=10) is None


def test_a_unit_touching_only_big_units_is_stuck() -> None:
    #   45 - 26 - 44 : the 26 can join neither neighbour within 50
    w, nbrs = _path([45, 26, 44])
    assert stuck_atoms(range(3), w, nbrs, Bounds(30, 50)) == [1]
    outcome = exact_partition(np.arange(3), w, nbrs, np.ones(3), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == (1,)


def test_empty_atoms_bridge_and_are_absorbed() -> None:
    # 20 - (empty) - 20 : the empty cell joins the only grid, which it connects
    w, nbrs = _path([20, 0, 20])
    outcome = exact_partition(np.arange(3), w, nbrs, np.ones(3), Bounds(30, 50))
    assert outcome.parts is not None
    assert [p.tolist() for p in outcome.parts] == [[0, 1, 2]]


def _brute_force(w: list[int], bounds: Bounds) -> float | None:
    """Least total perimeter of a cover of the path by contiguous runs within the bounds."""
    n, best = len(w), None
    for cuts in itertools.product([False, True], repeat=n - 1):
        runs, start = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                runs.append((start, i))
                start = i
        runs.append((start, n))
        if all(bounds.lo <= sum(w[a:b]) <= bounds.hi for a, b in runs):
            cost = sum(2.0 * (b - a) - 2.0 * (b - a - 1) for a, b in runs)  # unit perimeters
            best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=5, max_value=45), min_size=2, max_size=9))
def test_exact_cover_is_optimal_or_proves_infeasibility(weights: list[int]) -> None:
    bounds = Bounds(30, 50)
    w, nbrs = _path(weights)
    perimeter = np.full(len(weights), 2.0)
    outcome = exact_partition(np.arange(len(weights)), w, nbrs, perimeter, bounds)
    optimum = _brute_force(weights, bounds)
    if optimum is None:
        assert outcome.infeasible and outcome.parts is None
        return
    assert outcome.parts is not None
    covered = sorted(int(x) for p in outcome.parts for x in p)
    assert covered == list(range(len(weights)))
    for part in outcome.parts:
        assert bounds.holds(int(w[part].sum()))
        assert part.tolist() == list(range(part.min(), part.max() + 1))  # contiguous
    cost = sum(2.0 * len(p) - 2.0 * (len(p) - 1) for p in outcome.parts)
    assert cost == optimum


def test_a_cover_the_budget_cannot_pay_for_is_skipped_before_costing() -> None:
    # 10 units of 10 in a row, bounds 30–50: 21 groups of 3–5 neighbours, 82 matrix nonzeros
    w, nbrs = _path([10] * 10)
    nodes, perimeter = np.arange(10), np.ones(10)
    groups = enumerate_groups(nodes, w, nbrs, Bounds(30, 50)) or []
    assert sum(map(len, groups)) == 82
    poor = Budget(81 / HIGHS_NONZEROS)  # one nonzero short of the root LP
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible
    assert (poor.spent, poor.skipped) == (0.0, 1)
    rich = Budget(1.0)
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=rich)
    assert outcome.parts is not None
    assert sorted(int(w[p].sum()) for p in outcome.parts) in ([50, 50], [30, 30, 40])
    assert rich.spent > 0 and rich.skipped == 0
