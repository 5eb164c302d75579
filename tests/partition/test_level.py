"""One level's shortcuts give what the general path (graph, regions, split, sharing) gives."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gridsvc.partition import Bounds
from gridsvc.partition.atoms import AtomColumns
from gridsvc.partition.budget import Budget
from gridsvc.partition.codes import number
from gridsvc.partition.exact import exact_partition
from gridsvc.partition.graph import Graph
from gridsvc.partition.level import (
    EXACT_UNITS,
    Note,
    _draw,
    _Plans,
    _rank,
    _split,
    partition_level,
    plan_grids,
)
from gridsvc.partition.split import split_region
from gridsvc.partition.territory import Territory

TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)


def _unit(households: int, stacked: int) -> AtomColumns:
    """One ground atom of ``households`` and ``stacked`` atoms of 10 above it."""
    member = np.concatenate([np.zeros(households), np.repeat(np.arange(1, stacked + 1), 10)])
    n = 1 + stacked
    return AtomColumns(
        households=np.bincount(member.astype(int), minlength=n).astype(float),
        xy=np.full((n, 2), 5.0),
        building=np.full(n, "B", dtype=object),
        compound=np.full(n, "", dtype=object),
        floor_lo=np.array([1.0] + [3.0 + 2 * i for i in range(stacked)]),
        floor_hi=np.array([2.0] + [4.0 + 2 * i for i in range(stacked)]),
        stacked=np.arange(n) > 0,
        ground=np.zeros(n, dtype=np.int64),
        member=member.astype(np.int64),
    )


@given(st.integers(1, 15), st.integers(0, 3), st.floats(4.0, 40.0), st.floats(4.0, 40.0))
def test_a_lone_inhabited_cell_is_the_grid_the_general_path_draws(
    households: int, stacked: int, width: float, height: float
) -> None:
    cell = shapely.box(0, 0, width, height)
    terr = Territory(
        atoms=np.arange(1),
        cells=np.array([cell], dtype=object),
        cell_block=np.zeros(1, dtype=np.int64),
        orphans=np.empty(0, dtype=object),
        orphan_block=np.empty(0, dtype=np.int64),
        blocks=np.empty(0, dtype=object),
        cell_soft=np.zeros(1, dtype=np.int64),
        orphan_soft=np.empty(0, dtype=np.int64),
    )
    atoms = _unit(households, stacked)
    bounds = Bounds(1, 15)
    parts, geoms, cuts, _ = _draw(
        terr, atoms, atoms.households[:1], np.zeros(1, dtype=bool), bounds, False,
        bridge=True, to_wgs=TO_WGS, notes=[], budget=Budget(0.0),
    )  # fmt: skip
    assert [(p.tolist(), e) for p, e in parts] == [([0], False)] and cuts == {}
    xy = np.full((len(atoms.member), 2), 5.0)
    cells = partition_level(
        cell, None, xy, bounds, barriers=None, compounds=None, to_wgs=TO_WGS, notes=[],
        atoms=atoms, territory=terr,
    )  # fmt: skip
    assert cells[0].geometry.equals(geoms[0]) and cells[0].flags == []
    assert cells[0].members.tolist() == list(range(households))
    assert [(c.floor_lo, c.floor_hi, c.stacked) for c in cells[1:]] == [
        (3 + 2 * i, 4 + 2 * i, True) for i in range(stacked)
    ]
    assert sum(len(c.members) for c in cells) == len(atoms.member)


@given(st.lists(st.one_of(st.none(), st.integers(1, 30)), min_size=1, max_size=6))
def test_grids_on_one_footprint_are_numbered_as_equal_copies_would_be(
    floors: list[int | None],
) -> None:
    # the shortcut for one shared footprint (a unit's stacked grids) orders them by floor, as
    # the reading order does for copies that are equal but not the same object
    same = shapely.box(0, 0, 10, 20)
    lo = np.array([np.nan if f is None else f for f in floors], dtype=float)
    shared = number(np.array([same] * len(floors), dtype=object), lo, parent="P", level=2)
    copies = np.array([shapely.box(0, 0, 10, 20) for _ in floors], dtype=object)
    assert shared == number(copies, lo, parent="P", level=2)
    assert sorted(shared) == [f"P{i:02d}" for i in range(1, len(floors) + 1)]


def _lattice(weights: list[int], columns: int) -> tuple[np.ndarray, np.ndarray, Graph]:
    """Atoms on a lattice of 10 m squares, ``columns`` wide; each shares a 10 m border with the
    atoms beside, above and below it. Returns households, centres and the graph."""
    n = len(weights)
    xy = np.array([[10.0 * (i % columns) + 5, 10.0 * (i // columns) + 5] for i in range(n)])
    edges = [(i, j) for i in range(n) for j in (i + 1, i + columns) if j < n]
    edges = [(i, j) for i, j in edges if j != i + 1 or j % columns]
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j in edges:
        nbrs[i][j] = nbrs[j][i] = 10.0
    u, v = (np.array([e[k] for e in edges], dtype=np.int64) for k in (0, 1))
    lengths = np.full(len(edges), 10.0)
    graph = Graph(n, u, v, lengths, np.zeros(len(edges), dtype=bool), lengths, nbrs)
    return np.array(weights, dtype=float), xy, graph


def _split_then_exact(
    nodes: np.ndarray, w: np.ndarray, xy: np.ndarray, graph: Graph, bounds: Bounds
) -> list[list[int]]:
    """The order before lumpy regions went to the exact cover first: the heuristic split with
    its ReCom repair, then the exact cover, whose plan (when it finds one) replaces it."""
    budget = Budget()
    k = bounds.choose_k(int(w[nodes].sum())) or 1
    pieces = split_region(nodes, w, xy, graph.nbrs, bounds, k, budget=budget)
    perimeter = np.full(len(w), 40.0)
    outcome = exact_partition(
        nodes, w, graph.nbrs, perimeter, bounds, units=EXACT_UNITS, budget=budget
    )
    return [p.tolist() for p in (outcome.parts if outcome.parts is not None else pieces)]


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(10, 45), min_size=2, max_size=9), st.integers(1, 3))
def test_a_lumpy_region_goes_to_the_exact_cover_first_for_the_same_plan(
    weights: list[int], columns: int
) -> None:
    # every unit holds at least 10 households, a fifth of 50: the region is lumpy
    w, xy, graph = _lattice(weights, columns)
    nodes, bounds = np.arange(len(w)), Bounds(30, 50)
    plans = _Plans(w, xy, graph, bounds)
    perimeter = np.full(len(w), 40.0)
    parts, outcome = _split(nodes, w, xy, graph, perimeter, bounds, Budget(), plans)
    assert outcome is not None  # the exact cover ran
    # the heuristic plan is drawn only when the exact cover found none, or one with exceptions
    assert (outcome.parts is None or outcome.infeasible) == bool(plans.done)
    # the plan of the order before, unless the cover had exceptions and the heuristic's plan
    # ranks first (level._rank): two units of 10 make one exception together, not two apart
    want = [np.array(p) for p in _split_then_exact(nodes, w, xy, graph, bounds)]
    rank = partial(_rank, w=w, bounds=bounds, perimeter=perimeter, nbrs=graph.nbrs)
    if outcome.parts is not None and plans.done and rank(plans.plan(nodes)) < rank(want):
        want = plans.plan(nodes)
    assert [p.tolist() for p in parts] == [p.tolist() for p in want]
    assert sorted(x for p in parts for x in p.tolist()) == nodes.tolist()


def test_a_lumpy_region_without_budget_gets_the_heuristic_split() -> None:
    w, xy, graph = _lattice([25, 25, 20, 30, 25, 25], 3)
    nodes, bounds = np.arange(len(w)), Bounds(30, 50)
    short = _Plans(w, xy, graph, bounds)  # less left than the exact step's own limit
    _, outcome = _split(nodes, w, xy, graph, np.full(6, 40.0), bounds, Budget(1.0), short)
    assert short.done and outcome is not None  # the heuristic first, then the exact step
    plans = _Plans(w, xy, graph, bounds)
    spent = Budget(0.0)
    parts, outcome = _split(nodes, w, xy, graph, np.full(6, 40.0), bounds, spent, plans)
    assert outcome is None and plans.done
    k = bounds.choose_k(150) or 1
    fresh = split_region(nodes, w, xy, graph.nbrs, bounds, k, budget=Budget(0.0))
    assert [p.tolist() for p in parts] == [p.tolist() for p in fresh]
    assert spent.skipped_budget >= 1 and spent.spent == 0.0


def test_a_lumpy_miss_on_a_small_budget_goes_to_the_exact_cover_before_recom() -> None:
    # the heuristic's plan of this lumpy region misses 30–50 and a cover within them exists
    w, xy, graph = _lattice([11, 24, 21, 45, 21, 15, 45, 26], 2)
    nodes, bounds, perimeter = np.arange(len(w)), Bounds(30, 50), np.full(len(w), 40.0)
    plans = _Plans(w, xy, graph, bounds)
    assert not all(bounds.holds(int(w[p].sum())) for p in plans.plan(nodes))
    small = Budget(0.2)  # less than the exact step's own limit: before, ReCom ran first
    parts, outcome = _split(nodes, w, xy, graph, perimeter, bounds, small, plans)
    alone = Budget(0.2)
    cover = exact_partition(
        nodes, w, graph.nbrs, perimeter, bounds, units=EXACT_UNITS, budget=alone
    )
    assert outcome is not None and outcome.parts is not None and cover.parts is not None
    assert [p.tolist() for p in parts] == [p.tolist() for p in cover.parts]
    assert all(bounds.holds(int(w[p].sum())) for p in parts)
    assert small.spent == alone.spent  # the cover's work only: no ReCom re-split was paid


def test_a_region_within_the_bounds_gets_the_compact_cover_only_from_the_budgets_first_half() -> (
    None
):
    # the heuristic's plan holds 30–50; the exact cover's is another, more compact one
    w, xy, graph = _lattice([34, 23, 16, 41, 11, 34, 37, 10, 38], 3)
    nodes, bounds, perimeter = np.arange(len(w)), Bounds(30, 50), np.full(len(w), 40.0)
    plans = _Plans(w, xy, graph, bounds)
    assert all(bounds.holds(int(w[p].sum())) for p in plans.plan(nodes))
    fresh = Budget(1.0)
    _, outcome = _split(nodes, w, xy, graph, perimeter, bounds, fresh, plans)
    assert outcome is not None and outcome.parts is not None and fresh.spent > 0.0
    used = Budget(1.0, spent=0.6)  # less than half left: kept for regions that miss the bounds
    parts, outcome = _split(nodes, w, xy, graph, perimeter, bounds, used, plans)
    assert outcome is None and used.spent == 0.6
    assert [p.tolist() for p in parts] == [p.tolist() for p in plans.plan(nodes)]


def test_units_joined_through_two_empty_cells_make_one_grid() -> None:
    """20 - 0 - 0 - 20 in a row (30–50): one grid of 40, no note. Before, the exact cover's
    groups held one empty cell at most: two grids of 20, flagged as exceptions proved the
    fewest; and with too many empty cells for its groups to hold them all, the cover's two
    grids (nothing proved) rank below the heuristic's one, which stays, with no note."""
    w, xy, graph = _lattice([20, 0, 0, 20], 4)
    notes: list[Note] = []
    planned = plan_grids(
        graph, w, xy, np.full(4, 40.0), Bounds(30, 50), to_wgs=TO_WGS, notes=notes, budget=Budget()
    )
    assert [(p.tolist(), exception) for p, exception in planned.parts] == [([0, 1, 2, 3], False)]
    assert notes == []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gridsvc.partition.exact.BRIDGE_ATOMS", 1)
        planned = plan_grids(
            graph,
            w,
            xy,
            np.full(4, 40.0),
            Bounds(30, 50),
            to_wgs=TO_WGS,
            notes=notes,
            budget=Budget(),
        )
    assert [(p.tolist(), exception) for p, exception in planned.parts] == [([0, 1, 2, 3], False)]
    assert notes == []
