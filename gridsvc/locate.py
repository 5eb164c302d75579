"""Where is this point: its community, grid, micro-grid and the public card of its grid leaders.

Residents' phones ask "who is my grid worker?"; the answer holds no household data, only the
grid and the work contacts that notice boards publish anyway (公示牌: name, role, phone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from .errors import NotFoundError
from .store import plans, repo
from .store.assignments import grid_contacts

__all__ = ["LEADER_ROLES", "locate"]

_PAD = 1e-9
# Staffing roles whose holders appear on a grid's public card, grid leaders first.
LEADER_ROLES = {
    "all_round_grid_leader": "全科网格长",
    "grid_leader": "网格长",
    "police_grid_leader": "警务网格长",
    "grid_worker": "下沉网格社区工作者",
    "full_time_grid_worker": "专职网格员",
}


def _covering(frame: gpd.GeoDataFrame, point: shapely.Point) -> gpd.GeoDataFrame:
    return frame[shapely.covers(frame.geometry.to_numpy(), point)]


def _pick(grids: gpd.GeoDataFrame) -> pd.Series | None:
    """The grid answering for a point: a plain grid before stacked ones (split by floor)."""
    if grids.empty:
        return None
    stacked = grids["floor_lo"].notna().to_numpy()
    order = grids.assign(_stacked=stacked).sort_values(["_stacked", "code"], kind="stable")
    return order.iloc[0]


def _cards(session: Any, code: str) -> list[dict[str, Any]]:
    contacts = grid_contacts(session, [code])
    contacts = contacts[contacts["role"].isin(list(LEADER_ROLES))]
    rank = {role: i for i, role in enumerate(LEADER_ROLES)}
    contacts = contacts.assign(_rank=contacts["role"].map(rank)).sort_values(
        ["_rank", "worker_id"], kind="stable"
    )
    return [
        {
            "name": str(row.name),
            "role": str(row.role),
            "title": LEADER_ROLES[str(row.role)],
            "phone": None if row.phone is pd.NA else str(row.phone),
        }
        for row in contacts.itertuples(index=False)
    ]


def locate(session: Any, lon: float, lat: float, *, at: datetime | None = None) -> dict[str, Any]:
    """Return the community, grid, micro-grid and leader cards at WGS 84 ``lon``/``lat``.

    ``at`` resolves the grids published at that moment. NotFoundError when no community covers
    the point; ``grid`` is None inside a community not yet partitioned.
    """
    point = shapely.Point(lon, lat)
    box = (lon - _PAD, lat - _PAD, lon + _PAD, lat + _PAD)  # a degenerate MBR finds nothing
    communities = _covering(repo.read(session, "communities", bbox=box), point)
    if communities.empty:
        raise NotFoundError(
            f"no community covers lon {lon:.7f}, lat {lat:.7f} (WGS 84); the point is outside "
            "every community this service manages (check the crs you declared)"
        )
    community = communities.iloc[0]
    code = str(community["code"])
    if at is None:
        grids = repo.read(session, "grids", community=code, bbox=box)
    else:
        plans.sync_history(session, code)
        grids = plans.grids_as_of(session, code, at)
    grids = _covering(grids, point)
    base = grids[grids["level"].fillna(0).to_numpy() == 1]
    grid = _pick(base)
    micro = None
    if grid is not None:
        below = (grids["level"].fillna(0).to_numpy() == 2) & (
            grids["parent_code"].fillna("").to_numpy() == grid["code"]
        )
        micro = _pick(grids[below])
    cards = [] if grid is None else _cards(session, str(grid["code"]))
    return {
        "community": {"code": code, "name": str(community["name"] or "")},
        "grid": None
        if grid is None
        else {
            "code": str(grid["code"]),
            "kind": str(grid["kind"]),
            "households": int(grid["households"]) if pd.notna(grid["households"]) else None,
        },
        "stacked": sorted(str(c) for c in base["code"]) if len(base) > 1 else [],
        "microgrid": None if micro is None else {"code": str(micro["code"])},
        "leader": cards[0] if cards else None,
        "contacts": cards,
    }
