"""Exact set partitioning: enumeration, stuck-unit proofs, optimal covers."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds
from gridsvc.partition.budget import ENUMERATED_GROUPS, HIGHS_LP_NONZEROS, Budget
from gridsvc.partition.exact import enumerate_groups, exact_partition, exception_cap, stuck_atoms


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


def _brute_force(w: list[int], bounds: Bounds, cap: int) -> tuple[int, float] | None:
    """Fewest runs outside the bounds, then least total perimeter, of a cover of the path by
    contiguous runs of at most ``cap`` households (None when no run may exceed the bounds)."""
    n, best = len(w), None
    for cuts in itertools.product([False, True], repeat=n - 1):
        runs, start = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                runs.append((start, i))
                start = i
        runs.append((start, n))
        if any(sum(w[a:b]) > cap for a, b in runs):
            continue
        outside = sum(not bounds.lo <= sum(w[a:b]) <= bounds.hi for a, b in runs)
        cost = sum(2.0 * (b - a) - 2.0 * (b - a - 1) for a, b in runs)  # unit perimeters
        best = (outside, cost) if best is None else min(best, (outside, cost))
    return best


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=5, max_value=45), min_size=2, max_size=9))
def test_exact_cover_is_optimal_or_proves_infeasibility(weights: list[int]) -> None:
    """A feasible path gets its most compact cover; an infeasible one the fewest exceptions."""
    bounds = Bounds(30, 50)
    w, nbrs = _path(weights)
    perimeter = np.full(len(weights), 2.0)
    outcome = exact_partition(np.arange(len(weights)), w, nbrs, perimeter, bounds)
    optimum = _brute_force(weights, bounds, exception_cap(bounds))
    assert optimum is not None  # every weight is under the cap: single runs always fit
    assert outcome.infeasible == (optimum[0] > 0)
    assert outcome.parts is not None
    assert outcome.fewest_up_to == (exception_cap(bounds) if outcome.infeasible else None)
    covered = sorted(int(x) for p in outcome.parts for x in p)
    assert covered == list(range(len(weights)))
    for part in outcome.parts:
        assert part.tolist() == list(range(part.min(), part.max() + 1))  # contiguous
    outside = sum(not bounds.holds(int(w[p].sum())) for p in outcome.parts)
    cost = sum(2.0 * len(p) - 2.0 * (len(p) - 1) for p in outcome.parts)
    assert (outside, cost) == optimum


def test_an_infeasible_region_keeps_only_the_exceptions_it_must() -> None:
    """45 - 26 - 44 - 20 - 20: the 26 is stuck, so one grid must miss; the rest still fit.

    Before, the heuristic's plan was kept whole once a stuck unit proved the region infeasible,
    and every grid it missed was flagged as proved.
    """
    w, nbrs = _path([45, 26, 44, 20, 20])
    outcome = exact_partition(np.arange(5), w, nbrs, np.full(5, 2.0), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == (1,)
    assert outcome.parts is not None and outcome.fewest_up_to == 65
    assert sorted(int(w[p].sum()) for p in outcome.parts) == [26, 40, 44, 45]


def test_a_cover_the_budget_cannot_pay_for_is_skipped_before_costing() -> None:
    # 10 units of 10 in a row, bounds 30–50: 21 groups of 3–5 neighbours, 82 matrix nonzeros
    w, nbrs = _path([10] * 10)
    nodes, perimeter = np.arange(10), np.ones(10)
    groups = enumerate_groups(nodes, w, nbrs, Bounds(30, 50)) or []
    assert sum(map(len, groups)) == 82
    listed = 21 / ENUMERATED_GROUPS  # the enumeration's charge
    poor = Budget(listed + 81 / HIGHS_LP_NONZEROS)  # one nonzero short of the LP relaxation
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible
    assert (poor.spent, poor.skipped_budget, poor.skipped_too_big) == (listed, 1, 0)
    rich = Budget(1.0)
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=rich)
    assert outcome.parts is not None
    assert sorted(int(w[p].sum()) for p in outcome.parts) in ([50, 50], [30, 30, 40])
    assert rich.spent > 0 and rich.skipped_budget == rich.skipped_too_big == 0


def test_a_cover_past_its_own_work_limit_is_skipped_as_too_big() -> None:
    """Too big for the step's own limit is not the budget running out: reported apart.

    An unlimited budget never runs out, but a region with more connected groups than the
    enumeration's limit is still skipped (the heuristic's plan stands).
    """
    w, nbrs = _path([1] * 40)  # more connected groups than the enumeration's limit
    endless = Budget(None)
    outcome = exact_partition(
        np.arange(40), w, nbrs, np.ones(40), Bounds(30, 50), budget=endless, limit=10
    )
    assert outcome.parts is None and (endless.skipped_too_big, endless.skipped_budget) == (1, 0)


def test_the_enumeration_is_charged_and_stops_where_the_budget_does() -> None:
    """Listing groups is work: a budget that pays for 10 of the 21 groups stops the listing at
    the 11th (charged) and counts the step as skipped for the budget, not as too big."""
    w, nbrs = _path([10] * 10)
    poor = Budget(10 / ENUMERATED_GROUPS)
    outcome = exact_partition(np.arange(10), w, nbrs, np.ones(10), Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible
    assert poor.spent == 11 / ENUMERATED_GROUPS and poor.left() == 0.0
    assert (poor.skipped_budget, poor.skipped_too_big) == (1, 0)
    spent = Budget(0.0)  # nothing left: skipped before enumerating, nothing charged
    outcome = exact_partition(np.arange(10), w, nbrs, np.ones(10), Bounds(30, 50), budget=spent)
    assert outcome.parts is None and (spent.spent, spent.skipped_budget) == (0.0, 1)


def test_the_fewest_exceptions_cover_honours_the_group_limit() -> None:
    """45 - 26 - 44 - 20 - 20 (the 26 is stuck) has 7 groups of up to 65 households; a call
    limited to 1 group (6 for the fewest-exceptions cover) skips it as too big."""
    w, nbrs = _path([45, 26, 44, 20, 20])
    endless = Budget(None)
    outcome = exact_partition(
        np.arange(5), w, nbrs, np.full(5, 2.0), Bounds(30, 50), budget=endless, limit=1
    )
    assert outcome.infeasible and outcome.stuck == (1,) and outcome.parts is None
    assert (endless.skipped_too_big, endless.skipped_budget) == (1, 0)
    assert endless.spent == 7 / ENUMERATED_GROUPS
