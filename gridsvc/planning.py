"""Plans as whole operations: draft from the published grids, edit, diff, publish, locate.

The API (and later the CLI) call these; they know the store but not HTTP. Every function runs
inside the caller's transaction and writes an audit entry for each change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from . import edits, frames, grid_locks, rebalance
from .config import Settings
from .errors import InputError, NotFoundError, Problem
from .microgrids import redraw_microgrids
from .partition import Bounds
from .store import audit, plans, repo
from .store.locks import remove_locks

__all__ = [
    "EditOutcome",
    "apply_edit",
    "assign_households",
    "assign_points",
    "create_draft",
    "diff",
    "grid_of_household",
    "plan_state",
    "publish",
]


class EditRefused(InputError):
    """An edit that would break coverage or contiguity; carries the validation."""

    def __init__(self, problems: list[Problem], validation: dict[str, Any]) -> None:
        super().__init__(problems)
        self.validation = validation


@dataclass(frozen=True)
class EditOutcome:
    """The plan after an edit, the edit's id, the grids it changed and the validation."""

    plan: plans.PlanInfo
    edit_id: int
    changed: list[str]
    removed: list[str]
    validation: dict[str, list[str]]


def assign_households(households: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """Return the code of the grid holding each household (stacked grids by floor), or NA."""
    out = pd.Series(pd.NA, index=households.index, dtype="string")
    if households.empty or grids.empty:
        return out
    hit = assign_points(
        households.geometry.to_numpy(),
        pd.to_numeric(households["floor"], errors="coerce").to_numpy(dtype=float),
        grids.geometry.to_numpy(),
        pd.to_numeric(grids["floor_lo"], errors="coerce").to_numpy(dtype=float),
        pd.to_numeric(grids["floor_hi"], errors="coerce").to_numpy(dtype=float),
    )
    found = hit >= 0
    out.iloc[np.flatnonzero(found)] = grids["code"].astype(str).to_numpy()[hit[found]]
    return out


def assign_points(
    points: np.ndarray,
    floors: np.ndarray,
    grids: np.ndarray,
    floor_lo: np.ndarray,
    floor_hi: np.ndarray,
) -> np.ndarray:
    """Return, per point, the position in ``grids`` of the grid holding it, or -1.

    A stacked grid (one with a floor range; NaN bounds for plain grids) holds only the points
    whose floor is in its range, and wins over the plain grid under it; among equals the first.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(grids) == 0:
        return out
    p, g = shapely.STRtree(grids).query(points, predicate="intersects")
    lo, hi, floor = floor_lo[g], floor_hi[g], floors[p]
    stacked = ~np.isnan(lo)
    fits = ~stacked | ((floor >= lo) & (floor <= hi))
    rank = np.where(stacked, 0, 1)
    order = np.lexsort((g, rank, p))
    p, g, fits = p[order], g[order], fits[order]
    p, g = p[fits], g[fits]
    first = np.unique(p, return_index=True)[1]
    out[p[first]] = g[first]
    return out


def _members(households: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for level, group in grids.groupby("level"):
        codes = assign_households(households, group.reset_index(drop=True))
        for code, ids in households["id"].astype(str).groupby(codes.to_numpy()):
            out[str(code)] = frozenset(ids)
        del level
    return out


def create_draft(
    session: Session, community: str, *, user: str | None, name: str
) -> plans.PlanInfo:
    """Start a draft plan from the published grids of ``community``."""
    if repo.read(session, "communities", community=community).empty:
        raise NotFoundError(f"community {community} is not in the store")
    grids = repo.read(session, "grids", community=community)
    if grids.empty:
        raise InputError(
            Problem(
                f"community {community} has no grids yet; run a partition "
                "job first (POST /api/v1/jobs/partition)",
                field="community",
            )
        )
    plans.sync_history(session, community)
    households = repo.read(session, "households", community=community)
    plan = plans.create_plan(
        session,
        community,
        user=user,
        name=name or "draft",
        grids=grids,
        members=_members(households, grids),
    )
    audit.record(
        session, user=user, action="plan.create", target=f"plan/{plan.id}", after=plan.as_dict()
    )
    return plan


def plan_state(session: Session, plan: plans.PlanInfo) -> edits.PlanState:
    """Return the base grids of ``plan`` and their households as an :class:`edits.PlanState`."""
    return _state(session, plan)[0]


def _state(session: Session, plan: plans.PlanInfo) -> tuple[edits.PlanState, gpd.GeoDataFrame]:
    community = repo.read(session, "communities", community=plan.community)
    households = repo.read(session, "households", community=plan.community)
    grids, members = plans.current_grids(session, plan.id)
    base = grids[grids["level"] == 1].reset_index(drop=True)
    state = edits.PlanState(
        community.geometry.iloc[0],
        households,
        base,
        {c: m for c, m in members.items() if c in set(base["code"])},
    )
    return state, grids


def _run(
    session: Session,
    plan: plans.PlanInfo,
    state: edits.PlanState,
    op: str,
    args: dict[str, Any],
    settings: Settings,
) -> edits.Edit:
    if op == "reassign":
        return edits.reassign(state, _household_ids(state, args), str(args["to"]))
    if op == "redraw":
        return edits.redraw(state, str(args["grid"]), args["geometry"])
    if op == "split":
        code = plans.next_serial(session, plan.id, plan.community)
        return edits.split(state, str(args["grid"]), args["line"], new_code=code)
    if op == "merge":
        return edits.merge(state, list(args["grids"]))
    if op == "rebalance":
        return rebalance.fix_grid(
            state,
            str(args["grid"]),
            locked=[str(c) for c in args.get("locked") or ()],
            bounds=Bounds(settings.min_households, settings.max_households),
            buildings=repo.read(session, "buildings", community=plan.community),
            seed=settings.seed,
            new_code=plans.next_serial(session, plan.id, plan.community),
        )
    if op == "revert":
        version = int(args["version"])
        old = [
            v
            for v in plans.versions(session, plan.id, str(args["grid"]))
            if v["version"] == version
        ]
        if not old or old[0]["geometry"] is None:
            raise InputError(
                Problem(
                    f"grid {args['grid']} has no version {version} with a geometry in this plan",
                    field="version",
                )
            )
        return edits.redraw(state, str(args["grid"]), old[0]["geometry"])
    raise InputError(Problem(f"unknown edit {op!r}", field="op"))


def _named_grids(args: dict[str, Any]) -> list[str]:
    """Return the grids an edit names (the one it changes, the target, the ones it merges)."""
    named = [args.get("grid"), args.get("to"), *(args.get("grids") or ())]
    return [str(c) for c in named if c is not None]


def _household_ids(state: edits.PlanState, args: dict[str, Any]) -> list[str]:
    ids = [str(h) for h in args.get("households") or []]
    hh = state.households
    for unit in args.get("units") or []:
        hit = hh[(hh["building_id"] == str(unit["building"])) & (hh["unit"] == int(unit["unit"]))]
        if hit.empty:
            raise InputError(
                Problem(f"building {unit['building']} has no unit {unit['unit']}", field="units")
            )
        ids += hit["id"].astype(str).tolist()
    for building in args.get("buildings") or []:
        hit = hh[hh["building_id"] == str(building)]
        if hit.empty:
            raise InputError(Problem(f"building {building} has no households", field="buildings"))
        ids += hit["id"].astype(str).tolist()
    if not ids:
        raise InputError(Problem("name households, units or buildings to move", field="households"))
    return ids


def apply_edit(
    session: Session,
    plan_id: int,
    op: str,
    args: dict[str, Any],
    *,
    user: str | None,
    revision: int,
    settings: Settings,
) -> EditOutcome:
    """Apply one edit to a draft as new grid versions; refuse it if it breaks coverage.

    The micro-grids of every base grid the edit changed are drawn again (new versions); those
    of removed grids, and old ones not drawn again, are retired.
    """
    plan = plans.get_draft(session, plan_id)
    plans.bump_revision(session, plan_id, expected=revision)
    held = grid_locks.read_locks(session, plan_id)
    grid_locks.refuse_locked(held, _named_grids(args), user=user)
    if op == "rebalance":  # the engine leaves every locked grid alone, whoever holds it
        args = {**args, "locked": sorted({*(args.get("locked") or ()), *(h.grid for h in held)})}
    state, every = _state(session, plan)
    bounds = Bounds(settings.min_households, settings.max_households)
    before = edits.validate(state, bounds)
    change = _run(session, plan, state, op, args, settings)
    grid_locks.refuse_locked(held, change.geoms, user=None if op == "rebalance" else user)
    after_state = edits.apply_edit(state, change)
    after = edits.validate(after_state, bounds)
    new_errors = [e for e in after.errors if e not in before.errors]
    field = {
        "reassign": "households",
        "redraw": "geometry",
        "split": "line",
        "merge": "grids",
        "revert": "version",
        "rebalance": "grid",
    }.get(op)
    result = {"errors": after.errors, "warnings": change.warnings + after.warnings}
    if new_errors:
        raise EditRefused(
            [Problem(f"the edit would break the plan: {e}", field=field) for e in new_errors],
            result,
        )
    changed = [c for c, g in change.geoms.items() if g is not None]
    removed = [c for c, g in change.geoms.items() if g is None]
    rows = _new_rows(state, every, change, changed, plan.community)
    micro = redraw_microgrids(
        rows,
        state.households,
        change.members,
        levels=(bounds, Bounds(1, settings.micro_max_households)),
        community=plan.community,
        buildings=repo.read(session, "buildings", community=plan.community),
        seed=settings.seed,
    )
    result["warnings"] += micro.notes
    below = every[(every["level"] > 1) & every["parent_code"].isin([*changed, *removed])]
    stale = sorted(set(below["code"].astype(str)) - set(micro.grids["code"].astype(str)))
    payload = {
        k: (shapely.geometry.mapping(v) if isinstance(v, BaseGeometry) else v)
        for k, v in args.items()
    }
    edit_id = plans.record_edit(
        session, plan_id, op=op, user=user, payload=payload, validation=result
    )
    remove_locks(session, plan_id, removed)  # a grid that is gone holds nothing
    plans.write_versions(
        session,
        plan_id,
        edit_id=edit_id,
        grids=pd.concat([frames.conform("grids", rows), micro.grids], ignore_index=True),
        members={**change.members, **micro.members},
        gone=[*removed, *stale],
    )
    audit.record(
        session,
        user=user,
        action=f"plan.edit.{op}",
        target=f"plan/{plan_id}",
        before={"revision": revision},
        after={"edit": edit_id, "changed": changed, "removed": removed},
    )
    return EditOutcome(plans.get_plan(session, plan_id), edit_id, changed, removed, result)


def _new_rows(
    state: edits.PlanState,
    every: gpd.GeoDataFrame,
    change: edits.Edit,
    changed: list[str],
    community: str,
) -> gpd.GeoDataFrame:
    size = state.households.set_index("id")["size"].fillna(1)
    old = every.set_index("code")
    rows = []
    for code in changed:
        ids = sorted(change.members.get(code, ()))
        prev = old.loc[code] if code in old.index else None
        rows.append(
            {
                "code": code,
                "community_code": community,
                "level": 1,
                "kind": "community" if prev is None else prev["kind"],
                "parent_code": None,
                "households": len(ids),
                "residents": int(size.reindex(ids).fillna(1).sum()),
                "floor_lo": None,
                "floor_hi": None,
                "version": 0,
                "geometry": change.geoms[code],
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=frames.WGS84)


def diff(session: Session, plan_id: int, code: str, *, a: int, b: int) -> dict[str, Any]:
    """Compare versions ``a`` and ``b`` of a grid: territory gained and lost, households moved."""
    found = {v["version"]: v for v in plans.versions(session, plan_id, code)}
    for field, n in (("from", a), ("to", b)):
        if n not in found:
            raise InputError(
                Problem(f"grid {code} has no version {n}; it has {sorted(found)}", field=field)
            )
    old, new = found[a], found[b]
    empty = shapely.Polygon()
    g0, g1 = old["geometry"] or empty, new["geometry"] or empty
    h0, h1 = set(old["households"]), set(new["households"])
    return {
        "grid": code,
        "from": a,
        "to": b,
        "gained": edits.significant(shapely.difference(g1, g0)),
        "lost": edits.significant(shapely.difference(g0, g1)),
        "households_added": sorted(h1 - h0),
        "households_removed": sorted(h0 - h1),
    }


def publish(
    session: Session,
    plan_id: int,
    *,
    user: str | None,
    revision: int,
    effective_from: datetime | None = None,
) -> plans.PlanInfo:
    """Make a draft the published plan of its community from ``effective_from`` (default now)."""
    plan = plans.get_draft(session, plan_id)
    plans.bump_revision(session, plan_id, expected=revision)
    now = datetime.now(UTC)
    at = plans.utc(effective_from) or now
    if at > now:
        raise InputError(
            Problem(
                "effective_from lies in the future; publish on that day "
                "instead (scheduled publishing is not supported)",
                field="effective_from",
            )
        )
    newest = [
        p.effective_from
        for p in plans.list_plans(session, plan.community)
        if p.status in ("published", "superseded") and p.effective_from is not None
    ]
    if newest and at < max(newest):
        raise InputError(
            Problem(
                f"effective_from {at.isoformat()} precedes the current plan's "
                f"{max(newest).isoformat()}",
                field="effective_from",
            )
        )
    grids, _ = plans.current_grids(session, plan_id)
    before = repo.count(session, "grids")
    repo.delete(session, "grids", community=plan.community)
    repo.upsert(session, "grids", frames.conform("grids", grids))
    plans.sync_history(session, plan.community, at=at, plan_id=plan_id)
    for other in plans.list_plans(session, plan.community):
        if other.status == "published":
            plans.set_status(session, other.id, "superseded")
    plans.set_status(session, plan_id, "published", effective_from=at)
    audit.record(
        session,
        user=user,
        action="plan.publish",
        target=f"plan/{plan_id}",
        before={"grids": before},
        after={"effective_from": at.isoformat(), "grids": len(grids)},
    )
    return plans.get_plan(session, plan_id)


def grid_of_household(
    session: Session, household_id: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """Return the published grid (and micro-grid) that held a household, now or at ``at``.

    One keyed read of the household, then a point-in-polygon test on only the community's
    grids whose box holds it (the spatial index finds them).
    """
    hh = repo.read(session, "households", ids=[household_id])
    if hh.empty:
        raise NotFoundError(f"household {household_id} is not in the store")
    community = str(hh["community_code"].iloc[0])
    x0, y0, x1, y1 = (float(v) for v in hh.total_bounds)
    if at is None:
        grids = repo.read(session, "grids", community=community, bbox=(x0, y0, x1, y1))
    else:
        plans.sync_history(session, community)
        grids = plans.grids_as_of(session, community, at, bbox=(x0, y0, x1, y1))
    out: dict[str, Any] = {
        "household": household_id,
        "community": community,
        "as_of": None if at is None else plans.utc(at).isoformat(),  # type: ignore[union-attr]
    }
    for level, key in ((1, "grid"), (2, "microgrid")):
        level_grids = grids[grids["level"] == level].reset_index(drop=True)
        code = assign_households(hh, level_grids).iloc[0]
        out[key] = None if code is pd.NA else str(code)
    if out["grid"] is None:
        raise NotFoundError(
            f"no published grid held household {household_id}"
            + ("" if at is None else f" on {out['as_of']}")
        )
    return out
