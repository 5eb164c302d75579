"""Check a staffing plan (solver output or hand-made) against the model: eligibility, capacity."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from gridsvc.errors import InputError, Problem
from gridsvc.staffing.context import LOADS, Context
from gridsvc.staffing.reasons import pair_reason

__all__ = ["check_plan", "plan_problems"]

PLAN_COLUMNS = ("grid_code", "worker_id", "role")


def check_plan(plan: pd.DataFrame, ctx: Context, *, source: str = "plan") -> None:
    """Raise one InputError listing every way ``plan`` breaks the model; return if it holds."""
    problems = plan_problems(plan, ctx, source=source)
    if problems:
        raise InputError(problems)


def plan_problems(plan: pd.DataFrame, ctx: Context, *, source: str = "plan") -> list[Problem]:
    """Return every problem of ``plan`` (columns grid_code, worker_id, role)."""
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        return [Problem(f"plan lacks columns {', '.join(missing)}", source=source)]
    slots = ctx.model.slots
    slot_of = {sl.role: i for i, sl in enumerate(slots)}
    problems: list[Problem] = []
    rows: list[tuple[int, int, int, int]] = []
    ok = _eligible_rows(plan, ctx, slot_of)
    for i, (code, wid, role) in enumerate(
        zip(*(plan[c].astype(str).to_numpy() for c in PLAN_COLUMNS), strict=True)
    ):
        g, w, s = ctx.grid_index.get(code), ctx.worker_index.get(wid), slot_of.get(role)
        if g is None:
            problems.append(
                Problem(f"unknown grid {code}", source=source, feature=i, field="grid_code")
            )
        if w is None:
            problems.append(
                Problem(f"unknown worker {wid}", source=source, feature=i, field="worker_id")
            )
        if s is None:
            known = ", ".join(slot_of)
            problems.append(
                Problem(
                    f"role {role!r} is not a slot of model {ctx.model.name} (slots: {known})",
                    source=source,
                    feature=i,
                    field="role",
                )
            )
        if g is None or w is None or s is None:
            continue
        why = "" if ok[i] else pair_reason(ctx, s, g, w)
        if why:
            problems.append(
                Problem(
                    f"{_who(ctx, w)} cannot be {slots[s].label} of grid {code}: {why}",
                    source=source,
                    feature=i,
                    field="worker_id",
                )
            )
        rows.append((i, g, w, s))
    return problems + _capacity(ctx, rows, source)


def _eligible_rows(plan: pd.DataFrame, ctx: Context, slot_of: dict[str, int]) -> np.ndarray:
    """Return per plan row whether its worker is eligible (False where a name is unknown)."""
    g = plan["grid_code"].astype(str).map(ctx.grid_index).to_numpy()
    w = plan["worker_id"].astype(str).map(ctx.worker_index).to_numpy()
    s = plan["role"].astype(str).map(slot_of).to_numpy()
    known = pd.notna(g) & pd.notna(w) & pd.notna(s)
    ok = np.zeros(len(plan), bool)
    for slot in range(len(ctx.model.slots)):
        rows = np.flatnonzero(known & (s == slot))
        if len(rows):
            gi, wi = g[rows].astype(int), w[rows].astype(int)
            ok[rows] = ctx.eligible(slot, gi, wi)
    return ok


def _who(ctx: Context, w: int) -> str:
    return f"worker {ctx.worker_ids[w]} ({ctx.worker_names[w]})"


def _capacity(ctx: Context, rows: list[tuple[int, int, int, int]], source: str) -> list[Problem]:
    slots = ctx.model.slots
    per_ws: dict[tuple[int, int], list[int]] = defaultdict(list)
    per_gs: dict[tuple[int, int], list[int]] = defaultdict(list)
    per_wg: dict[tuple[int, int], list[int]] = defaultdict(list)
    roles: dict[int, set[int]] = defaultdict(set)
    first: dict[tuple[int, int], int] = {}
    for i, g, w, s in rows:
        per_ws[(w, s)].append(g)
        per_gs[(g, s)].append(w)
        per_wg[(w, g)].append(s)
        roles[w].add(s)
        first.setdefault((w, s), i)
    problems: list[Problem] = []
    for (w, s), gs in sorted(per_ws.items()):
        slot, at = slots[s], first[(w, s)]
        codes = ", ".join(ctx.grid_codes[g] for g in gs)
        if len(gs) > slot.max_grids:
            problems.append(
                Problem(
                    f"{_who(ctx, w)} is {slot.label} of {len(gs)} grids ({codes}); "
                    f"model {ctx.model.name} allows at most {slot.max_grids}",
                    source=source,
                    feature=at,
                    field="worker_id",
                )
            )
        for name, limit in slot.capacity_limits.items():
            total = float(ctx.load[gs, LOADS.index(name)].sum())
            if total > limit + 1e-9:
                problems.append(
                    Problem(
                        f"{_who(ctx, w)} as {slot.label} carries {total:g} {name} ({codes}); "
                        f"the limit is {limit:g}",
                        source=source,
                        feature=at,
                        field="worker_id",
                    )
                )
    for (g, s), ws in sorted(per_gs.items()):
        if len(ws) > slots[s].max:
            ids = ", ".join(ctx.worker_ids[w] for w in ws)
            problems.append(
                Problem(
                    f"grid {ctx.grid_codes[g]} has {len(ws)} {slots[s].label} ({ids}); "
                    f"the model allows {slots[s].max}",
                    source=source,
                    field="grid_code",
                )
            )
    for (w, g), ss in sorted(per_wg.items()):
        if len(ss) > 1:
            problems.append(
                Problem(
                    f"{_who(ctx, w)} holds {len(ss)} slots in grid {ctx.grid_codes[g]}; "
                    "one person fills one slot per grid",
                    source=source,
                    field="worker_id",
                )
            )
    if ctx.model.one_role_per_worker:
        for w, held in sorted(roles.items()):
            if len(held) > 1:
                labels = ", ".join(slots[s].label for s in sorted(held))
                problems.append(
                    Problem(
                        f"{_who(ctx, w)} holds several roles ({labels}); model "
                        f"{ctx.model.name} gives each worker one role",
                        source=source,
                        field="role",
                    )
                )
    return problems
