"""The grid worker's phone: ``GET /me/assignments`` — his grids, roles, micro-grids and the
households in them, compact, gzip-able and revalidated by ETag (304 when unchanged)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from fastapi import APIRouter, HTTPException, Request, Response

from ...geo import feature_collection
from ...planning import assign_households
from ...privacy import masked
from ...store import repo
from ...store.assignments import read_assignments
from ...store.users import User
from ..caching import cached_json
from ..deps import SessionDep, UserDep
from ..scope import household_reveal, worker_communities

__all__ = ["SIMPLIFY_DEGREES", "router"]

router = APIRouter(tags=["mobile"])
SIMPLIFY_DEGREES = 0.00001  # about 1 m: enough for a phone map, a fraction of the vertices
HOUSEHOLD_COLUMNS = [
    "id",
    "grid",
    "microgrid",
    "building_id",
    "unit",
    "floor",
    "room",
    "size",
    "care_tags",
    "visit_cadence",
    "phone",
    "id_number",
    "lon",
    "lat",
]


def _simplified(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    geoms = shapely.simplify(frame.geometry.to_numpy(), SIMPLIFY_DEGREES, preserve_topology=True)
    out = gpd.GeoDataFrame(frame[columns], geometry=geoms, crs=frame.crs)
    return feature_collection(out, id_column="code")


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def _read(
    session: SessionDep,
    kind: str,
    communities: set[str],
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    parts = [repo.read(session, kind, community=c, bbox=bbox) for c in sorted(communities)]
    return pd.concat(parts, ignore_index=True) if parts else repo.read(session, kind, community="")


def _payload(session: SessionDep, user: User) -> dict[str, Any]:
    scope = set(user.scope)
    communities = worker_communities(user)
    grids = _read(session, "grids", communities)
    base = grids[(grids["level"] == 1) & grids["code"].isin(scope)].reset_index(drop=True)
    micro = grids[
        (grids["level"] >= 2)
        & (grids["code"].isin(scope) | grids["parent_code"].isin(base["code"]))
    ].reset_index(drop=True)
    rows = (
        read_assignments(session, worker=user.worker_id)
        if user.worker_id
        else read_assignments(session, worker="")
    )
    roles: dict[str, set[str]] = {}
    for grid, role in zip(rows["grid_code"], rows["role"], strict=True):
        roles.setdefault(str(grid), set()).add(str(role))
    mine = pd.concat([base, micro])
    box = tuple(float(v) for v in mine.total_bounds) if len(mine) else None
    households = _read(session, "households", communities, box)  # type: ignore[arg-type]
    if box is None:
        households = households.iloc[:0]
    in_grid = assign_households(households, base)
    in_micro = assign_households(households, micro)
    keep = (in_grid.notna() | in_micro.notna()).to_numpy()
    households, in_grid, in_micro = households[keep], in_grid[keep], in_micro[keep]
    households = masked(
        households, household_reveal(session, user, households, grids=in_grid, roles=roles)
    )
    table = pd.DataFrame(households.drop(columns="geometry"))
    table["grid"], table["microgrid"] = in_grid, in_micro
    table["lon"] = households.geometry.x.round(7)
    table["lat"] = households.geometry.y.round(7)
    base_props = ["code", "community_code", "kind", "households", "residents"]
    grid_fc = _simplified(base, base_props)
    for feature in grid_fc["features"]:
        feature["properties"]["roles"] = sorted(roles.get(feature["id"], ()))
    return {
        "worker": {"username": user.username, "worker_id": user.worker_id},
        "assignments": [
            {"grid": str(g), "role": str(r), "since": t.isoformat()}
            for g, r, t in zip(rows["grid_code"], rows["role"], rows["assigned_at"], strict=True)
        ],
        "grids": grid_fc,
        "microgrids": _simplified(
            micro, ["code", "parent_code", "level", "households", "floor_lo", "floor_hi"]
        ),
        "households": {
            "columns": HOUSEHOLD_COLUMNS,
            "rows": [
                [_plain(v) for v in row]
                for row in table[HOUSEHOLD_COLUMNS].itertuples(index=False, name=None)
            ],
        },
    }


@router.get("/me/assignments", response_class=Response)
def my_assignments(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The signed-in grid worker's grids, roles, micro-grids and households (ETag, gzip)."""
    if user.role != "worker":
        raise HTTPException(
            403,
            f"/me/assignments is for grid workers; account {user.username!r} is a {user.role} "
            "(use /grids and /assignments)",
        )
    return cached_json(request, _payload(session, user))
