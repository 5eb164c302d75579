"""Exact partition of a region by set partitioning over enumerated connected groups.

When atoms are lumpy (stairwell units of 20–49 households against 30–50 bounds) the feasible
grids are small connected groups of atoms. We enumerate every connected group whose household
count lies within the bounds (each group once, by the ESU extension-set method), then choose
groups that cover every atom exactly once with HiGHS, minimising the total perimeter (shared
borders inside a building or compound count extra, so cuts avoid them). A region whose atoms
admit no such cover is proved infeasible under the never-split-a-unit rule.

An infeasible region still gets an exact plan: the closest one, with the fewest grids outside
the bounds. Groups of up to ``hi + lo / 2`` households (:func:`exception_cap`) join the cover;
the LP relaxation of "fewest groups outside the bounds" bounds their number from below and its
reduced costs leave only the groups a plan with that many can use, over which the least
perimeter plan is found (:func:`_fewest_exceptions`): the count is proved the fewest any plan of
such groups can have. Every MIP runs over the groups an LP relaxation's reduced costs leave
(:func:`_least_cost`), with a check that proves the dropped ones could not do better.
Without it the heuristic's plan was kept whole and every grid it missed was flagged as proved,
although the proof (one stuck unit, say) accounted for one of them.

Atoms without households (empty blocks) may join a group as a bridge, at most one per group, and
are otherwise attached afterwards to a neighbouring grid, so every grid stays connected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy.sparse import csr_array

from .atoms import Bounds
from .budget import (
    ENUMERATED_GROUPS,
    HIGHS_LP_NONZEROS,
    HIGHS_NODES,
    HIGHS_NONZEROS,
    STEP_NODES,
    WALL_CAP_SECONDS,
    Budget,
)

__all__ = [
    "ExactOutcome",
    "enumerate_groups",
    "exact_partition",
    "exception_cap",
    "stuck_atoms",
]

log = logging.getLogger(__name__)
GROUP_LIMIT = 30_000  # beyond this many candidate groups the heuristic is used instead
FEWEST_LIMIT = 200_000  # the same for the fewest-exceptions cover (its LP prunes most of them);
# a call's own ``limit`` scales it: ``limit * FEWEST_LIMIT // GROUP_LIMIT``


@dataclass(frozen=True, slots=True)
class ExactOutcome:
    """``parts`` when a cover was found; ``infeasible`` when none within the bounds exists.

    An infeasible outcome may still have ``parts``: the plan with the fewest grids outside the
    bounds, proved the fewest among plans whose grids hold at most ``fewest_up_to`` households
    when that is set (None when the solver's work limit stopped it first).
    """

    parts: list[np.ndarray] | None
    infeasible: bool = False
    stuck: tuple[int, ...] = ()  # atoms that fit in no group, when that is the proof
    fewest_up_to: int | None = None


def enumerate_groups(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    limit: int = GROUP_LIMIT,
) -> list[tuple[int, ...]] | None:
    """List connected groups of ``nodes`` holding ``bounds`` households, or None past ``limit``.

    Zero-household nodes may appear in a group at most once and never alone.
    """
    inside = set(int(x) for x in nodes)
    order = sorted(inside)
    adj = {x: sorted(y for y in nbrs[x] if y in inside) for x in order}
    weight = {x: int(w[x]) for x in order}
    groups: list[tuple[int, ...]] = []

    def extend(
        sub: list[int], ext: list[int], closed: set[int], total: int, zeros: int, root: int
    ) -> bool:
        if bounds.lo <= total <= bounds.hi and total > 0:
            groups.append(tuple(sorted(sub)))
            if len(groups) > limit:
                return False
        ext = list(ext)
        while ext:
            x = ext.pop()
            wx = weight[x]
            if total + wx > bounds.hi or (wx == 0 and zeros >= 1):
                continue
            new = [y for y in adj[x] if y > root and y not in closed]
            if not extend(
                [*sub, x], ext + new, closed | set(new), total + wx, zeros + (wx == 0), root
            ):
                return False
        return True

    for v in order:
        if weight[v] > bounds.hi:
            continue
        start = [y for y in adj[v] if y > v]
        if not extend([v], start, {v, *start}, weight[v], int(weight[v] == 0), v):
            return None
    return groups


def stuck_atoms(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    budget: int = 20_000,
) -> list[int]:
    """Return inhabited atoms that lie in no connected group within ``bounds`` (a proof).

    Each atom's search grows connected groups around it and stops at the first that fits; an
    atom whose search runs out of ``budget`` steps is not reported.
    """
    inside = {int(x) for x in nodes}
    stuck = []
    for x in sorted(inside):
        if w[x] <= 0 or bounds.lo <= w[x] <= bounds.hi:
            continue
        if w[x] > bounds.hi:
            stuck.append(x)
            continue
        seen: set[frozenset[int]] = set()
        stack = [(frozenset([x]), float(w[x]))]
        steps, found, exhausted = 0, False, True
        while stack:
            steps += 1
            if steps > budget:
                exhausted = False
                break
            group, total = stack.pop()
            frontier = {y for z in group for y in nbrs[z] if y in inside and y not in group}
            for y in frontier:
                grown = total + float(w[y])
                if grown > bounds.hi:
                    continue
                if grown >= bounds.lo:
                    found = True
                    break
                key = group | {y}
                if key not in seen:
                    seen.add(key)
                    stack.append((key, grown))
            if found:
                break
        if not found and exhausted:
            stuck.append(x)
    return stuck


def _flat(groups: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Return the size of each group and the atoms of all groups, one group after another."""
    sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    members = np.fromiter(chain.from_iterable(groups), dtype=np.int64, count=int(sizes.sum()))
    return sizes, members


def _group_costs(
    groups: list[tuple[int, ...]], perimeter: np.ndarray, nbrs: list[dict[int, float]]
) -> np.ndarray:
    """Perimeter in decimetres; inner borders weigh their cut cost, so buildings stay whole."""
    n = len(perimeter)
    sizes, members = _flat(groups)
    incidence = csr_array(
        (np.ones(len(members)), (np.repeat(np.arange(len(groups)), sizes), members)),
        shape=(len(groups), n),
    )
    atoms = sorted(set(members.tolist()))
    pairs = [(x, y, c) for x in atoms for y, c in nbrs[x].items()]
    border = csr_array(
        ([c for _, _, c in pairs], ([x for x, _, _ in pairs], [y for _, y, _ in pairs])),
        shape=(n, n),
    )
    inner = np.asarray((incidence @ border).multiply(incidence).sum(axis=1)).ravel()
    return np.rint(10 * (incidence @ perimeter - inner))


def exception_cap(bounds: Bounds) -> int:
    """Return the most households an exception grid of an infeasible region may hold."""
    return bounds.hi + bounds.lo // 2


def exact_partition(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    perimeter: np.ndarray,
    bounds: Bounds,
    *,
    units: float = 2.0,
    budget: Budget | None = None,
    limit: int = GROUP_LIMIT,
) -> ExactOutcome:
    """Cover ``nodes`` with connected groups within ``bounds``, most compact first.

    Returns the parts, or ``infeasible=True`` when no cover exists (a stuck atom, or HiGHS
    proves it) with the plan of fewest exceptions as parts when it is found, or neither when the
    enumeration is too large or the work limit (``units``, cut to what ``budget`` has left) ran
    out. ``limit`` bounds the candidate groups (the fewest-exceptions cover's in proportion:
    ``FEWEST_LIMIT`` at the default); their enumeration is charged to ``budget`` too.
    """
    if not (w[nodes] > 0).any():
        return ExactOutcome(None)
    budget = budget or Budget()
    stuck = stuck_atoms(nodes, w, nbrs, bounds)
    if stuck:
        log.debug(
            "exact: atoms %s (households %s) fit in no group within the bounds",
            stuck,
            [int(w[x]) for x in stuck],
        )
    else:
        groups = _enumerate(nodes, w, nbrs, bounds, budget, limit)
        if groups is None:
            return ExactOutcome(None)
        picked, _ = _cover(nodes, groups, w, perimeter, nbrs, budget, units)
        if picked is None:
            return ExactOutcome(None)
        if not isinstance(picked, str):
            log.debug("exact: %d atoms, %d groups → %d grids", len(nodes), len(groups), len(picked))
            return ExactOutcome(picked)
    return _fewest_exceptions(nodes, w, nbrs, perimeter, bounds, tuple(stuck), budget, units, limit)


def _enumerate(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    budget: Budget,
    limit: int,
) -> list[tuple[int, ...]] | None:
    """Enumerate the groups within ``bounds`` that the step's own ``limit`` and what ``budget``
    has left (``ENUMERATED_GROUPS`` per unit) allow, charging the groups listed; None past
    either (counted as too big or as skipped for the budget)."""
    if not budget.allows():
        return None
    paid = budget.left() * ENUMERATED_GROUPS
    most = limit if paid > limit else int(paid)
    groups = enumerate_groups(nodes, w, nbrs, bounds, limit=most)
    budget.charge((most + 1 if groups is None else len(groups)) / ENUMERATED_GROUPS)
    if groups is not None:
        return groups
    if most < limit:
        budget.skipped_budget += 1
    else:
        budget.too_big()
    log.debug("exact: more than %d groups over %d atoms; skipped", most, len(nodes))
    return None


def _fewest_exceptions(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    perimeter: np.ndarray,
    bounds: Bounds,
    stuck: tuple[int, ...],
    budget: Budget,
    units: float,
    limit: int,
) -> ExactOutcome:
    """Cover an infeasible region with the fewest groups outside ``bounds`` (see the module).

    Two steps. The LP relaxation of "fewest groups outside the bounds" gives a lower bound L on
    their number; a plan with ``t`` of them can only use groups whose reduced cost is at most
    ``t - L`` (any plan costs at least L plus the reduced cost of each group it uses), a small
    share of the groups. The least-perimeter plan over those groups with at most ``t``
    exceptions is then found for ``t = ceil(L)``, ``ceil(L) + 1``, …: the first ``t`` that has
    one is the fewest possible.
    """
    cap = exception_cap(bounds)
    groups = _enumerate(nodes, w, nbrs, Bounds(1, cap), budget, limit * FEWEST_LIMIT // GROUP_LIMIT)
    if groups is None:
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    groups += [(int(x),) for x in nodes if w[x] > cap]  # too big for any grid: one of its own
    model = _Model.build(nodes, groups, w)
    if model is None or not model.affordable(budget):
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    totals = np.rint(model.matrix.T @ w[np.sort(nodes)])  # households of each group
    outside = ((totals < bounds.lo) | (totals > bounds.hi)).astype(float)
    lp = model.relax(np.arange(len(groups)), outside, budget)
    if not isinstance(lp, tuple):  # no plan: infeasible LP, the wall-clock cap or numerics
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    bound, reduced = lp
    costs = _group_costs(groups, perimeter, nbrs)
    for t in range(int(np.ceil(bound - 1e-6)), len(groups) + 1):
        keep = np.flatnonzero(reduced <= t - bound + 1e-6)
        picked, _ = _least_cost(model, keep, costs, budget, units, count=(outside, t))
        if picked is None:
            return ExactOutcome(None, infeasible=True, stuck=stuck)
        if isinstance(picked, list):
            parts = _parts(picked, groups, nodes, nbrs)
            log.debug(
                "exact: %d of %d groups up to %d households → %d grids, %d outside the bounds",
                len(keep),
                len(groups),
                cap,
                len(parts),
                t,
            )
            # the count is proved the fewest even when the perimeter is not proved least
            return ExactOutcome(parts, infeasible=True, stuck=stuck, fewest_up_to=cap)
        if len(keep) == len(groups):
            break
    return ExactOutcome(None, infeasible=True, stuck=stuck)


def _parts(
    picked: list[int],
    groups: list[tuple[int, ...]],
    nodes: np.ndarray,
    nbrs: list[dict[int, float]],
) -> list[np.ndarray]:
    """Return the picked groups as parts, empty atoms attached."""
    chosen = [set(groups[i]) for i in picked]
    _attach_zeros(chosen, nodes, nbrs)
    return [np.array(sorted(s)) for s in chosen]


def _cover(
    nodes: np.ndarray,
    groups: list[tuple[int, ...]],
    w: np.ndarray,
    perimeter: np.ndarray,
    nbrs: list[dict[int, float]],
    budget: Budget,
    units: float,
) -> tuple[list[np.ndarray] | str | None, bool]:
    """Pick ``groups`` covering ``nodes`` at least perimeter.

    Returns the parts (empty atoms attached) or "infeasible" or None (work limit), and whether
    the parts are proved optimal.
    """
    model = _Model.build(nodes, groups, w)
    if model is None:
        return "infeasible", True  # an inhabited atom no group holds
    if not model.affordable(budget):  # checked before the groups are costed
        return None, False
    costs = _group_costs(groups, perimeter, nbrs)
    picked, optimal = _least_cost(model, np.arange(len(groups)), costs, budget, units)
    if isinstance(picked, list):
        return _parts(picked, groups, nodes, nbrs), optimal
    return picked, optimal


def _least_cost(
    model: _Model,
    cols: np.ndarray,
    costs: np.ndarray,
    budget: Budget,
    units: float,
    count: tuple[np.ndarray, int] | None = None,
) -> tuple[list[int] | str | None, bool]:
    """Pick groups among ``cols`` covering the atoms at least cost (at most ``count[1]`` of the
    groups marked in ``count[0]`` when given).

    The LP relaxation gives a lower bound L and each group's reduced cost r: a plan using a
    group costs at least L + r. The MIP runs over the groups with r within a gap g of L; if its
    optimum costs at most L + g no plan using a dropped group is cheaper, so it is optimal;
    otherwise g widens to the optimum found and the MIP runs again (nearly integral LPs make g
    small and the MIP a few hundred groups where all of them held thousands). Returns the
    picked groups, "infeasible" or None (work limit), and whether proved optimal.
    """
    lp = model.relax(cols, costs, budget, count)
    if lp is None:
        return None, False
    if isinstance(lp, str):
        return "infeasible", True
    bound, reduced = lp
    gap = max(1.0, 1e-3 * abs(bound))
    while True:
        keep = cols[reduced <= gap + 1e-6]
        solved = model.restricted(keep, costs, budget, units, count)
        if solved is None:
            return None, False
        picked, optimal = solved
        if isinstance(picked, list):
            value = float(costs[picked].sum())
            if not optimal or value - bound <= gap + 1e-6 or len(keep) == len(cols):
                return picked, optimal
            gap = value - bound
        elif len(keep) == len(cols):
            return "infeasible", True
        else:
            gap *= 4.0


@dataclass(frozen=True, slots=True)
class _Model:
    """Set-partitioning rows: each inhabited atom in exactly one group, each empty one in at
    most one; columns: the groups (a 0/1 matrix)."""

    matrix: csr_array
    inhabited: np.ndarray

    @classmethod
    def build(
        cls, nodes: np.ndarray, groups: list[tuple[int, ...]], w: np.ndarray
    ) -> _Model | None:
        """Return the model, or None when an inhabited atom lies in no group (infeasible)."""
        order = np.unique(np.asarray(nodes, dtype=np.int64))  # an atom's row: its rank
        sizes, members = _flat(groups)
        row = np.full(int(order[-1]) + 1, -1, dtype=np.int64)
        row[order] = np.arange(len(order))
        rows = row[members]
        cols = np.repeat(np.arange(len(groups)), sizes)
        matrix = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(order), len(groups)))
        inhabited = w[order] > 0
        covered = np.bincount(rows, minlength=len(order)) > 0
        if (inhabited & ~covered).any():
            return None
        return cls(matrix, inhabited)

    def affordable(self, budget: Budget) -> bool:
        """Return True if the LP relaxation's work fits what ``budget`` has left (its own limit
        is the enumeration's: at most ``FEWEST_LIMIT`` groups)."""
        if self.matrix.nnz / HIGHS_LP_NONZEROS > budget.left():
            budget.skipped_budget += 1
            return False
        return True

    def relax(
        self,
        cols: np.ndarray,
        costs: np.ndarray,
        budget: Budget,
        count: tuple[np.ndarray, int] | None = None,
    ) -> tuple[float, np.ndarray] | str | None:
        """Solve the LP relaxation over the groups ``cols``; return its value and each group's
        reduced cost, "infeasible" when even the relaxation is (a proof that no cover exists),
        or None when HiGHS stopped without an answer (the wall-clock cap, counted in
        ``budget.wall_capped``, or numerical trouble): no plan, the heuristic's stands."""
        from scipy.optimize import linprog
        from scipy.sparse import vstack

        sub = self.matrix[:, cols]
        eq, ub = sub[self.inhabited], sub[~self.inhabited]
        rhs = np.ones(ub.shape[0])
        if count is not None:
            ub = vstack([ub, csr_array(count[0][cols][None, :])]).tocsr()
            rhs = np.append(rhs, float(count[1]))
        has_ub = ub.shape[0] > 0
        result = linprog(
            costs[cols],
            A_eq=eq,
            b_eq=np.ones(eq.shape[0]),
            A_ub=ub if has_ub else None,
            b_ub=rhs if has_ub else None,
            bounds=(0, None),
            method="highs",
            options={"time_limit": WALL_CAP_SECONDS},
        )
        budget.charge(sub.nnz / HIGHS_LP_NONZEROS)
        if result.status == 2:
            return "infeasible"
        if result.status != 0:  # 1: the wall-clock cap (no iteration limit is set); 4: numerics
            if result.status == 1:
                budget.wall_capped += 1
            log.debug("exact: LP relaxation over %d groups: %s", len(cols), result.message)
            return None
        dual = eq.T @ result.eqlin.marginals
        if has_ub:
            dual = dual + ub.T @ result.ineqlin.marginals
        return float(result.fun), costs[cols] - dual

    def restricted(
        self,
        keep: np.ndarray,
        costs: np.ndarray,
        budget: Budget,
        units: float,
        count: tuple[np.ndarray, int] | None = None,
    ) -> tuple[list[int] | str, bool] | None:
        """Solve the MIP over the groups ``keep`` (with at most ``count[1]`` groups of
        ``count[0]`` when given); return the picked groups or "infeasible", and whether proved
        optimal; None when the work limit ran out before any cover was found."""
        from scipy.optimize import Bounds as VarBounds
        from scipy.optimize import LinearConstraint, milp

        sub = self.matrix[:, keep]
        lower = self.inhabited.astype(float)
        constraints = [LinearConstraint(sub, lower, np.ones(len(lower)))]
        if count is not None:
            constraints.append(LinearConstraint(count[0][keep][None, :], 0.0, float(count[1])))
        nodes = max(1, int(min(units * STEP_NODES, budget.left() * HIGHS_NODES)))
        result = milp(
            costs[keep],
            constraints=constraints,
            integrality=np.ones(len(keep)),
            bounds=VarBounds(0, 1),
            options={"node_limit": nodes, "time_limit": WALL_CAP_SECONDS, "presolve": False},
        )
        budget.charge(sub.nnz / HIGHS_NONZEROS + (result.mip_node_count or 0) / HIGHS_NODES)
        if result.status == 1 and "Time limit" in result.message:
            budget.wall_capped += 1
        log.debug("exact: %d of %d groups, HiGHS %s", len(keep), len(costs), result.message)
        if result.status == 2:
            return "infeasible", True
        if result.x is None:
            return None
        return [int(keep[i]) for i in np.flatnonzero(result.x > 0.5)], result.status == 0


def _attach_zeros(chosen: list[set[int]], nodes: np.ndarray, nbrs: list[dict[int, float]]) -> None:
    """Give every unassigned (empty) node to the neighbouring group it shares most border with."""
    owner = {x: i for i, s in enumerate(chosen) for x in s}
    left = [int(x) for x in nodes if int(x) not in owner]
    while left:
        progress = False
        for x in list(left):
            options: dict[int, float] = {}
            for y, c in nbrs[x].items():
                if y in owner:
                    options[owner[y]] = options.get(owner[y], 0.0) + c
            if options:
                best = max(sorted(options), key=lambda i: options[i])
                chosen[best].add(x)
                owner[x] = best
                left.remove(x)
                progress = True
        if not progress:  # isolated empty nodes: give them to the first group
            for x in left:
                chosen[0].add(x)
            return
