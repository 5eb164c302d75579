"""Exact partition of a region by set partitioning over enumerated connected groups.

When atoms are lumpy (stairwell units of 20–49 households against 30–50 bounds) the feasible
grids are small connected groups of atoms. We enumerate every connected group whose household
count lies within the bounds (each group once, by the ESU extension-set method), then choose
groups that cover every atom exactly once with HiGHS, minimising the total perimeter (shared
borders inside a building or compound count extra, so cuts avoid them). A region whose atoms
admit no such cover is proved infeasible under the never-split-a-unit rule.

An infeasible region still gets an exact plan: the closest one, with the fewest grids outside
the bounds. Groups of up to ``hi + lo / 2`` households (:func:`exception_cap`) join the cover,
each one outside the bounds weighing more than any perimeter, so the optimum has the fewest
exceptions any plan of such groups can have (a proof of its own), then the least perimeter.
Without it the heuristic's plan was kept whole and every grid it missed was flagged as proved,
although the proof (one stuck unit, say) accounted for one of them.

Atoms without households (empty blocks) may join a group as a bridge, at most one per group, and
are otherwise attached afterwards to a neighbouring grid, so every grid stays connected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .atoms import Bounds
from .budget import HIGHS_NODES, HIGHS_NONZEROS, WALL_CAP_SECONDS, Budget

__all__ = [
    "ExactOutcome",
    "enumerate_groups",
    "exact_partition",
    "exception_cap",
    "stuck_atoms",
]

log = logging.getLogger(__name__)
GROUP_LIMIT = 30_000  # beyond this many candidate groups the heuristic is used instead


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


def _group_costs(
    groups: list[tuple[int, ...]], perimeter: np.ndarray, nbrs: list[dict[int, float]]
) -> list[int]:
    """Perimeter in decimetres; inner borders weigh their cut cost, so buildings stay whole."""
    costs = []
    for g in groups:
        members = set(g)
        inner = sum(c for x in g for y, c in nbrs[x].items() if y in members)  # each edge twice
        costs.append(round(10 * (float(perimeter[list(g)].sum()) - inner)))
    return costs


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
    out.
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
        groups = enumerate_groups(nodes, w, nbrs, bounds, limit=limit)
        if groups is None:
            log.debug("exact: more than %d groups over %d atoms; skipped", limit, len(nodes))
            return ExactOutcome(None)
        picked, _ = _cover(nodes, groups, w, perimeter, nbrs, budget, units)
        if picked is None:
            return ExactOutcome(None)
        if not isinstance(picked, str):
            log.debug("exact: %d atoms, %d groups → %d grids", len(nodes), len(groups), len(picked))
            return ExactOutcome(picked)
    return _fewest_exceptions(nodes, w, nbrs, perimeter, bounds, tuple(stuck), budget, units, limit)


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
    """Cover an infeasible region with the fewest groups outside ``bounds`` (see the module)."""
    cap = exception_cap(bounds)
    groups = enumerate_groups(nodes, w, nbrs, Bounds(1, cap), limit=limit)
    if groups is None:
        log.debug("exact: more than %d groups up to %d households; skipped", limit, cap)
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    groups += [(int(x),) for x in nodes if w[x] > cap]  # too big for any grid: one of its own
    outside = np.array([not bounds.holds(int(w[list(g)].sum())) for g in groups])
    # a cover's perimeter costs differ by less than 220 × the total perimeter in decimetres
    penalty = 1.0 + 220.0 * float(perimeter[nodes].sum())
    picked, optimal = _cover(nodes, groups, w, perimeter, nbrs, budget, units, outside * penalty)
    if picked is None or isinstance(picked, str):
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    log.debug(
        "exact: %d groups up to %d households → %d grids, %d outside the bounds (fewest: %s)",
        len(groups),
        cap,
        len(picked),
        sum(not bounds.holds(int(w[p].sum())) for p in picked),
        optimal,
    )
    return ExactOutcome(picked, infeasible=True, stuck=stuck, fewest_up_to=cap if optimal else None)


def _cover(
    nodes: np.ndarray,
    groups: list[tuple[int, ...]],
    w: np.ndarray,
    perimeter: np.ndarray,
    nbrs: list[dict[int, float]],
    budget: Budget,
    units: float,
    extra: np.ndarray | None = None,
) -> tuple[list[np.ndarray] | str | None, bool]:
    """Pick ``groups`` covering ``nodes`` at least cost (perimeter plus ``extra`` per group).

    Returns the parts (empty atoms attached) or "infeasible" or None (work limit), and whether
    the parts are proved optimal.
    """
    covering: dict[int, list[int]] = {int(x): [] for x in nodes}
    for i, g in enumerate(groups):
        for x in g:
            covering[x].append(i)
    if any(not covering[int(x)] for x in nodes if w[x] > 0):
        return "infeasible", True  # an inhabited atom no group holds
    if sum(map(len, groups)) / HIGHS_NONZEROS > budget.cap(units):  # root LP would overspend
        budget.skipped += 1  # (checked before the groups are costed, which is not charged)
        return None, False
    costs = np.asarray(_group_costs(groups, perimeter, nbrs), dtype=float)
    if extra is not None:
        costs = costs + extra
    picked, optimal = _solve_cover(groups, covering, w, costs, budget, units)
    if picked is None or isinstance(picked, str):
        return picked, optimal
    chosen = [set(groups[i]) for i in picked]
    _attach_zeros(chosen, nodes, nbrs)
    return [np.array(sorted(s)) for s in chosen], optimal


def _solve_cover(
    groups: list[tuple[int, ...]],
    covering: dict[int, list[int]],
    w: np.ndarray,
    costs: np.ndarray,
    budget: Budget,
    units: float,
) -> tuple[list[int] | str | None, bool]:
    """Pick groups covering each inhabited atom once (empty ones at most once) at least cost.

    A set-partitioning MIP solved by HiGHS (scipy.optimize.milp): its LP relaxation is nearly
    integral here, so it proves infeasibility or optimality in well under a second where CP-SAT
    struggles to find any cover. The search explores at most the branch-and-bound nodes that
    ``units`` (cut to what ``budget`` has left) pay for, so it stops at the same point on any
    machine. Returns the picked indices, "infeasible", or None when the work limit ran out, and
    whether the pick is proved optimal.
    """
    from scipy.optimize import Bounds as VarBounds
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import csr_array

    rows, cols, lower, upper = [], [], [], []
    for r, (x, options) in enumerate(sorted(covering.items())):
        rows += [r] * len(options)
        cols += options
        lower.append(1.0 if w[x] > 0 else 0.0)
        upper.append(1.0)
    matrix = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(covering), len(groups)))
    nodes = max(1, int(budget.cap(units) * HIGHS_NODES))
    result = milp(
        costs,
        constraints=LinearConstraint(matrix, np.array(lower), np.array(upper)),
        integrality=np.ones(len(groups)),
        bounds=VarBounds(0, 1),
        options={"node_limit": nodes, "time_limit": WALL_CAP_SECONDS, "presolve": True},
    )
    budget.charge(len(rows) / HIGHS_NONZEROS + (result.mip_node_count or 0) / HIGHS_NODES)
    if result.status == 1 and "Time limit" in result.message:
        budget.wall_capped += 1
    log.debug("exact: %d groups, HiGHS status %s: %s", len(groups), result.status, result.message)
    if result.status == 2:
        return "infeasible", True
    if result.x is None:
        return None, False
    return [int(i) for i in np.flatnonzero(result.x > 0.5)], result.status == 0


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
