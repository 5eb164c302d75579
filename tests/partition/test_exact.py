"""Exact set partitioning: enumeration, stuck-unit proofs, optimal covers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from graph_drawings import graph, regions
from graph_drawings import whole as whole_plan
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds, exact
from gridsvc.partition.budget import ENUMERATED_GROUPS, STUCK_STEPS, Budget
from gridsvc.partition.exact import (
    GROUP_LIMIT,
    _enumerate,
    _Master,
    connected_groups,
    enumerate_groups,
    exact_partition,
    exception_cap,
    needs_bridges,
    stuck_atoms,
)
from gridsvc.partition.split import connected


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


def test_enumeration_stops_past_the_limit_of_small_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Groups under the lower bound are grown, not listed: they have a limit of their own.

    40 one-household atoms in a row: 754 runs of 1–29 atoms grow on the way to the 66 runs of
    30–40; past 100 of them the listing stops, however few it listed."""
    w, nbrs = _path([1] * 40)
    assert len(enumerate_groups(range(40), w, nbrs, Bounds(30, 50)) or []) == 66  # runs of 30–40
    monkeypatch.setattr("gridsvc.partition.exact.PARTIAL_LIMIT", 100)
    assert enumerate_groups(range(40), w, nbrs, Bounds(30, 50)) is None


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


@pytest.mark.parametrize("whole", [True, False], ids=["whole LP", "column generation"])
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=5, max_value=45), min_size=2, max_size=9))
def test_exact_cover_is_optimal_or_proves_infeasibility(whole: bool, weights: list[int]) -> None:
    """A feasible path gets its most compact cover; an infeasible one the fewest exceptions,
    whether HiGHS solves the LP relaxations over every group at once or by column generation."""
    bounds = Bounds(30, 50)
    w, nbrs = _path(weights)
    perimeter = np.full(len(weights), 2.0)
    with pytest.MonkeyPatch.context() as mp:
        if not whole:
            mp.setattr(_Master, "WHOLE", 0)
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


def _stuck_search_charge(w: np.ndarray, nbrs: list[dict[int, float]], bounds: Bounds) -> float:
    """Return what the search for stuck atoms charges on its own."""
    searched = Budget(None)
    stuck_atoms(range(len(w)), w, nbrs, bounds, budget=searched)
    return searched.spent


def test_a_cover_the_budget_cannot_pay_for_stops_before_its_lp() -> None:
    # 10 units of 10 in a row, bounds 30–50: 21 groups of 3–5 neighbours, grown from the 10
    # units and their 9 pairs (under the lower bound: grown, charged, not listed)
    w, nbrs = _path([10] * 10)
    nodes, perimeter = np.arange(10), np.ones(10)
    groups = enumerate_groups(nodes, w, nbrs, Bounds(30, 50)) or []
    assert len(groups) == 21
    paid = (21 + 19) / ENUMERATED_GROUPS  # the groups hold every unit: no stuck search runs
    poor = Budget(paid)  # the enumeration, nothing left for the LP
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible
    assert (poor.spent, poor.skipped_budget, poor.skipped_too_big) == (paid, 1, 0)
    rich = Budget(1.0)
    outcome = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50), budget=rich)
    assert outcome.parts is not None
    assert sorted(int(w[p].sum()) for p in outcome.parts) in ([50, 50], [30, 30, 40])
    assert rich.spent > paid and rich.skipped_budget == rich.skipped_too_big == 0


def test_the_stuck_search_is_charged_and_stops_where_the_budget_does() -> None:
    """26 - 1 - 1 - 1 - 45: the 26 reaches 29 households at most without the 45 (4 steps of its
    search); each step is charged, and a budget of 3 steps stops its search unproved."""
    w, nbrs = _path([26, 1, 1, 1, 45])
    endless = Budget(None)
    assert stuck_atoms(range(5), w, nbrs, Bounds(30, 50), budget=endless) == [0]
    assert endless.spent * STUCK_STEPS == pytest.approx(round(endless.spent * STUCK_STEPS))
    assert endless.spent * STUCK_STEPS >= 4
    poor = Budget(3 / STUCK_STEPS)
    assert stuck_atoms(range(5), w, nbrs, Bounds(30, 50), budget=poor) == []
    assert poor.spent == 3 / STUCK_STEPS and poor.left() == 0.0
    outcome = exact_partition(np.arange(5), w, nbrs, np.ones(5), Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible and outcome.stuck == ()


def test_an_atom_above_the_bound_is_stuck_even_when_no_search_is_paid_for() -> None:
    """3 - 3 - 99 within 10–20: the 99 is stuck by its weight alone, which costs no search; a
    spent budget stops the searches of the 3s, not that."""
    w, nbrs = _path([3, 3, 99])
    assert stuck_atoms(range(3), w, nbrs, Bounds(10, 20)) == [0, 1, 2]
    spent = Budget(0.0)
    assert stuck_atoms(range(3), w, nbrs, Bounds(10, 20), budget=spent) == [2]
    assert spent.spent == 0.0


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
    """Growing groups is work: a budget that pays for 10 groups stops the enumeration after the
    generation that passes 10 (the 10 units and their 9 pairs: 19 charged, none listed yet) and
    counts the step as skipped for the budget, not as too big."""
    w, nbrs = _path([10] * 10)
    poor = Budget(10 / ENUMERATED_GROUPS)
    outcome = exact_partition(np.arange(10), w, nbrs, np.ones(10), Bounds(30, 50), budget=poor)
    assert outcome.parts is None and not outcome.infeasible
    assert poor.spent == pytest.approx(19 / ENUMERATED_GROUPS) and poor.left() == 0.0
    assert (poor.skipped_budget, poor.skipped_too_big) == (1, 0)
    spent = Budget(0.0)  # nothing left: skipped before enumerating, nothing charged
    outcome = exact_partition(np.arange(10), w, nbrs, np.ones(10), Bounds(30, 50), budget=spent)
    assert outcome.parts is None and (spent.spent, spent.skipped_budget) == (0.0, 1)


def test_the_fewest_exceptions_cover_honours_the_group_limit() -> None:
    """45 - 26 - 44 - 20 - 20 (the 26 is stuck) has 3 groups within the bounds and 7 of up to
    65 households; a call limited to 1 group (6 for the fewest-exceptions cover) skips both
    enumerations as too big (the first stops at its 5 units: 2 listed), and the stuck search,
    on every unit then, still proves the 26 stuck."""
    w, nbrs = _path([45, 26, 44, 20, 20])
    endless = Budget(None)
    outcome = exact_partition(
        np.arange(5), w, nbrs, np.full(5, 2.0), Bounds(30, 50), budget=endless, limit=1
    )
    assert outcome.infeasible and outcome.stuck == (1,) and outcome.parts is None
    assert (endless.skipped_too_big, endless.skipped_budget) == (2, 0)
    searched = _stuck_search_charge(w, nbrs, Bounds(30, 50))
    assert endless.spent == pytest.approx(searched + (5 + 7) / ENUMERATED_GROUPS)


def _grid(weights: list[int], cols: int) -> tuple[np.ndarray, list[dict[int, float]]]:
    """Atoms in rows of ``cols``, each sharing a 1 m border with the atoms beside and below it."""
    n = len(weights)
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for i in range(n):
        for j in (i + 1 if (i + 1) % cols else None, i + cols):
            if j is not None and j < n:
                nbrs[i][j] = nbrs[j][i] = 1.0
    return np.array(weights, dtype=float), nbrs


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=6, max_size=12))
def test_column_generation_proves_what_the_whole_lp_proves(weights: list[int]) -> None:
    """On a grid of atoms (empty ones too), pricing groups into a small LP gives the count of
    exceptions, its proof and the perimeter that the LP over every group gives."""
    w, nbrs = _grid(weights, 3)
    nodes, perimeter = np.arange(len(weights)), np.full(len(weights), 4.0)
    whole = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_Master, "WHOLE", 0)
        generated = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50))
    assert (generated.infeasible, generated.stuck, generated.fewest_up_to) == (
        whole.infeasible,
        whole.stuck,
        whole.fewest_up_to,
    )
    assert (generated.parts is None) == (whole.parts is None)
    if whole.parts is not None and generated.parts is not None:

        def score(parts: list[np.ndarray]) -> tuple[int, float]:
            outside = sum(not Bounds(30, 50).holds(int(w[p].sum())) for p in parts)
            inner = sum(c for p in parts for x in p for y, c in nbrs[x].items() if y in set(p))
            return outside, 4.0 * len(weights) - inner

        if min(weights) > 0:  # (empty atoms attached after the cover may border differently)
            assert score(generated.parts) == score(whole.parts)
        else:
            assert score(generated.parts)[0] == score(whole.parts)[0]


def test_the_enumeration_charges_the_small_groups_it_grows_too() -> None:
    # 40 one-household atoms in a row: 66 runs of 30–40 listed, 754 runs of 1–29 grown on the way
    w, nbrs = _path([1] * 40)
    paid = Budget()
    groups = _enumerate(np.arange(40), w, nbrs, Bounds(30, 50), paid, GROUP_LIMIT)
    assert groups is not None and len(groups) == 66
    assert paid.spent == pytest.approx((66 + 754) / ENUMERATED_GROUPS)
    short = Budget(700 / ENUMERATED_GROUPS)  # pays ten times the groups listed, not the rest
    assert _enumerate(np.arange(40), w, nbrs, Bounds(30, 50), short, GROUP_LIMIT) is None
    assert short.skipped_budget == 1 and short.skipped_too_big == 0


@pytest.mark.parametrize("before", [0.05, 0.1, 0.123, 0.3, 1 / 3])
def test_a_budget_that_pays_for_every_group_grown_gets_the_enumeration(before: float) -> None:
    # the 21 groups and 19 pairs under the lower bound of 10 units of 10: 40 grown, paid for
    # exactly; the budget's float sum must not lose the last one (it did for these spends)
    w, nbrs = _path([10] * 10)
    exact = Budget(before + 40 / ENUMERATED_GROUPS, spent=before)
    groups = _enumerate(np.arange(10), w, nbrs, Bounds(30, 50), exact, GROUP_LIMIT)
    assert groups is not None and len(groups) == 21
    assert exact.skipped_budget == 0 and exact.spent == pytest.approx(
        before + 40 / ENUMERATED_GROUPS
    )


def test_the_growth_step_unpacks_only_atoms_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A grid of 4 x 5 atoms of 10 households, bounds 30–50, and empty atoms down its middle
    column: every pair of a group and an atom of its extension set that the growth step
    unpacks becomes a group (too many households or empty atoms are out of the set already),
    so it unpacks as many as it grows past the roots; the groups stay every connected group
    (brute force over every subset)."""
    weights = [0 if i % 5 == 2 else 10 for i in range(20)]
    w, nbrs = _grid(weights, 5)
    unpacked = []
    real = exact._set_bits

    def counted(masks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = real(masks, n)
        unpacked.append(len(pairs[0]))
        return pairs

    monkeypatch.setattr(exact, "_set_bits", counted)
    bounds = Bounds(30, 50)
    groups, grown = exact._grow(np.arange(20), w, nbrs, bounds, limit=GROUP_LIMIT)
    assert groups is not None
    assert sum(unpacked) == grown - 20  # every atom a root (none above 50)
    listed = set(groups.tuples())
    expected = {
        subset
        for size in range(1, 7)  # five units and an empty atom at most
        for subset in itertools.combinations(range(20), size)
        if bounds.holds(int(w[list(subset)].sum()))
        and sum(weights[x] == 0 for x in subset) <= 1
        and connected(subset, nbrs)
    }
    assert listed == expected and len(groups) == len(expected)


@pytest.mark.parametrize("n", [20, 63, 64, 65, 130])
def test_groups_read_back_the_same_either_side_of_one_word(n: int) -> None:
    """n atoms of 10 households in a row, bounds 20–30: the groups are the runs of two and of
    three atoms, ascending, pairs first; read back from one-word masks up to 64 atoms (the
    last atom's bit the word's top one at 64) and along their links past that."""
    w, nbrs = _path([10] * n)
    groups = connected_groups(np.arange(n), w, nbrs, Bounds(20, 30))
    assert groups is not None
    runs = [tuple(range(i, i + k)) for k in (2, 3) for i in range(n - k + 1)]
    assert sorted(groups.tuples()) == sorted(runs)
    assert groups.sizes.tolist() == sorted(groups.sizes.tolist())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64).flatmap(lambda k: st.lists(st.sets(st.integers(0, 63), min_size=k,
    max_size=k), min_size=1, max_size=5)))  # fmt: skip
def test_lowest_bits_are_each_masks_ranks_ascending(sets: list[set[int]]) -> None:
    masks = np.array([sum(1 << r for r in ranks) for ranks in sets], dtype=np.uint64)
    got = exact._lowest_bits(masks, len(sets[0]))
    assert got.tolist() == [sorted(ranks) for ranks in sets]


def test_groups_of_large_bounds_keep_a_row_of_room_per_unit_size() -> None:
    """40,000 - 30,000 - 0 - 50,000 in a row, bounds 60,000–90,000: the room table has rows
    for no atom and per household count an atom has (0, 30,000, 40,000, 50,000; not 90,001 of
    them), two each (no empty atom, one), and the groups are 40,000 - 30,000, with the empty
    atom too, and 30,000 - 0 - 50,000."""
    w, nbrs = _path([40_000, 30_000, 0, 50_000])
    room, start = exact._room(np.rint(w).astype(np.int64), (w == 0).astype(np.int64), 90_000, 1, 1)
    assert room.shape == (5 * 2, 1) and len(start) == 90_001
    groups = connected_groups(np.arange(4), w, nbrs, Bounds(60_000, 90_000))
    assert groups is not None
    assert groups.tuples() == [(0, 1), (0, 1, 2), (1, 2, 3)]


def test_without_room_for_empty_atoms_no_group_holds_one() -> None:
    """20 - 0 - 20 with no empty atom allowed: each unit alone; the empty atom joins none."""
    w, nbrs = _path([20, 0, 20])
    groups = connected_groups(np.arange(3), w, nbrs, Bounds(10, 50), empties=0)
    assert groups is not None and groups.tuples() == [(0,), (2,)]


@pytest.mark.parametrize("dense", [True, False], ids=["table", "pairs looked up"])
@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=4, max_size=9),
    st.lists(st.integers(min_value=2, max_value=160), min_size=16, max_size=16),
)
def test_group_costs_are_perimeter_less_inner_borders(
    dense: bool, weights: list[int], borders: list[int]
) -> None:
    """Each group's cost: its atoms' perimeters less every border between two of its atoms
    (counted from both sides), in decimetres, whether the borders are a table or looked up.
    Lengths are quarter metres, so every sum is exact and the costs must match exactly."""
    n = len(weights)
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for i in range(n):  # a ladder: i - i+1 and i - i+2, both directions, varied lengths
        for step in (1, 2):
            if i + step < n:
                c = borders[(2 * i + step) % len(borders)] / 4
                nbrs[i][i + step] = nbrs[i + step][i] = c
    w = np.array(weights, dtype=float)
    perimeter = np.array([3.0 + 0.25 * i for i in range(n)])
    groups = connected_groups(np.arange(n), w, nbrs, Bounds(1, 60))
    assert groups is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact, "DENSE_ATOMS", n if dense else 0)
        got = exact._group_costs(groups, perimeter, nbrs)
    for group, cost in zip(groups.tuples(), got.tolist(), strict=True):
        inner = sum(nbrs[x].get(y, 0.0) for x in group for y in group)
        assert cost == np.rint(10 * (perimeter[list(group)].sum() - inner))


def test_a_proved_region_seeks_the_fewest_exceptions_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 - 20 - 20: no unit is stuck (two make 40), yet no cover exists (the lumpiness check
    proves it): with ``proved`` the same plan of fewest exceptions, and no cover within 30–50
    enumerated to prove it again."""
    weights = [20, 20, 20]
    w, nbrs = _path(weights)
    perimeter = np.full(len(weights), 2.0)
    bounds = Bounds(30, 50)
    enumerated: list[Bounds] = []
    real = exact._enumerate

    def counted(nodes: np.ndarray, w: np.ndarray, nbrs: list, b: Bounds, *rest: object) -> object:
        enumerated.append(b)
        return real(nodes, w, nbrs, b, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(exact, "_enumerate", counted)
    again = exact_partition(np.arange(3), w, nbrs, perimeter, bounds)
    assert enumerated == [bounds, Bounds(1, exception_cap(bounds))]
    enumerated.clear()
    once = exact_partition(np.arange(3), w, nbrs, perimeter, bounds, proved=True)
    assert enumerated == [Bounds(1, exception_cap(bounds))]
    assert again.infeasible and once.infeasible and once.fewest_up_to == again.fewest_up_to
    assert once.parts is not None and again.parts is not None
    assert [p.tolist() for p in once.parts] == [p.tolist() for p in again.parts]


def test_only_units_no_group_holds_are_searched_for_being_stuck() -> None:
    """26 - 1 - 1 - 1 - 45 within 30–50: the 1s lie in groups with the 45, so of the units the
    enumeration leaves out only the 26 is searched (its steps alone are charged) and proved
    stuck; a search of every unit proves the same for more steps."""
    w, nbrs = _path([26, 1, 1, 1, 45])
    every, some = Budget(None), Budget(None)
    assert stuck_atoms(range(5), w, nbrs, Bounds(30, 50), budget=every) == [0]
    assert stuck_atoms(range(5), w, nbrs, Bounds(30, 50), budget=some, among=[0]) == [0]
    assert 0 < some.spent < every.spent
    outcome = exact_partition(np.arange(5), w, nbrs, np.ones(5), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == (0,) and outcome.parts is not None


def _count_mips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the MIPs HiGHS solves (the real solver runs)."""
    calls: list[int] = []
    real = exact._Model.restricted

    def counted(self: exact._Model, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(exact._Model, "restricted", counted)
    return calls


def test_an_integral_lp_optimum_is_the_plan_without_a_mip(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 - 20 - 20 - 20 within 30–50: the pairs' LP optimum is integral, so it is the plan
    (proved optimal by the LP) and no MIP runs; a triangle of 20s has a fractional LP optimum
    (each pair at ½) and no cover, which the MIP proves."""
    mips = _count_mips(monkeypatch)
    w, nbrs = _path([20, 20, 20, 20])
    outcome = exact_partition(np.arange(4), w, nbrs, np.ones(4), Bounds(30, 50))
    assert [p.tolist() for p in outcome.parts or []] == [[0, 1], [2, 3]] and not mips
    w = np.full(3, 20.0)
    nbrs = [{1: 1.0, 2: 1.0}, {0: 1.0, 2: 1.0}, {0: 1.0, 1: 1.0}]
    outcome = exact_partition(np.arange(3), w, nbrs, np.ones(3), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == () and mips


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=9))
def test_enumeration_lists_every_connected_group_and_no_other(weights: list[int]) -> None:
    """On a grid of atoms (empty ones too), the groups listed are exactly the connected sets of
    10–60 households with at most one empty atom, each once, its atoms ascending, fewer atoms
    first (brute force over every subset)."""
    w, nbrs = _grid(weights, 3)
    n = len(weights)
    groups = connected_groups(np.arange(n), w, nbrs, Bounds(10, 60))
    assert groups is not None
    listed = groups.tuples()
    expected = {
        subset
        for size in range(1, n + 1)
        for subset in itertools.combinations(range(n), size)
        if 10 <= sum(weights[x] for x in subset) <= 60
        and sum(weights[x] == 0 for x in subset) <= 1
        and connected(subset, nbrs)
    }
    assert len(listed) == len(set(listed)) and set(listed) == expected
    assert all(list(g) == sorted(g) for g in listed)
    assert [len(g) for g in listed] == sorted(len(g) for g in listed)


def _generated_masters(monkeypatch: pytest.MonkeyPatch) -> list[_Master]:
    """Solve every LP by column generation (however few its columns); list their masters."""
    masters: list[_Master] = []
    real = _Master.solve

    def kept(self: _Master, budget: Budget) -> object:
        masters.append(self)
        return real(self, budget)

    monkeypatch.setattr(_Master, "WHOLE", 0)
    monkeypatch.setattr(_Master, "solve", kept)
    return masters


def test_the_fewest_exceptions_lp_starts_from_its_plan_without_phase_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """45 - 25 - 45 - 20 - 20 in a row (the 25 is stuck): every atom alone is a group of the
    fewest-exceptions model, so together they are a plan its LP starts from, with no artificial
    columns, and it bounds the count as the LP through phase 1 does."""
    w, nbrs = _path([45, 25, 45, 20, 20])
    nodes = np.arange(5)
    groups = _enumerate(nodes, w, nbrs, Bounds(1, exception_cap(Bounds(30, 50))), Budget(), 10**6)
    assert groups is not None
    model = exact._Model.build(nodes, groups, w)
    assert model is not None
    totals = np.rint(model.matrix.T @ w)
    outside = ((totals < 30) | (totals > 50)).astype(float)
    every, singles = np.arange(len(groups)), np.flatnonzero(groups.sizes == 1)
    masters = _generated_masters(monkeypatch)
    started = model.relax(every, outside, Budget(), plan=singles)
    phased = model.relax(every, outside, Budget())
    assert isinstance(started, exact._Relaxed) and isinstance(phased, exact._Relaxed)
    assert started.bound == pytest.approx(phased.bound) == pytest.approx(1.0)
    assert -1 not in masters[0].columns and -1 in masters[1].columns


def test_an_atom_of_under_half_a_household_sends_the_lp_through_phase_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An atom of 0.4 households counts as empty in the groups (never alone) but must be
    covered: the groups of one atom are no plan, so the LP starts in phase 1 and finds the
    same fewest exceptions as the LP over every group."""
    w, nbrs = _path([45, 0, 25, 45, 20, 20])
    w[1] = 0.4
    nodes, perimeter = np.arange(6), np.ones(6)
    whole = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50))
    masters = _generated_masters(monkeypatch)
    generated = exact_partition(nodes, w, nbrs, perimeter, Bounds(30, 50))
    assert whole.parts is not None and generated.parts is not None
    assert [p.tolist() for p in generated.parts] == [p.tolist() for p in whole.parts]
    assert generated.infeasible and generated.stuck == (2,)
    assert masters and masters[0].plan is None and -1 in masters[0].columns


@pytest.mark.parametrize(
    "weights",
    [[20, 0, 0, 20], [20, 0, 5, 0, 20]],
    ids=["a chain of two empty atoms", "two empty atoms, one each side of a unit"],
)
def test_units_joined_through_two_empty_atoms_make_one_grid(weights: list[int]) -> None:
    """Only two empty atoms join these units: a group of one empty atom at most never does.
    Before, the outcome was infeasible, two exceptions 'proved' the fewest (up to 65)."""
    w, nbrs = _path(weights)
    n = len(weights)
    outcome = exact_partition(np.arange(n), w, nbrs, np.full(n, 2.0), Bounds(30, 50))
    assert not outcome.infeasible and outcome.parts is not None
    assert [p.tolist() for p in outcome.parts] == [list(range(n))]


@pytest.mark.parametrize(
    "weights",
    [[20, 0, 0, 20], [20, 0, 5, 0, 20]],
    ids=["a chain of two empty atoms", "two empty atoms, one each side of a unit"],
)
def test_past_its_empty_atoms_the_cover_proves_nothing(
    weights: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region of more empty atoms than ``BRIDGE_ATOMS`` keeps groups of one: the cover's
    failure to join the units is then no proof that no cover exists, nor its count of
    exceptions the fewest."""
    monkeypatch.setattr("gridsvc.partition.exact.BRIDGE_ATOMS", 1)
    w, nbrs = _path(weights)
    n = len(weights)
    outcome = exact_partition(np.arange(n), w, nbrs, np.full(n, 2.0), Bounds(30, 50))
    assert not outcome.infeasible and outcome.fewest_up_to is None and outcome.stuck == ()
    assert outcome.parts is not None and len(outcome.parts) == 2  # found, not proved


def test_under_a_small_budget_groups_hold_one_empty_atom_and_prove_nothing() -> None:
    """A budget with less than ``BRIDGE_UNITS`` left does not list the groups again with every
    empty atom (on urban the second listing, too big, spent what a later region needed):
    20 - 0 - 0 - 20 keeps its two grids of 20, and the outcome claims no proof."""
    w, nbrs = _path([20, 0, 0, 20])
    budget = Budget(exact.BRIDGE_UNITS / 2)
    outcome = exact_partition(np.arange(4), w, nbrs, np.full(4, 2.0), Bounds(30, 50), budget=budget)
    assert not outcome.infeasible and outcome.fewest_up_to is None
    assert outcome.parts is not None and [p.tolist() for p in outcome.parts] == [[0, 1, 2], [3]]


def test_a_stuck_unit_stays_proved_beside_empty_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    """45 - 26 - 45 - 0 - 0 - 20 - 0 - 0 - 20: the 26 is stuck whatever the empty atoms join
    (the stuck search takes any number of them), so the region is proved infeasible; the two
    20s share a grid through two empty atoms, so one exception is the fewest. Past
    ``BRIDGE_ATOMS`` the stuck unit is still a proof, the count of exceptions not."""
    w, nbrs = _path([45, 26, 45, 0, 0, 20, 0, 0, 20])
    outcome = exact_partition(np.arange(9), w, nbrs, np.full(9, 2.0), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == (1,) and outcome.fewest_up_to == 65
    assert outcome.parts is not None
    assert sorted(int(w[p].sum()) for p in outcome.parts) == [26, 40, 45, 45]
    monkeypatch.setattr("gridsvc.partition.exact.BRIDGE_ATOMS", 3)
    outcome = exact_partition(np.arange(9), w, nbrs, np.full(9, 2.0), Bounds(30, 50))
    assert outcome.infeasible and outcome.stuck == (1,) and outcome.fewest_up_to is None


@pytest.mark.parametrize(
    ("edges", "weights", "needs"),
    [
        ({(0, 1): 1, (1, 2): 1}, [20, 0, 20], False),  # one empty atom between two units
        ({(0, 1): 1, (1, 2): 1, (2, 3): 1}, [20, 0, 0, 20], True),  # a chain of two
        ({(0, 1): 1, (1, 2): 1, (2, 3): 1, (3, 4): 1}, [20, 0, 5, 0, 20], True),  # two hubs
        # a chain of two whose first atom touches both units: another group may hold that one
        ({(0, 1): 1, (1, 2): 1, (2, 3): 1, (1, 3): 1}, [20, 0, 0, 20], True),
        ({(0, 1): 1, (1, 2): 1, (2, 3): 1, (3, 4): 1}, [20, 0, 20, 0, 20], True),  # two hubs
        ({(0, 1): 1, (1, 2): 1, (3, 4): 1, (4, 5): 1}, [20, 0, 20, 20, 0, 20], False),  # apart
        ({(0, 1): 1, (1, 2): 1, (2, 3): 1}, [20, 20, 0, 0], False),  # empty atoms off the end
    ],
)
def test_needs_bridges_finds_groups_only_two_empty_atoms_connect(
    edges: dict[tuple[int, int], float], weights: list[int], needs: bool
) -> None:
    nbrs = graph(edges, len(weights))
    assert needs_bridges(range(len(weights)), np.array(weights, dtype=float), nbrs) is needs


@settings(max_examples=150, deadline=None)
@given(regions())
def test_without_bridges_the_groups_are_every_group(
    case: tuple[list[dict[int, float]], np.ndarray, np.ndarray],
) -> None:
    """Where :func:`needs_bridges` says no, the groups (at most one empty atom each) hold
    every set of units within the bounds that empty atoms can connect: the cover's proofs
    stand. Brute force: each set of units, connected through any of the empty atoms."""
    nbrs, w, _ = case
    n, bounds = len(w), Bounds(10, 20)
    if needs_bridges(range(n), w, nbrs):
        return
    lived = [x for x in range(n) if w[x] > 0]
    empty = [x for x in range(n) if w[x] == 0]
    every = set()
    for k in range(1, len(lived) + 1):
        for units in itertools.combinations(lived, k):
            if not bounds.holds(int(w[list(units)].sum())):
                continue
            reach = _reached(units[0], set(units) | set(empty), nbrs)
            if set(units) <= reach:
                every.add(units)
    groups = enumerate_groups(range(n), w, nbrs, bounds) or []
    assert {tuple(x for x in g if w[x] > 0) for g in groups} == every


def _reached(start: int, allowed: set[int], nbrs: list[dict[int, float]]) -> set[int]:
    """Return the atoms of ``allowed`` that a walk from ``start`` within ``allowed`` reaches."""
    seen, todo = {start}, [start]
    while todo:
        for y in nbrs[todo.pop()]:
            if y in allowed and y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


@settings(max_examples=200, deadline=None)
@given(regions())
def test_groups_of_many_empty_atoms_leave_out_only_those_a_smaller_group_does(
    case: tuple[list[dict[int, float]], np.ndarray, np.ndarray],
) -> None:
    """Allowed every empty atom, the groups listed are connected sets within the bounds, each
    once; they hold every such set of at most one empty atom (as before), and every one that
    needs all its empty atoms (no empty atom of it can go and leave it connected): no cover or
    count of exceptions is lost by leaving the others out. Brute force over every subset."""
    nbrs, w, _ = case
    n, bounds = len(w), Bounds(10, 20)
    groups = connected_groups(range(n), w, nbrs, bounds, empties=n)
    assert groups is not None
    listed = groups.tuples()
    assert len(listed) == len(set(listed))
    assert all(connected(g, nbrs) and bounds.holds(int(w[list(g)].sum())) for g in listed)
    for size in range(1, n + 1):
        for subset in itertools.combinations(range(n), size):
            if not bounds.holds(int(w[list(subset)].sum())) or not connected(subset, nbrs):
                continue
            empty = [x for x in subset if w[x] == 0]
            needed = all(not connected([y for y in subset if y != e], nbrs) for e in empty)
            if len(empty) <= 1 or needed:
                assert subset in set(listed), subset


def test_dead_ends_of_empty_atoms_leave_a_chain_its_proof() -> None:
    """20 - 0 - 0 - 20 with seven more empty atoms hanging off its chain (dead ends of a road):
    ten empty atoms, past ``BRIDGE_ATOMS``, but only the chain's two can join two atoms of a
    group, so the groups may hold both and the cover is exact: one grid of 40, proved."""
    w, nbrs = _path([20, 0, 0, 20])
    for k in range(7):
        nbrs.append({1 + k % 2: 1.0})
        nbrs[1 + k % 2][4 + k] = 1.0
    w = np.r_[w, np.zeros(7)]
    n = len(w)
    assert int((w == 0).sum()) > exact.BRIDGE_ATOMS
    outcome = exact_partition(np.arange(n), w, nbrs, np.full(n, 2.0), Bounds(30, 50))
    assert not outcome.infeasible and outcome.parts is not None
    assert [p.tolist() for p in outcome.parts] == [list(range(n))]


def test_groups_left_out_for_a_leaf_are_charged_and_stop_where_the_budget_does() -> None:
    """20 - 0 - 0 - 20 for 10–50, groups of two empty atoms: 10 grown (4 roots, the 2 empty
    atoms' pair, 2 pairs, the whole row, and 20 - 0 - 0 twice, left out: the far 0 a leaf).
    A budget that pays for 9 gets no groups, as for any enumeration it cannot pay for; it got
    them all, charged 10, when the groups left out were charged but not counted against it."""
    w, nbrs = _path([20, 0, 0, 20])
    paid = Budget(10 / ENUMERATED_GROUPS)
    groups = _enumerate(np.arange(4), w, nbrs, Bounds(10, 50), paid, GROUP_LIMIT, 2)
    assert groups is not None
    assert groups.tuples() == [(0,), (3,), (0, 1), (2, 3), (0, 1, 2, 3)]
    assert paid.spent == pytest.approx(10 / ENUMERATED_GROUPS)
    short = Budget(9 / ENUMERATED_GROUPS)
    assert _enumerate(np.arange(4), w, nbrs, Bounds(10, 50), short, GROUP_LIMIT, 2) is None
    assert (short.skipped_budget, short.skipped_too_big) == (1, 0)


def test_groups_left_out_for_a_leaf_count_against_the_limit_of_groups_not_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same row grows 7 groups it does not list: 5 under the lower bound (the roots count
    too) and the 2 left out. They hold memory as the small ones do, so past 6 the listing stops
    (without a budget nothing else bounds how many are left out)."""
    w, nbrs = _path([20, 0, 0, 20])
    monkeypatch.setattr("gridsvc.partition.exact.PARTIAL_LIMIT", 7)
    assert connected_groups(range(4), w, nbrs, Bounds(10, 50), empties=2) is not None
    monkeypatch.setattr("gridsvc.partition.exact.PARTIAL_LIMIT", 6)
    assert connected_groups(range(4), w, nbrs, Bounds(10, 50), empties=2) is None


def test_a_proof_by_groups_of_two_empty_atoms_survives_their_fewest_exceptions_falling_back() -> (
    None
):
    """An empty hub joins units of 3, 3 and 5 and an empty atom leading on to a unit of 5; for
    11–11 the groups of up to two empty atoms are 3+3+5 and 3+3+5 through both, no cover:
    the region is infeasible, proved. Under a limit of 2 groups (13 for the fewest exceptions)
    the fewest exceptions' groups of two empty atoms (19) are too many, and those of one (12)
    draw the plan of one exception all the same, its count unproved; the infeasibility stays
    proved (it was dropped with the count: neither was claimed)."""
    nbrs = graph({(0, 1): 1.0, (0, 2): 1.0, (0, 3): 1.0, (0, 4): 1.0, (3, 5): 1.0}, 6)
    w = np.array([0, 3, 3, 0, 5, 5], dtype=float)
    n, bounds = len(w), Bounds(11, 11)
    assert exact._bridging(np.arange(n), w, nbrs, Budget()) == (2, True)
    plan = [[3, 5], [0, 1, 2, 4]]
    whole = exact_partition(np.arange(n), w, nbrs, np.full(n, 4.0), bounds)
    assert whole.infeasible and whole.fewest_up_to == 16 and not whole.stuck
    assert [p.tolist() for p in whole.parts or []] == plan
    tight = exact_partition(np.arange(n), w, nbrs, np.full(n, 4.0), bounds, limit=2)
    assert tight.infeasible and tight.fewest_up_to is None and not tight.stuck
    assert [p.tolist() for p in tight.parts or []] == plan


def _fewest_outside(nbrs: list[dict[int, float]], w: np.ndarray, bounds: Bounds) -> int:
    """Return the fewest grids outside ``bounds`` of any plan: every atom in one connected grid
    of at most :func:`exception_cap` households (or of one unit above it, alone among units),
    empty atoms anywhere. Dynamic programming over every subset: the grid holding the lowest
    atom left, then the rest."""
    n, cap = len(w), exception_cap(bounds)
    grids: dict[int, list[tuple[int, int]]] = {}  # by lowest atom: (atoms' bits, 1 if outside)
    for bits in range(1, 1 << n):
        atoms = [i for i in range(n) if bits >> i & 1]
        total, units = int(w[atoms].sum()), int((w[atoms] > 0).sum())
        if units and (total <= cap or units == 1) and connected(atoms, nbrs):
            grids.setdefault(atoms[0], []).append((bits, int(not bounds.holds(total))))
    fewest = {0: 0}
    for left in range(1, 1 << n):  # each subset after every subset of it
        low = (left & -left).bit_length() - 1
        options = [fewest[left & ~b] + c for b, c in grids.get(low, []) if b & ~left == 0]
        fewest[left] = min(options, default=n + 1)
    return fewest[(1 << n) - 1]


@st.composite
def _bridged_regions(draw: st.DrawFn) -> tuple[list[dict[int, float]], np.ndarray, Bounds]:
    """A drawn region, half of them with many empty atoms, and bounds of 4–28 households."""
    nbrs, w, _ = draw(regions())
    if draw(st.booleans()):
        w = np.array([draw(st.sampled_from([0, 0, 0, 0, 3, 5, 8, 12, 20])) for _ in w], float)
    lo = draw(st.integers(4, 16))
    return nbrs, w, Bounds(lo, lo + draw(st.integers(0, 12)))


@pytest.mark.parametrize("atoms", [exact.BRIDGE_ATOMS, 2], ids=["as set", "2: most unproved"])
@settings(max_examples=200, deadline=None)
@given(_bridged_regions())
def test_the_cover_proves_what_every_plan_allows_and_nothing_else(
    atoms: int, case: tuple[list[dict[int, float]], np.ndarray, Bounds]
) -> None:
    """Against every plan (brute force: any connected grids, any number of empty atoms in each):
    where the cover says the region is infeasible it is, where it claims the fewest exceptions
    no plan has fewer, and where its groups hold every empty atom a grid may need (_bridging
    says it proves) it finds the plan within the bounds or proves there is none and finds the
    fewest exceptions. Its parts are always a plan. Empty atoms that hang off a group (_Leaves)
    or can never join two of its atoms (_bridging_atoms) are left out without losing one; with
    ``BRIDGE_ATOMS`` at 2 most regions that need bridges are past it, and claim nothing false."""
    nbrs, w, bounds = case
    n = len(w)
    assume((w > 0).any())
    fewest = _fewest_outside(nbrs, w, bounds)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact, "BRIDGE_ATOMS", atoms)
        outcome = exact_partition(np.arange(n), w, nbrs, np.full(n, 4.0), bounds)
        sound = exact._bridging(np.arange(n), w, nbrs, Budget())[1]
    assert outcome.parts is not None
    assert whole_plan(outcome.parts, n, nbrs)
    outside = sum(not bounds.holds(int(w[p].sum())) for p in outcome.parts)
    if outcome.infeasible:
        assert fewest > 0
    if outcome.fewest_up_to is not None:
        assert outside == fewest
    if sound:
        assert outcome.infeasible == (fewest > 0) and outside == fewest
        assert outcome.fewest_up_to == (exception_cap(bounds) if fewest else None)


def test_an_atom_of_under_half_a_household_off_a_chain_of_empty_ones_is_covered() -> None:
    """20 - 0 - 0 - 20 for 30–50 with 0.3 households off the first 0 only: one grid of 40. The
    0.3 counts as empty in a group but must be in one: it was peeled as a dead end, so no group
    of the chain's two empty atoms could hold it, and the cover, claiming its proof, found the
    region infeasible."""
    w, nbrs = _path([20, 0, 0, 20])
    nbrs.append({1: 1.0})
    nbrs[1][4] = 1.0
    w = np.r_[w, 0.3]
    outcome = exact_partition(np.arange(5), w, nbrs, np.full(5, 4.0), Bounds(30, 50))
    assert not outcome.infeasible and outcome.parts is not None
    assert [p.tolist() for p in outcome.parts] == [[0, 1, 2, 3, 4]]
    assert exact._bridging(np.arange(5), w, nbrs, Budget()) == (3, True)  # 0.3 and the chain
