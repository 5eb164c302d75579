"""Assignment solver: CP-SAT per community over pruned candidates, then a greedy completion.

Per community (workers only serve their own community, so blocks are independent):

1. candidates: every eligible (grid, worker, slot) triple, pruned to the ``k`` nearest workers per
   slot position (previous assignments are always kept as candidates);
2. CP-SAT (one search worker, fixed seed, deterministic time budget) minimises the objective of
   :class:`~gridsvc.staffing.settings.StaffingSettings`, hinted with a greedy solution;
3. if a slot stays short while an eligible worker was pruned away, the block is solved again with
   every eligible worker of those slots;
4. a greedy pass over all eligible triples fills whatever still fits, so no slot stays short
   while an eligible worker has room for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from gridsvc.staffing.context import LOADS, Context, Ledger
from gridsvc.staffing.settings import StaffingSettings

__all__ = ["Triples", "block_candidates", "plan_cost", "solve"]

log = logging.getLogger(__name__)


@dataclass
class Triples:
    """Parallel arrays of (grid, worker, slot) triples with travel metres and a kept flag."""

    g: np.ndarray
    w: np.ndarray
    s: np.ndarray
    cost: np.ndarray
    kept: np.ndarray

    def __len__(self) -> int:
        return len(self.g)

    def take(self, mask: np.ndarray) -> Triples:
        """Return the triples selected by ``mask`` (bool or index array)."""
        return Triples(self.g[mask], self.w[mask], self.s[mask], self.cost[mask], self.kept[mask])

    @staticmethod
    def concat(parts: list[Triples]) -> Triples:
        """Join triples end to end."""
        if not parts:
            e = np.zeros(0, int)
            return Triples(e, e, e, e, np.zeros(0, bool))
        return Triples(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("g", "w", "s", "cost", "kept")


def block_candidates(
    ctx: Context, grids: np.ndarray, workers: np.ndarray, previous: set[tuple[int, int, int]]
) -> Triples:
    """Return every eligible triple of one block, grids × workers × slots."""
    parts = []
    for s in range(len(ctx.model.slots)):
        wq = workers[ctx.slot_quals[s][workers] & ~ctx.centre[workers]]
        if len(wq) == 0 or len(grids) == 0:
            continue
        gi = np.repeat(grids, len(wq))
        wi = np.tile(wq, len(grids))
        ok = ctx.eligible(s, gi, wi)
        gi, wi = gi[ok], wi[ok]
        cost = np.rint(ctx.travel(gi, wi)).astype(np.int64)
        kept = np.array([(g, w, s) in previous for g, w in zip(gi, wi, strict=True)], bool)
        parts.append(Triples(gi, wi, np.full(len(gi), s), cost, kept))
    return Triples.concat(parts)


def _prune(ctx: Context, full: Triples, k: int | None) -> Triples:
    if k is None or len(full) == 0:
        return full
    per = np.array([k * max(1, slot.max) for slot in ctx.model.slots])
    order = np.lexsort((full.w, full.cost, full.s, full.g))
    t = full.take(order)
    key = t.g * len(per) + t.s
    start = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    rank = np.arange(len(t)) - np.repeat(start, np.diff(np.r_[start, len(t)]))
    return t.take((rank < per[t.s]) | t.kept)


def solve(
    ctx: Context,
    blocks: list[tuple[np.ndarray, np.ndarray]],
    previous: set[tuple[int, int, int]],
    settings: StaffingSettings,
) -> Ledger:
    """Solve every block (grid indices, worker indices); return the filled ledger."""
    ledger = Ledger(ctx)
    for grids, workers in blocks:
        full = block_candidates(ctx, grids, workers, previous)
        cand = _prune(ctx, full, settings.k_candidates)
        chosen = _cp_sat(ctx, cand, settings, _greedy(ctx, cand, settings, Ledger(ctx)))
        n_slots = len(ctx.model.slots)
        short = _short(ctx, full, cand.take(chosen))
        in_full = np.isin(full.g * n_slots + full.s, short)
        in_cand = np.isin(cand.g * n_slots + cand.s, short)
        if in_full.sum() > in_cand.sum():
            hint = _as_ledger(ctx, cand.take(chosen))
            cand = Triples.concat([cand.take(~in_cand), full.take(in_full)])
            chosen = _cp_sat(ctx, cand, settings, _greedy(ctx, cand, settings, hint))
        picked = cand.take(chosen)
        for g, w, s in zip(picked.g, picked.w, picked.s, strict=True):
            ledger.add(int(w), int(g), int(s))
        _greedy(ctx, full, settings, ledger)
    return ledger


def _as_ledger(ctx: Context, t: Triples) -> Ledger:
    ledger = Ledger(ctx)
    for g, w, s in zip(t.g, t.w, t.s, strict=True):
        ledger.add(int(w), int(g), int(s))
    return ledger


def _short(ctx: Context, full: Triples, picked: Triples) -> np.ndarray:
    """Return keys ``g * S + s`` of (grid, slot) pairs with eligible workers, below their max."""
    n_slots = len(ctx.model.slots)
    keys = np.unique(full.g * n_slots + full.s)
    got, counts = np.unique(picked.g * n_slots + picked.s, return_counts=True)
    have = np.zeros(len(keys), int)
    pos = np.searchsorted(keys, got)
    have[pos] = counts
    maxes = np.array([slot.max for slot in ctx.model.slots])
    return keys[have < maxes[keys % n_slots]]


def _greedy(ctx: Context, t: Triples, settings: StaffingSettings, ledger: Ledger) -> Ledger:
    """Fill required positions round-robin, then optional ones, cheapest feasible first."""
    if len(t) == 0:
        return ledger
    order = np.lexsort((t.w, t.cost - settings.keep * t.kept.astype(np.int64)))
    g, w, s = t.g[order].tolist(), t.w[order].tolist(), t.s[order].tolist()
    slots = ctx.model.slots
    for required in (True, False):
        top = max((slot.min if required else slot.max) for slot in slots)
        for r in range(top):
            for gi, wi, si in zip(g, w, s, strict=True):
                cap = min(slots[si].min if required else slots[si].max, r + 1)
                if ledger.filled[(gi, si)] < cap and not ledger.why_not(wi, gi, si):
                    ledger.add(wi, gi, si)
    return ledger


def _cp_sat(ctx: Context, t: Triples, settings: StaffingSettings, hint: Ledger) -> np.ndarray:
    """Return the indices of ``t`` that CP-SAT picks."""
    n = len(t)
    if n == 0:
        return np.zeros(0, int)
    m = cp_model.CpModel()
    x = [m.NewBoolVar(f"x{i}") for i in range(n)]
    slots = ctx.model.slots
    objective = []
    for i in range(n):
        objective.append(
            (int(t.cost[i]) - settings.fill_optional - settings.keep * int(t.kept[i])) * x[i]
        )
    for (g, s), idx in _groups(t.g, t.s).items():
        m.Add(sum(x[i] for i in idx) <= slots[s].max)
        if slots[s].min > 0:
            u = m.NewIntVar(0, slots[s].min, f"u{g}_{s}")
            m.Add(u + sum(x[i] for i in idx) >= slots[s].min)
            objective.append(settings.fill_required * u)
    peaks: dict[int, cp_model.IntVar] = {}
    for (w, s), idx in _groups(t.w, t.s).items():
        slot = slots[s]
        if len(idx) > slot.max_grids:
            m.Add(sum(x[i] for i in idx) <= slot.max_grids)
        for name, limit in slot.capacity_limits.items():
            col = LOADS.index(name)
            loads = [int(round(ctx.load[t.g[i], col] * 10)) for i in idx]
            if sum(loads) > limit * 10:
                m.Add(sum(a * x[i] for a, i in zip(loads, idx, strict=True)) <= int(limit * 10))
        if slot.max_grids > 1 and settings.balance:
            hh = [int(ctx.load[t.g[i], 0]) for i in idx]
            if s not in peaks:
                peaks[s] = m.NewIntVar(0, int(ctx.load[:, 0].sum()) + 1, f"peak{s}")
                objective.append(settings.balance * peaks[s])
            m.Add(sum(a * x[i] for a, i in zip(hh, idx, strict=True)) <= peaks[s])
    for idx in _groups(t.w, t.g).values():
        if len(idx) > 1:
            m.Add(sum(x[i] for i in idx) <= 1)
    if ctx.model.one_role_per_worker:
        by_worker: dict[int, dict[int, list[int]]] = {}
        for i in range(n):
            by_worker.setdefault(int(t.w[i]), {}).setdefault(int(t.s[i]), []).append(i)
        for w, per_slot in by_worker.items():
            if len(per_slot) < 2:
                continue
            ys = []
            for s, idx in per_slot.items():
                y = m.NewBoolVar(f"y{w}_{s}")
                ys.append(y)
                for i in idx:
                    m.AddImplication(x[i], y)
            m.AddAtMostOne(ys)
    m.Minimize(sum(objective))
    hinted = set(hint.triples)
    for i in range(n):
        m.AddHint(x[i], (int(t.g[i]), int(t.w[i]), int(t.s[i])) in hinted)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = settings.seed
    if settings.block_time is not None:
        solver.parameters.max_deterministic_time = settings.block_time
    status = solver.Solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        log.warning("CP-SAT found no solution (%s); using the greedy one", solver.StatusName(status))
        hinted = set(hint.triples)
        return np.array([i for i in range(n) if (t.g[i], t.w[i], t.s[i]) in hinted], int)
    return np.flatnonzero([solver.BooleanValue(v) for v in x])


def _groups(a: np.ndarray, b: np.ndarray) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        out.setdefault(key, []).append(i)
    return out


def plan_cost(
    ctx: Context, ledger: Ledger, previous: set[tuple[int, int, int]], settings: StaffingSettings
) -> dict[str, float]:
    """Return the objective of a plan by parts, all non-negative, and their ``total``."""
    slots = ctx.model.slots
    filled = ledger.filled
    G = len(ctx.grid_codes)
    short = sum(max(0, sl.min - filled.get((g, s), 0)) for g in range(G) for s, sl in enumerate(slots))
    empty = sum(sl.max - filled.get((g, s), 0) for g in range(G) for s, sl in enumerate(slots))
    triples = np.array(ledger.triples, int).reshape(-1, 3)
    travel = float(np.rint(ctx.travel(triples[:, 0], triples[:, 1])).sum())
    dropped = len(previous - set(ledger.triples))
    peaks: dict[tuple[str, int], float] = {}
    for (w, s), count in ledger.grids.items():
        if slots[s].max_grids > 1 and count:
            key = (str(ctx.comm[w]), s)
            peaks[key] = max(peaks.get(key, 0.0), float(ledger.loads[(w, s)][0]))
    parts = {
        "required_unfilled": float(short),
        "positions_unfilled": float(empty),
        "travel_m": travel,
        "previous_dropped": float(dropped),
        "peak_households": float(sum(peaks.values())),
    }
    parts["total"] = (
        settings.fill_required * short
        + settings.fill_optional * empty
        + travel
        + settings.keep * dropped
        + settings.balance * parts["peak_households"]
    )
    return parts

