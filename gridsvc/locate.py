"""Where is this point: its community, grid, micro-grid and the public card of its grid leaders.

Residents' phones ask "who is my grid worker?"; the answer holds no household data, only the
grid and the work contacts that notice boards publish anyway (公示牌: name, role, phone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import shapely

from .errors import NotFoundError
from .store import plans
from .store.assignments import grid_contacts
from .store.lookup import covering

__all__ = ["LEADER_ROLES", "locate"]

# Staffing roles whose holders appear on a grid's public card, grid leaders first.
LEADER_ROLES = {
    "all_round_grid_leader": "全科网格长",
    "grid_leader": "网格长",
    "police_grid_leader": "警务网格长",
    "grid_worker": "下沉网格社区工作者",
    "full_time_grid_worker": "专职网格员",
}


def _pick(grids: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The grid answering for a point: a plain grid before stacked ones (split by floor)."""
    ordered = sorted(grids, key=lambda g: (g["floor_lo"] is not None, str(g["code"])))
    return ordered[0] if ordered else None


def _cards(session: Any, code: str) -> list[dict[str, Any]]:
    rank = {role: i for i, role in enumerate(LEADER_ROLES)}
    leaders = [c for c in grid_contacts(session, [code]) if c["role"] in rank]
    leaders.sort(key=lambda c: (rank[c["role"]], c["worker_id"]))
    return [
        {
            "name": c["name"],
            "role": c["role"],
            "title": LEADER_ROLES[c["role"]],
            "phone": c["phone"],
        }
        for c in leaders
    ]


def locate(session: Any, lon: float, lat: float, *, at: datetime | None = None) -> dict[str, Any]:
    """Return the community, grid, micro-grid and leader cards at WGS 84 ``lon``/``lat``.

    ``at`` resolves the grids published at that moment. NotFoundError when no community covers
    the point; ``grid`` is None inside a community not yet partitioned.
    """
    communities = covering(session, "communities", lon, lat)
    if not communities:
        raise NotFoundError(
            f"no community covers lon {lon:.7f}, lat {lat:.7f} (WGS 84); the point is outside "
            "every community this service manages (check the crs you declared)"
        )
    community = communities[0]
    code = str(community["code"])
    if at is None:
        grids = covering(session, "grids", lon, lat, community=code)
    else:
        plans.sync_history(session, code)
        history = plans.grids_as_of(session, code, at)
        inside = history[shapely.covers(history.geometry.to_numpy(), shapely.Point(lon, lat))]
        table = pd.DataFrame(inside.drop(columns="geometry")).astype(object)
        grids = table.where(table.notna(), None).to_dict("records")  # type: ignore[assignment]
    base = [g for g in grids if g["level"] == 1]
    grid = _pick(base)
    micro = None
    if grid is not None:
        micro = _pick([g for g in grids if g["level"] == 2 and g["parent_code"] == grid["code"]])
    cards = [] if grid is None else _cards(session, str(grid["code"]))
    return {
        "community": {"code": code, "name": str(community["name"] or "")},
        "grid": None
        if grid is None
        else {
            "code": str(grid["code"]),
            "kind": str(grid["kind"]),
            "households": None if grid["households"] is None else int(grid["households"]),
        },
        "stacked": sorted(str(g["code"]) for g in base) if len(base) > 1 else [],
        "microgrid": None if micro is None else {"code": str(micro["code"])},
        "leader": cards[0] if cards else None,
        "contacts": cards,
    }
