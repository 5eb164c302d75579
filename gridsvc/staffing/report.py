"""Rosters per grid and the staffing report: loads, overloads, ratios, gaps and changes."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from gridsvc.staffing.context import LOADS, Context, Ledger
from gridsvc.staffing.reasons import pair_reason, slot_reason
from gridsvc.staffing.settings import StaffingSettings

__all__ = ["build_report"]


def build_report(
    ctx: Context,
    ledger: Ledger,
    plan: pd.DataFrame,
    previous: list[tuple[str, str, str]],
    centre: dict[str, list[dict[str, str]]],
    settings: StaffingSettings,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (rosters keyed by grid code, report)."""
    rosters, short = _rosters(ctx, ledger, plan)
    workers = _worker_loads(ctx, ledger, settings)
    slots = ctx.model.slots
    required = len(ctx.grid_codes) * sum(sl.min for sl in slots)
    report: dict[str, Any] = {
        "model": ctx.model.name,
        "summary": {
            "grids": len(ctx.grid_codes),
            "workers": len(ctx.worker_ids),
            "assignments": len(plan),
            "grids_satisfied": sum(r["satisfied"] for r in rosters.values()),
            "required_positions": required,
            "required_filled": required - sum(n for *_, n in short),
            "positions": len(ctx.grid_codes) * sum(sl.max for sl in slots),
            "workers_assigned": sum(1 for w in workers if w["grids"]),
            "workers_overloaded": sum(1 for w in workers if w["overload"]),
        },
        "workers": workers,
        "communities": _communities(ctx, ledger, centre, settings),
        "proposal": _proposal(ctx, short),
        "changes": _changes(ctx, ledger, plan, previous),
        "warnings": _warnings(ctx),
    }
    report["proposal"] += _quota_gaps(report["communities"])
    return rosters, report


def _rosters(
    ctx: Context, ledger: Ledger, plan: pd.DataFrame
) -> tuple[dict[str, Any], list[tuple[int, int, int]]]:
    slots = ctx.model.slots
    team: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for code, wid, role, kept in plan.itertuples(index=False, name=None):
        w = ctx.worker_index[wid]
        label = slots[[sl.role for sl in slots].index(role)].label
        team[code].append(
            {
                "role": role,
                "label": label,
                "worker_id": wid,
                "name": str(ctx.worker_names[w]),
                "phone": str(ctx.worker_phone[w]),
                "kept": bool(kept),
            }
        )
    rosters: dict[str, Any] = {}
    short: list[tuple[int, int, int]] = []
    for g, code in enumerate(ctx.grid_codes):
        unfilled = []
        for s, slot in enumerate(slots):
            have = ledger.filled.get((g, s), 0)
            if have < slot.min:
                short.append((g, s, slot.min - have))
                unfilled.append(
                    {
                        "role": slot.role,
                        "label": slot.label,
                        "missing": slot.min - have,
                        "reason": slot_reason(ctx, ledger, s, g),
                    }
                )
        rosters[str(code)] = {
            "community_code": str(ctx.grid_comm[g]),
            "police_beat": str(ctx.grid_beat[g]),
            **{k: _num(ctx.load[g, i]) for i, k in enumerate(LOADS)},
            "satisfied": not unfilled,
            "team": team.get(str(code), []),
            "unfilled": unfilled,
        }
    return rosters, short


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 1)


def _worker_loads(ctx: Context, ledger: Ledger, settings: StaffingSettings) -> list[dict[str, Any]]:
    loads = np.zeros((len(ctx.worker_ids), 3))
    grids = np.zeros(len(ctx.worker_ids), int)
    held: dict[int, set[str]] = defaultdict(set)
    for g, w, s in ledger.triples:
        loads[w] += ctx.load[g]
        grids[w] += 1
        held[w].add(ctx.model.slots[s].role)
    limits = (settings.overload_households, settings.overload_residents, settings.overload_visits)
    out = []
    for w in range(len(ctx.worker_ids)):
        flags = []
        if held[w] and not held[w] <= settings.overload_exempt:
            flags = [
                f"{name} {_num(loads[w, i])} > {limit:g}"
                for i, (name, limit) in enumerate(zip(LOADS, limits, strict=True))
                if loads[w, i] > limit
            ]
        out.append(
            {
                "worker_id": str(ctx.worker_ids[w]),
                "name": str(ctx.worker_names[w]),
                "community_code": str(ctx.comm[w]),
                "qualifications": ctx.worker_roles[w],
                "roles": sorted(held[w]),
                "centre": bool(ctx.centre[w]),
                "grids": int(grids[w]),
                **{k: _num(loads[w, i]) for i, k in enumerate(LOADS)},
                "overload": flags,
            }
        )
    return out


def _communities(
    ctx: Context,
    ledger: Ledger,
    centre: dict[str, list[dict[str, str]]],
    settings: StaffingSettings,
) -> dict[str, Any]:
    quota = ctx.model.quota_roles
    assigned = {w for _, w, _ in ledger.triples}
    out: dict[str, Any] = {}
    grids_of = pd.Series(np.arange(len(ctx.grid_comm))).groupby(ctx.grid_comm).apply(list)
    workers_of = pd.Series(np.arange(len(ctx.comm))).groupby(ctx.comm).apply(list)
    for comm in sorted(grids_of.index):
        gmask = np.asarray(grids_of[comm], int)
        residents = float(ctx.load[gmask, 1].sum())
        mine = workers_of.get(comm, [])
        staff = [w for w in mine if quota.intersection(ctx.worker_roles[w])]
        need = math.ceil(residents / 10_000 * settings.quota_per_10k)
        out[str(comm)] = {
            "grids": len(gmask),
            "households": _num(ctx.load[gmask, 0].sum()),
            "residents": _num(residents),
            "visits": _num(round(ctx.load[gmask, 2].sum(), 1)),
            "community_workers": len(staff),
            "required_workers": need,
            "per_10k_residents": round(len(staff) / residents * 10_000, 1) if residents else None,
            "target_per_10k": settings.quota_per_10k,
            "meets_target": len(staff) >= need,
            "centre": centre.get(str(comm), []),
            "not_deployed": [
                str(ctx.worker_ids[w]) for w in staff if not ctx.centre[w] and w not in assigned
            ],
        }
    return out


def _proposal(ctx: Context, short: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Say how many more workers of which slot would fill the required gaps, per community."""
    groups: dict[tuple[str, int, str], list[tuple[int, int]]] = defaultdict(list)
    for g, s, missing in short:
        beat = str(ctx.grid_beat[g]) if ctx.model.slots[s].same_beat else ""
        groups[(str(ctx.grid_comm[g]), s, beat)].append((g, missing))
    out = []
    for (comm, s, beat), items in sorted(groups.items()):
        slot = ctx.model.slots[s]
        positions = sum(m for _, m in items)
        need = math.ceil(positions / slot.max_grids)
        for name, limit in slot.capacity_limits.items():
            total = sum(ctx.load[g, LOADS.index(name)] * m for g, m in items)
            need = max(need, math.ceil(total / limit)) if limit > 0 else need
        out.append(
            {
                "community_code": comm,
                "role": slot.role,
                "label": slot.label,
                "police_beat": beat,
                "short_positions": positions,
                "extra_workers": need,
                "qualifications": sorted(slot.eligible),
            }
        )
    return out


def _quota_gaps(communities: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "community_code": code,
            "role": "community_worker",
            "label": "社区工作者",
            "police_beat": "",
            "short_positions": 0,
            "extra_workers": c["required_workers"] - c["community_workers"],
            "qualifications": ["community_worker"],
            "why": f"{c['target_per_10k']:g} community workers per 10,000 residents",
        }
        for code, c in communities.items()
        if not c["meets_target"]
    ]


def _changes(
    ctx: Context, ledger: Ledger, plan: pd.DataFrame, previous: list[tuple[str, str, str]]
) -> list[dict[str, str]]:
    if not previous:
        return []
    slot_of = {sl.role: i for i, sl in enumerate(ctx.model.slots)}
    now = set(plan[["grid_code", "worker_id", "role"]].itertuples(index=False, name=None))
    out = []
    for code, wid, role in sorted(set(previous)):
        if (code, wid, role) in now:
            continue
        g, w, s = ctx.grid_index.get(code), ctx.worker_index.get(wid), slot_of.get(role)
        if g is None:
            why = f"grid {code} no longer exists"
        elif w is None:
            why = f"worker {wid} is no longer on the roster"
        elif s is None:
            why = f"role {role} is not a slot of model {ctx.model.name}"
        else:
            why = pair_reason(ctx, s, g, w) or _displaced(ctx, ledger, g, w, s)
        out.append(
            {"change": "removed", "grid_code": code, "worker_id": wid, "role": role, "reason": why}
        )
    before = set(previous)
    old_grids = {p[0] for p in before}
    for code, wid, role in sorted(now - before):
        out.append(
            {
                "change": "added",
                "grid_code": code,
                "worker_id": wid,
                "role": role,
                "reason": "new grid" if code not in old_grids else "filled",
            }
        )
    return out


def _displaced(ctx: Context, ledger: Ledger, g: int, w: int, s: int) -> str:
    why = ledger.why_not(w, g, s)
    if why:
        return f"capacity: worker is now {why}"
    return f"slot {ctx.model.slots[s].label} of grid {ctx.grid_codes[g]} went to a better match"


def _warnings(ctx: Context) -> list[str]:
    out = []
    if any(sl.same_beat for sl in ctx.model.slots):
        missing = int((ctx.grid_beat == "").sum())
        if missing:
            out.append(
                f"{missing} grids have no police_beat; their police slots accept any officer "
                "of the community (pass layers= or a police_beat column)"
            )
    return out
