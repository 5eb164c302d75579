"""Exact partition of a region by set partitioning over enumerated connected groups.

When atoms are lumpy (stairwell units of 20–49 households against 30–50 bounds) the feasible
grids are small connected groups of atoms. We enumerate every connected group whose household
count lies within the bounds (each group once, by the ESU extension-set method), then choose
groups that cover every atom exactly once with CP-SAT, minimising the total perimeter (shared
borders inside a building or compound count extra, so cuts avoid them). A region whose atoms
admit no such cover is proved infeasible under the never-split-a-unit rule.

Atoms without households (empty blocks) may join a group as a bridge, at most one per group, and
are otherwise attached afterwards to a neighbouring grid, so every grid stays connected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .atoms import Bounds

__all__ = ["ExactOutcome", "enumerate_groups", "exact_partition"]

log = logging.getLogger(__name__)
GROUP_LIMIT = 60_000  # beyond this many candidate groups the heuristic is used instead


@dataclass(frozen=True, slots=True)
class ExactOutcome:
    """``parts`` when a cover was found; ``infeasible`` when none exists (a proof)."""

    parts: list[np.ndarray] | None
    infeasible: bool = False


def enumerate_groups(
    nodes: Sequence[int],
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

    def extend(sub: list[int], ext: list[int], closed: set[int], total: int, zeros: int,
               root: int) -> bool:
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
            if not extend([*sub, x], ext + new, closed | set(new), total + wx,
                          zeros + (wx == 0), root):
                return False
        return True

    for v in order:
        if weight[v] > bounds.hi:
            continue
        start = [y for y in adj[v] if y > v]
        if not extend([v], start, {v, *start}, weight[v], int(weight[v] == 0), v):
            return None
    return groups


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


def exact_partition(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    perimeter: np.ndarray,
    bounds: Bounds,
    *,
    seconds: float = 10.0,
    limit: int = GROUP_LIMIT,
) -> ExactOutcome:
    """Cover ``nodes`` with connected groups within ``bounds``, most compact first.

    Returns the parts, or ``infeasible=True`` when CP-SAT proves no cover exists, or neither when
    the enumeration is too large or time ran out.
    """
    from ortools.sat.python import cp_model

    if not (w[nodes] > 0).any():
        return ExactOutcome(None)
    groups = enumerate_groups(nodes, w, nbrs, bounds, limit=limit)
    if groups is None:
        log.debug("exact: more than %d groups over %d atoms; skipped", limit, len(nodes))
        return ExactOutcome(None)
    lived = [int(x) for x in nodes if w[x] > 0]
    covering: dict[int, list[int]] = {int(x): [] for x in nodes}
    for i, g in enumerate(groups):
        for x in g:
            covering[x].append(i)
    stuck = [x for x in lived if not covering[x]]
    if stuck:
        log.debug("exact: atoms %s (households %s) fit in no group within the bounds", stuck,
                  [int(w[x]) for x in stuck])
        return ExactOutcome(None, infeasible=True)
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"g{i}") for i in range(len(groups))]
    for x, options in covering.items():
        if w[x] > 0:
            model.add_exactly_one(pick[i] for i in options)
        elif options:
            model.add_at_most_one(pick[i] for i in options)
    costs = _group_costs(groups, perimeter, nbrs)
    model.minimize(sum(c * p for c, p in zip(costs, pick, strict=True)))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    log.debug("exact: %d atoms, %d groups: %s in %.1f s", len(nodes), len(groups),
              solver.status_name(status), solver.wall_time)
    if status == cp_model.INFEASIBLE:
        return ExactOutcome(None, infeasible=True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactOutcome(None)
    chosen = [set(groups[i]) for i in range(len(groups)) if solver.value(pick[i])]
    _attach_zeros(chosen, nodes, nbrs)
    log.debug("exact: %d atoms, %d groups → %d grids (%s)", len(nodes), len(groups),
              len(chosen), solver.status_name(status))
    return ExactOutcome([np.array(sorted(s)) for s in chosen])


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
