"""Assignment solver: min-cost flow per community over pruned candidates, repaired, completed.

Per community (workers only serve their own community, so blocks are independent):

1. candidates: every eligible (grid, worker, slot) triple, pruned to the ``k`` nearest workers per
   slot position (previous assignments stay candidates);
2. min-cost flow: source → (worker, slot) in unit arcs of rising cost (the balance term) →
   (grid, slot) at travel cost → sink (required positions rewarded first) — exact for the
   objective of :class:`~gridsvc.staffing.settings.StaffingSettings` except the constraints a
   flow cannot express (one role per worker, load limits), which a short repair loop enforces;
3. if a slot stays short while an eligible worker with room was pruned away, the block is solved
   again with those triples added;
4. a small block (at most ``exact_below`` eligible triples) is then solved exactly by CP-SAT,
   hinted with the flow's plan, within a deterministic budget;
5. a greedy pass over all eligible triples fills whatever still fits, so no slot stays short
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

_REPAIRS = 60


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
    for grids, workers in blocks:
        full = block_candidates(ctx, grids, workers, previous)
        cand = _prune(ctx, full, settings.k_candidates)
        picked, cost = _flow_repaired(ctx, cand, settings)
        extra = _pruned_with_room(ctx, full, cand, picked)
        if extra.any():
            wider, wider_cost = _flow_repaired(
                ctx, Triples.concat([cand, full.take(extra)]), settings
            )
            if wider_cost < cost:
                picked = wider
        if 0 < len(full) <= settings.exact_below:
            picked = _polish(ctx, full, picked, settings)
        for g, w, s in zip(picked.g.tolist(), picked.w.tolist(), picked.s.tolist(), strict=True):
            ledger.add(w, g, s)
        complete(ctx, full, settings, ledger)
    return ledger


def _polish(ctx: Context, full: Triples, picked: Triples, settings: StaffingSettings) -> Triples:
    """Return CP-SAT's plan over every eligible triple of a small block, hinted with ``picked``."""
    from gridsvc.staffing.exact import exact_pick  # exact imports this module

    hint = np.flatnonzero(np.isin(_key(ctx, full), _key(ctx, picked)))
    chosen, _ = exact_pick(ctx, full, settings, hint=hint, budget=settings.exact_budget)
    return full.take(chosen)


def _key(ctx: Context, t: Triples) -> np.ndarray:
    return (t.g * len(ctx.worker_ids) + t.w) * len(ctx.model.slots) + t.s


def _pruned_with_room(ctx: Context, full: Triples, cand: Triples, picked: Triples) -> np.ndarray:
    """Return a mask of pruned triples for short slots whose worker still has room."""
    short = _short(ctx, full, picked)
    n_slots = len(ctx.model.slots)
    mask = np.isin(full.g * n_slots + full.s, short) & ~np.isin(_key(ctx, full), _key(ctx, cand))
    if not mask.any():
        return mask
    count: dict[tuple[int, int], int] = {}
    roles: dict[int, set[int]] = {}
    for w, s in zip(picked.w.tolist(), picked.s.tolist(), strict=True):
        count[(w, s)] = count.get((w, s), 0) + 1
        roles.setdefault(w, set()).add(s)
    one_role = ctx.model.one_role_per_worker
    for i in np.flatnonzero(mask):
        w, s = int(full.w[i]), int(full.s[i])
        full_up = count.get((w, s), 0) >= ctx.model.slots[s].max_grids
        mask[i] = not full_up and not (one_role and roles.get(w, set()) - {s})
    return mask


def _short(ctx: Context, full: Triples, picked: Triples) -> np.ndarray:
    """Return keys ``g * S + s`` of (grid, slot) pairs with eligible workers, below their max."""
    n_slots = len(ctx.model.slots)
    keys = np.unique(full.g * n_slots + full.s)
    got, counts = np.unique(picked.g * n_slots + picked.s, return_counts=True)
    have = np.zeros(len(keys), int)
    have[np.searchsorted(keys, got)] = counts
    maxes = np.array([slot.max for slot in ctx.model.slots])
    return keys[have < maxes[keys % n_slots]]


def _flow_repaired(
    ctx: Context, cand: Triples, settings: StaffingSettings
) -> tuple[Triples, float]:
    """Solve the flow, then mend what breaks one-role and load limits, and solve again.

    Load limits shrink the worker's grid count. A worker holding two roles (or two slots of one
    grid) is a conflict with one alternative per role to drop: the first
    ``settings.repair_branches`` conflicts of a block are settled by mending each alternative to
    the end and keeping the cheapest; the rest keep the scarcest role.
    """
    picked, cost = _settle(
        ctx, cand, settings, np.zeros(len(cand), bool), {}, [settings.repair_branches]
    )
    if picked is None:
        log.warning("flow repair did not settle after %d rounds; completing greedily", _REPAIRS)
        return Triples.concat([]), cost
    return cand.take(picked), cost


def _settle(
    ctx: Context,
    cand: Triples,
    settings: StaffingSettings,
    banned: np.ndarray,
    caps: dict[tuple[int, int], int],
    budget: list[int],
) -> tuple[np.ndarray | None, float]:
    """Return (indices into ``cand``, flow cost) of a plan free of conflicts, or (None, inf)."""
    banned, caps = banned.copy(), dict(caps)
    for _ in range(_REPAIRS):
        live = np.flatnonzero(~banned)
        chosen, cost = _flow(ctx, cand.take(live), settings, caps)
        picked = live[chosen]
        if _cap_loads(ctx, cand.take(picked), caps):
            continue
        conflicts = _conflicts(ctx, cand, cand.take(picked), banned)
        if not conflicts:
            return picked, cost
        if budget[0] > 0:  # settle the first conflict by trying each way out to the end
            budget[0] -= 1
            ways = conflicts[0][1]
            costs = [_settle(ctx, cand, settings, banned | ban, caps, [0])[1] for _, ban in ways]
            banned |= ways[int(np.argmin(costs))][1]
        else:
            for _, alternatives in conflicts:
                banned |= alternatives[0][1]
    return None, float("inf")


def _cap_loads(ctx: Context, picked: Triples, caps: dict[tuple[int, int], int]) -> bool:
    """Shrink the grid count of workers whose picked grids break a load limit."""
    changed = False
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (w, s) in enumerate(zip(picked.w.tolist(), picked.s.tolist(), strict=True)):
        groups.setdefault((w, s), []).append(i)
    for (w, s), idx in groups.items():
        limits = ctx.model.slots[s].capacity_limits
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
    return changed


Conflict = tuple[tuple[str, frozenset[int]], list[tuple[int, np.ndarray]]]


def _conflicts(ctx: Context, cand: Triples, picked: Triples, banned: np.ndarray) -> list[Conflict]:
    """Return each conflict of ``picked``: its pattern and its ways out, the preferred first.

    A way out is (slot, ban mask over ``cand``): the slot a worker keeps (one role per worker)
    or the slot a worker drops in a grid where he holds two.
    """
    out: list[Conflict] = []
    if ctx.model.one_role_per_worker:
        roles: dict[int, set[int]] = {}
        for w, s in zip(picked.w.tolist(), picked.s.tolist(), strict=True):
            roles.setdefault(w, set()).add(s)
        scarcity = _scarcity(ctx, cand.take(~banned))
        for w, held in sorted(roles.items()):
            if len(held) > 1:
                keep = sorted(held, key=lambda s: (scarcity[s], s))
                mine = cand.w == w
                ways = [(k, mine & (cand.s != k)) for k in keep]
                out.append((("role", frozenset(held)), ways))
        return out
    slots_of: dict[tuple[int, int], list[int]] = {}
    for g, w, s in zip(picked.g.tolist(), picked.w.tolist(), picked.s.tolist(), strict=True):
        slots_of.setdefault((w, g), []).append(s)
    for (w, g), slots in sorted(slots_of.items()):
        if len(slots) > 1:
            mine = (cand.w == w) & (cand.g == g)
            ways = [(s, mine & (cand.s == s)) for s in sorted(slots, reverse=True)]
            out.append((("grid", frozenset(slots)), ways))
    return out


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
) -> tuple[np.ndarray, int]:
    """Return the indices of ``t`` a min-cost flow picks, and the flow's cost."""
    if len(t) == 0:
        return np.zeros(0, int), 0
    slots = ctx.model.slots
    n_slots = len(slots)
    ws, ws_of = np.unique(t.w * n_slots + t.s, return_inverse=True)
    gs, gs_of = np.unique(t.g * n_slots + t.s, return_inverse=True)
    source, sink, n_ws, n_gs = 0, 1, len(ws), len(gs)
    max_grids = np.array([sl.max_grids for sl in slots])
    spread = np.array([sl.spread for sl in slots])
    ws_slot = ws % n_slots
    top = np.minimum(max_grids[ws_slot], np.bincount(ws_of, minlength=n_ws))
    for (w, s), c in caps.items():
        j = np.searchsorted(ws, w * n_slots + s)
        if j < n_ws and ws[j] == w * n_slots + s:
            top[j] = min(top[j], c)
    owner = np.repeat(np.arange(n_ws), top)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(top) - top, top)
    step = np.minimum(settings.balance * k, settings.fill_optional // 4) * spread[ws_slot[owner]]
    supply = len(owner)
    lo = np.array([sl.min for sl in slots])[gs % n_slots]
    hi = np.array([sl.max for sl in slots])[gs % n_slots]
    gs_node = 2 + n_ws + np.arange(n_gs)
    pick = t.cost - settings.fill_optional - settings.keep * t.kept.astype(np.int64)
    parts = [
        np.c_[np.zeros(supply, np.int64), 2 + owner, np.ones(supply, np.int64), step],
        np.c_[2 + ws_of, 2 + n_ws + gs_of, np.ones(len(t), np.int64), pick],
        np.c_[gs_node, np.full(n_gs, sink), lo, np.full(n_gs, -settings.fill_required)][lo > 0],
        np.c_[gs_node, np.full(n_gs, sink), hi - lo, np.zeros(n_gs, np.int64)][hi > lo],
        np.array([[source, sink, supply, 0]]),
    ]
    table = np.concatenate(parts).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(table[:, 0], table[:, 1], table[:, 2], table[:, 3])
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    first = supply
    used = flow.flows(np.arange(first, first + len(t)))
    return np.flatnonzero(used > 0), int(flow.optimal_cost())


def complete(ctx: Context, t: Triples, settings: StaffingSettings, ledger: Ledger) -> Ledger:
    """Fill required positions round-robin, then optional ones, cheapest feasible first."""
    if len(t) == 0:
        return ledger
    order = np.lexsort((t.w, t.cost - settings.keep * t.kept.astype(np.int64)))
    todo = list(zip(t.g[order].tolist(), t.w[order].tolist(), t.s[order].tolist(), strict=True))
    slots = ctx.model.slots
    for required in (True, False):
        top = max((slot.min if required else slot.max) for slot in slots)
        for r in range(top):
            todo = [  # a full slot or a worker at max grids never opens up again
                (g, w, s)
                for g, w, s in todo
                if ledger.filled[(g, s)] < slots[s].max
                and ledger.grids[(w, s)] < slots[s].max_grids
            ]
            for g, w, s in todo:
                cap = min(slots[s].min if required else slots[s].max, r + 1)
                if ledger.filled[(g, s)] < cap and not ledger.why_not(w, g, s):
                    ledger.add(w, g, s)
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
