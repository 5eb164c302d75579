"""Assignment solver: min-cost flow per community over pruned candidates, repaired, completed.

Per community (workers only serve their own community, so blocks are independent):

1. candidates: every eligible (grid, worker, slot) triple, pruned to the ``k`` nearest workers per
   slot position (previous assignments stay candidates);
2. min-cost flow: source → (worker, slot) in unit arcs of rising cost (the balance term) →
   (grid, slot) at travel cost → sink (required positions rewarded first) — exact for the
   objective of :class:`~gridsvc.staffing.settings.StaffingSettings` except the constraints a
   flow cannot express (one role per worker, load limits), which a short repair loop enforces;
3. if a slot stays short while an eligible worker was pruned away, the block is solved again with
   every eligible worker of those slots;
4. a greedy pass over all eligible triples fills whatever still fits, so no slot stays short
   while an eligible worker has room for it.

:func:`gridsvc.staffing.exact.solve_exact` solves the same objective exactly with CP-SAT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from gridsvc.staffing.context import LOADS, Context, Ledger
from gridsvc.staffing.settings import StaffingSettings

__all__ = ["Triples", "block_candidates", "complete", "plan_cost", "solve"]

log = logging.getLogger(__name__)

_REPAIRS = 20


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
            e = np.zeros(0, np.int64)
            return Triples(e, e, e, e, np.zeros(0, bool))
        fields = ("g", "w", "s", "cost", "kept")
        return Triples(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


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
        kept = np.fromiter(
            ((g, w, s) in previous for g, w in zip(gi.tolist(), wi.tolist(), strict=True)),
            bool,
            len(gi),
        )
        parts.append(Triples(gi, wi, np.full(len(gi), s), cost, kept))
    return Triples.concat(parts)


def _prune(ctx: Context, full: Triples, k: int | None) -> Triples:
    if k is None or len(full) == 0:
        return full
    per = np.array([k * max(1, slot.max) for slot in ctx.model.slots])
    t = full.take(np.lexsort((full.w, full.cost, full.s, full.g)))
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
    n_slots = len(ctx.model.slots)
    for grids, workers in blocks:
        full = block_candidates(ctx, grids, workers, previous)
        cand = _prune(ctx, full, settings.k_candidates)
        picked = _flow_repaired(ctx, cand, settings)
        short = _short(ctx, full, picked)
        in_full = np.isin(full.g * n_slots + full.s, short)
        in_cand = np.isin(cand.g * n_slots + cand.s, short)
        if in_full.sum() > in_cand.sum():
            cand = Triples.concat([cand.take(~in_cand), full.take(in_full)])
            picked = _flow_repaired(ctx, cand, settings)
        for g, w, s in zip(picked.g.tolist(), picked.w.tolist(), picked.s.tolist(), strict=True):
            ledger.add(w, g, s)
        complete(ctx, full, settings, ledger)
    return ledger


def _short(ctx: Context, full: Triples, picked: Triples) -> np.ndarray:
    """Return keys ``g * S + s`` of (grid, slot) pairs with eligible workers, below their max."""
    n_slots = len(ctx.model.slots)
    keys = np.unique(full.g * n_slots + full.s)
    got, counts = np.unique(picked.g * n_slots + picked.s, return_counts=True)
    have = np.zeros(len(keys), int)
    have[np.searchsorted(keys, got)] = counts
    maxes = np.array([slot.max for slot in ctx.model.slots])
    return keys[have < maxes[keys % n_slots]]


def _flow_repaired(ctx: Context, cand: Triples, settings: StaffingSettings) -> Triples:
    """Solve the flow, then ban or shrink what breaks one-role and load limits; re-solve."""
    caps: dict[tuple[int, int], int] = {}
    banned = np.zeros(len(cand), bool)
    for _ in range(_REPAIRS):
        live = cand.take(~banned)
        picked = live.take(_flow(ctx, live, settings, caps))
        changed = _repair(ctx, cand, picked, banned, caps)
        if not changed:
            return picked
    log.warning("flow repair did not settle after %d rounds; completing greedily", _REPAIRS)
    return Triples.concat([])


def _repair(
    ctx: Context,
    cand: Triples,
    picked: Triples,
    banned: np.ndarray,
    caps: dict[tuple[int, int], int],
) -> bool:
    slots = ctx.model.slots
    changed = False
    by_worker: dict[int, dict[int, list[int]]] = {}
    for i, (w, s) in enumerate(zip(picked.w.tolist(), picked.s.tolist(), strict=True)):
        by_worker.setdefault(w, {}).setdefault(s, []).append(i)
    scarcity = _scarcity(ctx, cand.take(~banned))
    for w, per_slot in by_worker.items():
        if ctx.model.one_role_per_worker and len(per_slot) > 1:
            keep = min(per_slot, key=lambda s: (scarcity[s], s))
            banned |= (cand.w == w) & (cand.s != keep)
            changed = True
            continue
        for s, idx in per_slot.items():
            limits = slots[s].capacity_limits
            if not limits:
                continue
            gs = picked.g[idx][np.argsort(picked.cost[idx], kind="stable")]
            carried, fits = np.zeros(3), 0
            for g in gs:
                load = carried + ctx.load[g]
                if any(load[LOADS.index(k)] > v + 1e-9 for k, v in limits.items()):
                    break
                carried, fits = load, fits + 1
            if fits < len(gs):
                caps[(w, s)] = fits
                changed = True
    if not ctx.model.one_role_per_worker:
        seen: dict[tuple[int, int], int] = {}
        for g, w, s in zip(picked.g.tolist(), picked.w.tolist(), picked.s.tolist(), strict=True):
            if (w, g) in seen:
                banned |= (cand.w == w) & (cand.g == g) & (cand.s == max(s, seen[(w, g)]))
                changed = True
            seen[(w, g)] = min(s, seen.get((w, g), s))
    return changed


def _scarcity(ctx: Context, live: Triples) -> dict[int, float]:
    """Return per slot: capacity of its eligible workers over the positions it needs."""
    out = {}
    for s, slot in enumerate(ctx.model.slots):
        mine = live.s == s
        supply = len(np.unique(live.w[mine])) * slot.max_grids
        demand = len(np.unique(live.g[mine])) * max(slot.min, 1)
        out[s] = supply / demand if demand else float("inf")
    return out


def _flow(
    ctx: Context, t: Triples, settings: StaffingSettings, caps: dict[tuple[int, int], int]
) -> np.ndarray:
    """Return the indices of ``t`` a min-cost flow picks."""
    if len(t) == 0:
        return np.zeros(0, int)
    slots = ctx.model.slots
    ws, ws_of = np.unique(np.c_[t.w, t.s], axis=0, return_inverse=True)
    gs, gs_of = np.unique(np.c_[t.g, t.s], axis=0, return_inverse=True)
    source, sink, n_ws = 0, 1, len(ws)
    arcs: list[tuple[int, int, int, int]] = []
    n_per_ws = np.bincount(ws_of.ravel(), minlength=n_ws)
    for j, (w, s) in enumerate(ws.tolist()):
        top = min(slots[s].max_grids, caps.get((w, s), slots[s].max_grids), int(n_per_ws[j]))
        for k in range(top):  # the k-th extra grid of one person costs more: spreads the load
            arcs.append((source, 2 + j, 1, settings.step_cost(k) if slots[s].spread else 0))
    supply = len(arcs)
    pick = t.cost - settings.fill_optional - settings.keep * t.kept.astype(np.int64)
    arcs += zip(
        (2 + ws_of.ravel()).tolist(),
        (2 + n_ws + gs_of.ravel()).tolist(),
        [1] * len(t),
        pick.tolist(),
        strict=True,
    )
    for j, (_, s) in enumerate(gs.tolist()):
        lo, hi = slots[s].min, slots[s].max
        if lo:
            arcs.append((2 + n_ws + j, sink, lo, -settings.fill_required))
        if hi > lo:
            arcs.append((2 + n_ws + j, sink, hi - lo, 0))
    arcs.append((source, sink, supply, 0))
    table = np.array(arcs, dtype=np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(table[:, 0], table[:, 1], table[:, 2], table[:, 3])
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    first = supply
    used = flow.flows(np.arange(first, first + len(t)))
    return np.flatnonzero(used > 0)


def complete(ctx: Context, t: Triples, settings: StaffingSettings, ledger: Ledger) -> Ledger:
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


def plan_cost(
    ctx: Context, ledger: Ledger, previous: set[tuple[int, int, int]], settings: StaffingSettings
) -> dict[str, float]:
    """Return the objective of a plan by parts, all non-negative, and their ``total``."""
    slots = ctx.model.slots
    filled = ledger.filled
    n_grids = len(ctx.grid_codes)
    short = sum(
        max(0, sl.min - filled.get((g, s), 0)) for g in range(n_grids) for s, sl in enumerate(slots)
    )
    empty = sum(
        sl.max - filled.get((g, s), 0) for g in range(n_grids) for s, sl in enumerate(slots)
    )
    triples = np.array(ledger.triples, np.int64).reshape(-1, 3)
    travel = float(np.rint(ctx.travel(triples[:, 0], triples[:, 1])).sum())
    dropped = len(previous - set(ledger.triples))
    steps = sum(
        settings.step_cost(k)
        for (_, s), n in ledger.grids.items()
        if slots[s].spread
        for k in range(n)
    )
    parts = {
        "required_unfilled": float(short),
        "positions_unfilled": float(empty),
        "travel_m": travel,
        "previous_dropped": float(dropped),
        "spread_cost": float(steps),
    }
    parts["total"] = float(
        settings.fill_required * short
        + settings.fill_optional * empty
        + travel
        + settings.keep * dropped
        + steps
    )
    return parts
