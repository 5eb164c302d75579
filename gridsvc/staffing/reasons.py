"""Say in words why a worker may not fill a slot, and why a slot stayed empty."""

from __future__ import annotations

import numpy as np

from gridsvc.staffing.context import Context, Ledger

__all__ = ["pair_reason", "slot_reason"]


def _tests(ctx: Context, s: int, g: int) -> list[tuple[str, object]]:
    """Return the eligibility filters of slot ``s`` for grid ``g`` in order, with their phrase."""
    slot = ctx.model.slots[s]
    beat = ctx.grid_beat[g]
    roles = "/".join(sorted(slot.eligible))
    tests: list[tuple[str, object]] = [
        (f"has role {roles}", lambda w: ctx.slot_quals[s][w]),
        (f"lives in community {ctx.grid_comm[g]}", lambda w: ctx.comm[w] == ctx.grid_comm[g]),
        ("is not kept at the community centre", lambda w: ~ctx.centre[w]),
    ]
    if slot.same_beat and beat:
        tests.append((f"belongs to police beat {beat}", lambda w: ctx.beat[w] == beat))
    if slot.party_member:
        tests.append(("is a party member", lambda w: ctx.party[w]))
    if slot.min_hours:
        tests.append((f"has >= {slot.min_hours:g} hours", lambda w: ctx.hours[w] >= slot.min_hours))
    if slot.max_km is not None:
        km = slot.max_km
        tests.append(
            (f"lives within {km:g} km", lambda w: ctx.travel(np.full(len(w), g), w) <= km * 1e3)
        )
    if slot.home_within_m is not None:
        tests.append(
            (
                f"lives within {slot.home_within_m:g} m of the grid",
                lambda w: ctx.eligible(s, np.full(len(w), g), w),
            )
        )
    return tests


def pair_reason(ctx: Context, s: int, g: int, w: int) -> str:
    """Return why worker ``w`` is not eligible for slot ``s`` of grid ``g`` ('' if eligible)."""
    one = np.array([w])
    for phrase, test in _tests(ctx, s, g):
        if not bool(test(one)[0]):  # type: ignore[operator]
            return f"not eligible: needs a worker who {phrase}"
    return ""


def slot_reason(ctx: Context, ledger: Ledger, s: int, g: int) -> str:
    """Return why slot ``s`` of grid ``g`` is short: the first filter that empties the pool."""
    slot = ctx.model.slots[s]
    pool = np.arange(len(ctx.worker_ids))
    kept: list[str] = []
    for phrase, test in _tests(ctx, s, g):
        pool = pool[test(pool)] if len(pool) else pool  # type: ignore[operator]
        if len(pool) == 0:
            said = f" among those who {' and '.join(kept)}" if kept else " in the roster"
            return f"no worker who {phrase}{said}"
        kept.append(phrase)
    blocked: dict[str, int] = {}
    for w in pool:
        why = ledger.why_not(int(w), g, s) or "free"
        blocked[why] = blocked.get(why, 0) + 1
    if "free" in blocked:
        return f"{blocked['free']} eligible {slot.label} still free (solver time budget ran out)"
    where = f" in beat {ctx.grid_beat[g]}" if slot.same_beat and ctx.grid_beat[g] else ""
    detail = ", ".join(f"{n} {why}" for why, n in sorted(blocked.items()))
    return f"no eligible {slot.label}{where} has capacity ({len(pool)} eligible: {detail})"
