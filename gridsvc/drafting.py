"""What a draft would look like after a list of pending edits, for the planner's editor.

``preview`` applies the edits with :func:`planning.apply_edit` in a session it always rolls back,
so the result is exactly what saving them would give (or the same refusal), and nothing is
written. The answer describes every base grid: households, residents, bound status, islands
(parts beyond the first), neighbours, and which grid holds each building.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import edits, planning
from .config import Settings
from .partition import Bounds
from .store import audit, plans

__all__ = ["DraftView", "change_log", "describe", "preview"]


@dataclass(frozen=True)
class DraftView:
    """A draft's base grids with their figures, the building → grid map and the validation."""

    grids: gpd.GeoDataFrame
    buildings: dict[str, str]
    validation: dict[str, list[str]]


def _status(count: int, bounds: Bounds) -> str:
    if count < bounds.lo:
        return "under"
    return "over" if count > bounds.hi else "within"


def describe(session: Session, plan_id: int, settings: Settings) -> DraftView:
    """Describe plan ``plan_id`` as it stands in ``session``."""
    plan = plans.get_plan(session, plan_id)
    state = planning.plan_state(session, plan)
    bounds = Bounds(settings.min_households, settings.max_households)
    validation = edits.validate(state, bounds).as_dict()
    grids = state.grids.copy()
    codes = grids["code"].astype(str).tolist()
    geoms = grids.geometry.to_numpy()
    counts = [len(state.members.get(c, ())) for c in codes]
    size = state.households.set_index("id")["size"].fillna(1)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    touching = shapely.intersection(geoms[left], geoms[right])
    neighbours: dict[str, list[str]] = {c: [] for c in codes}
    for i, j, shared in zip(left, right, touching, strict=True):
        if i != j and shapely.get_dimensions(shared) >= 1:
            neighbours[codes[i]].append(codes[j])
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "households": counts,
            "residents": [int(size.reindex(sorted(state.members.get(c, ()))).sum()) for c in codes],
            "status": [_status(n, bounds) for n in counts],
            "islands": [int(shapely.get_num_geometries(g)) - 1 for g in geoms],
            "neighbours": [sorted(neighbours[c]) for c in codes],
        },
        geometry=geoms,
        crs=grids.crs,
    )
    owner = {h: c for c, ids in state.members.items() for h in ids}
    hh = state.households
    buildings = {
        str(b): owner[str(h)]
        for b, h in zip(hh["building_id"], hh["id"], strict=True)
        if str(h) in owner and b is not None
    }
    return DraftView(grids, buildings, validation)


def preview(
    engine: Engine,
    plan_id: int,
    pending: Sequence[tuple[str, dict[str, Any]]],
    *,
    user: str | None,
    settings: Settings,
) -> DraftView:
    """Describe plan ``plan_id`` after ``pending`` edits (op, args), writing nothing.

    Raises what :func:`planning.apply_edit` raises for the first edit that fails.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        for op, args in pending:
            revision = plans.get_plan(session, plan_id).revision
            planning.apply_edit(
                session, plan_id, op, args, user=user, revision=revision, settings=settings
            )
        return describe(session, plan_id, settings)
    finally:
        session.rollback()
        session.close()


def change_log(session: Session, plan_id: int, *, since: int) -> list[dict[str, Any]]:
    """Return the audit entries of plan ``plan_id`` made at or after revision ``since``, oldest
    first: who changed what since a client read the plan (the story behind a 412)."""
    items, _ = audit.entries(session, target=f"plan/{plan_id}", limit=1000)
    out = []
    for item in reversed(items):
        before = item["before"] if isinstance(item["before"], dict) else {}
        if item["action"] == "plan.create" or int(before.get("revision", since)) < since:
            continue
        out.append(item)
    return out
