"""Tiny hand-checkable staffing inputs.

A row of ``n`` square grids of 100 m (west → east) in community C = 140802001001::

    +-----+-----+-----+
    | 001 | 002 | 003 |   beats: grids 001..k in JW01, the rest in JW02
    +-----+-----+-----+

Workers live at given offsets (metres east of the west edge, metres north of the south edge).
"""

from __future__ import annotations

import geopandas as gpd
import shapely

COMM = "140802001001"
LON0, LAT0 = 111.0, 35.03
DLON, DLAT = 1 / 91_000, 1 / 111_000  # degrees per metre at 35°N (about)


def row_grids(n: int, *, beats: list[str] | None = None, households: int = 40) -> gpd.GeoDataFrame:
    """Return ``n`` grids of 100 m in a row, each with ``households`` households."""
    rows = []
    for i in range(n):
        x0 = LON0 + i * 100 * DLON
        rows.append(
            {
                "code": f"{COMM}{i + 1:03d}",
                "community_code": COMM,
                "level": 1,
                "households": households,
                "residents": households * 3,
                "police_beat": (beats[i] if beats else f"{COMM}-JW01"),
                "geometry": shapely.box(x0, LAT0, x0 + 100 * DLON, LAT0 + 100 * DLAT),
            }
        )
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def worker(
    wid: str,
    roles: str,
    x_m: float,
    y_m: float = 50.0,
    *,
    party: bool = False,
    beat: str = "",
    hours: float = 160.0,
) -> dict[str, object]:
    """Return one roster row living ``x_m`` metres east of the row's west edge."""
    if not beat and ("police" in roles):
        beat = f"{COMM}-JW01"
    return {
        "id": wid,
        "name": f"员工{wid}",
        "phone": "13800000000",
        "roles": roles,
        "party_member": party,
        "police_beat": beat,
        "hours": hours,
        "geometry": shapely.Point(LON0 + x_m * DLON, LAT0 + y_m * DLAT),
    }


def roster(*rows: dict[str, object]) -> gpd.GeoDataFrame:
    """Return a workers frame of ``rows``."""
    return gpd.GeoDataFrame(list(rows), crs="EPSG:4326")


def assert_maximal(ctx, plan) -> None:  # type: ignore[no-untyped-def]
    """Assert no slot below its max has an eligible worker with room for it."""
    import numpy as np

    from gridsvc.staffing.context import Ledger

    ledger = Ledger(ctx)
    slot_of = {s.role: i for i, s in enumerate(ctx.model.slots)}
    for code, wid, role in plan[["grid_code", "worker_id", "role"]].itertuples(index=False):
        ledger.add(ctx.worker_index[wid], ctx.grid_index[code], slot_of[role])
    workers = np.arange(len(ctx.worker_ids))
    for g in range(len(ctx.grid_codes)):
        for s, slot in enumerate(ctx.model.slots):
            if ledger.filled[(g, s)] >= slot.max:
                continue
            ok = workers[ctx.eligible(s, np.full(len(workers), g), workers)]
            free = [int(w) for w in ok if not ledger.why_not(int(w), g, s)]
            assert not free, f"grid {ctx.grid_codes[g]} slot {slot.role}: {free} had room"
