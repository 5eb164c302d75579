"""Workers and assignments for API tests: W1 (the ``worker`` account) and W2 serve grid one."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy.engine import Engine

from gridsvc.store import repo, session_scope
from gridsvc.store.assignments import replace_assignments

WORKERS = {"W1": ("李四", "13912345678"), "W2": ("王警官", "13700001111")}


def staff(
    engine: Engine, community: str, *, role: str, leader_role: str = "police_grid_leader"
) -> str:
    """Store W1 and W2; W1 serves the first base grid as ``role``, W2 as ``leader_role``.

    Returns the grid's code.
    """
    with session_scope(engine) as session:
        first = str(repo.read(session, "grids", community=community, level=1)["code"].iloc[0])
        workers = gpd.GeoDataFrame(
            {
                "id": list(WORKERS),
                "name": [n for n, _ in WORKERS.values()],
                "phone": [p for _, p in WORKERS.values()],
            },
            geometry=gpd.GeoSeries([None, None], crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        repo.upsert(session, "workers", workers)
        rows = pd.DataFrame(
            {"grid_code": [first, first], "worker_id": ["W1", "W2"], "role": [role, leader_role]}
        )
        replace_assignments(session, community, rows)
    return first
