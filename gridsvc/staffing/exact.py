"""The exact optimum of the staffing objective with CP-SAT: the yardstick for small cases."""

from __future__ import annotations

import itertools

import numpy as np
from ortools.sat.python import cp_model

from gridsvc.errors import GridsvcError
from gridsvc.staffing.context import LOADS, Context, Ledger
from gridsvc.staffing.settings import StaffingSettings
from gridsvc.staffing.solver import Triples

__all__ = ["exact_pick", "solve_exact"]


def solve_exact(ctx: Context, t: Triples, settings: StaffingSettings) -> Ledger:
    """Return the optimal plan over triples ``t`` (every eligible one) with CP-SAT."""
    chosen, optimal = exact_pick(ctx, t, settings)
    if not optimal:
        raise GridsvcError("CP-SAT did not prove optimality on this case")
    ledger = Ledger(ctx)
    for i in chosen:
        ledger.add(int(t.w[i]), int(t.g[i]), int(t.s[i]))
    return ledger


def exact_pick(
    ctx: Context,
    t: Triples,
    settings: StaffingSettings,
    *,
    hint: np.ndarray | None = None,
    budget: float | None = None,
) -> tuple[np.ndarray, bool]:
    """Return (indices of ``t`` CP-SAT picks, proven optimal) within a deterministic budget."""
    slots = ctx.model.slots
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(len(t))]
    terms: list[cp_model.LinearExprT] = [
        (int(t.cost[i]) - settings.fill_optional - settings.keep * int(t.kept[i])) * x[i]
        for i in range(len(t))
    ]
    for (_, s), idx in _groups(t.g, t.s).items():
        m.add(sum(x[i] for i in idx) <= slots[s].max)
        if slots[s].min:
            u = m.new_int_var(0, slots[s].min, "")
            m.add(u + sum(x[i] for i in idx) >= slots[s].min)
            terms.append(settings.fill_required * u)
    for (_, s), idx in _groups(t.w, t.s).items():
        slot = slots[s]
        m.add(sum(x[i] for i in idx) <= slot.max_grids)
        for name, limit in slot.capacity_limits.items():
            col = LOADS.index(name)
            loads = [round(ctx.load[t.g[i], col] * 10) for i in idx]
            m.add(sum(a * x[i] for a, i in zip(loads, idx, strict=True)) <= round(limit * 10))
        if slot.spread:  # z_k: this person holds at least k+1 grids of the slot
            z = [m.new_bool_var("") for _ in idx]
            m.add(sum(z) == sum(x[i] for i in idx))
            for a, b in itertools.pairwise(z):
                m.add_implication(b, a)
            terms += [settings.step_cost(k) * zk for k, zk in enumerate(z)]
    for idx in _groups(t.w, t.g).values():
        m.add(sum(x[i] for i in idx) <= 1)
    if ctx.model.one_role_per_worker:
        for per in _by_worker(t).values():
            ys = [m.new_bool_var("") for _ in per]
            for y, idx in zip(ys, per.values(), strict=True):
                for i in idx:
                    m.add_implication(x[i], y)
            m.add_at_most_one(ys)
    m.minimize(sum(terms))
    if hint is not None:
        on = np.zeros(len(t), bool)
        on[hint] = True
        for v, flag in zip(x, on.tolist(), strict=True):
            m.add_hint(v, flag)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = settings.seed
    if budget is not None:
        solver.parameters.max_deterministic_time = budget
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return (np.zeros(0, int) if hint is None else hint), False
    chosen = np.flatnonzero([solver.boolean_value(v) for v in x])
    return chosen, status == cp_model.OPTIMAL


def _groups(a: object, b: object) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip(a.tolist(), b.tolist(), strict=True)):  # type: ignore[attr-defined]
        out.setdefault(key, []).append(i)
    return out


def _by_worker(t: Triples) -> dict[int, dict[int, list[int]]]:
    out: dict[int, dict[int, list[int]]] = {}
    for i, (w, s) in enumerate(zip(t.w.tolist(), t.s.tolist(), strict=True)):
        out.setdefault(w, {}).setdefault(s, []).append(i)
    return out
