"""Turn the engine's nodes into the result frames (EPSG:4326) and the JSON report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.array import GeometryArray

from ..geo import WGS84
from .atoms import Bounds
from .level import Note

__all__ = ["build_result"]

_REPORTED = ("code", "households", "residents", "polsby_popper", "floor_lo", "floor_hi", "flags")


def _polsby_popper(geoms: np.ndarray) -> list[float]:
    areas, perimeters = shapely.area(geoms).tolist(), shapely.length(geoms).tolist()
    return [
        round(4.0 * math.pi * a / p**2, 4) if p else 0.0
        for a, p in zip(areas, perimeters, strict=True)
    ]


def _frame(
    nodes: list[Any], size: np.ndarray, community: str, crs: Any, kind: str
) -> tuple[Any, dict[str, Any]]:
    """Return the grids of ``nodes`` (metres) as a frame in EPSG:4326, sorted by code, and its
    columns as lists (cheaper to read than the frame's rows).

    Projected as one geometry array and sorted before the frame is built (the frame's own
    ``to_crs`` and ``sort_values`` cost more than the grids' projection)."""
    geoms = np.array([n.cell.geometry for n in nodes], dtype=object)
    wgs = np.asarray(GeometryArray(geoms, crs=crs).to_crs(WGS84), dtype=object)
    for i, n in enumerate(nodes):
        if n.original is not None:
            wgs[i] = n.original
    codes = [n.code for n in nodes]
    order = sorted(range(len(nodes)), key=codes.__getitem__)  # stable, by code
    nodes = [nodes[i] for i in order]
    data = {
        "code": [codes[i] for i in order],
        "community_code": [community] * len(nodes),
        "level": [n.level for n in nodes],
        "kind": ["dedicated" if "dedicated" in n.cell.flags else kind for n in nodes],
        "parent_code": [n.parent for n in nodes],
        "households": [len(n.cell.members) for n in nodes],
        "residents": [int(size[n.cell.members].sum()) for n in nodes],
        "floor_lo": [n.cell.floor_lo for n in nodes],
        "floor_hi": [n.cell.floor_hi for n in nodes],
        "version": [1] * len(nodes),
        "polsby_popper": _polsby_popper(geoms[order]),
        "flags": [";".join(n.cell.flags) for n in nodes],
    }
    typed = data | {f: pd.array(data[f], dtype="Int64") for f in ("floor_lo", "floor_hi")}
    frame = gpd.GeoDataFrame(typed, geometry=gpd.GeoSeries(wgs[order], crs=WGS84))
    return frame, data


def _split_buildings(nodes: list[Any], hh: pd.DataFrame) -> int:
    """Return how many buildings have households in more than one (non-stacked) grid."""
    grid = np.full(len(hh), -1, dtype=np.int64)
    serial: dict[str, int] = {}
    for n in nodes:
        if not n.cell.stacked:
            grid[n.cell.members] = serial.setdefault(n.code, len(serial))
    building = hh["building_id"].astype("string").fillna("").to_numpy(dtype=object)
    ids, names = pd.factorize(building)
    known = (building != "") & (grid >= 0)
    pairs = np.unique(ids[known] * max(len(serial), 1) + grid[known])
    grids_of = np.bincount(pairs // max(len(serial), 1), minlength=len(names))
    return int((grids_of > 1).sum())


def build_result(
    nodes: list[Any],
    hh: gpd.GeoDataFrame,
    community: str,
    crs: Any,
    levels: Sequence[Bounds],
    notes: list[Note],
    history: dict[str, Any],
    *,
    seconds: float,
    seed: int,
    kind: str,
) -> Any:
    """Return the PartitionResult for ``nodes`` (every level, codes set)."""
    from .engine import PartitionResult

    base = [n for n in nodes if n.level == 1]
    deeper = [n for n in nodes if n.level > 1]
    size = pd.to_numeric(hh["size"], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
    grids, rows = _frame(base, size, community, crs, kind)
    micro, micro_rows = _frame(deeper, size, community, crs, kind)
    ids = hh["id"].astype(str).to_numpy() if "id" in hh.columns else hh.index.astype(str)
    columns: dict[str, np.ndarray] = {"household_id": np.asarray(ids, dtype=object)}
    for depth in range(1, len(levels) + 1):
        col = np.full(len(hh), "", dtype=object)
        for n in nodes:
            if n.level == depth:
                col[n.cell.members] = n.code
        columns[f"level{depth}_code"] = col
    assignment = pd.DataFrame(columns)
    assignment.insert(1, "grid_code", assignment["level1_code"])
    deepest = f"level{len(levels)}_code"
    assignment.insert(2, "microgrid_code", assignment[deepest] if len(levels) > 1 else "")
    if len(levels) <= 2:
        assignment = assignment[["household_id", "grid_code", "microgrid_code"]]
    old = history["old"]
    moved_rows = np.flatnonzero((old != "") & (old != assignment["grid_code"].to_numpy()))
    moved = [
        {
            "household_id": str(ids[i]),
            "from": str(old[i]),
            "to": str(assignment["grid_code"][i]),
            "why": history["why"].get(str(old[i]), "its grid was redrawn"),
        }
        for i in moved_rows
    ]
    counted = [h for h in rows["households"] if h > 0]
    within = [levels[0].holds(h) for h in counted]
    mwithin = [levels[1].holds(h) for h in micro_rows["households"]] if len(levels) > 1 else []
    report = {
        "community": community,
        "seed": seed,
        "levels": [{"min": b.lo, "max": b.hi} for b in levels],
        "grids": [
            {
                "code": code,
                "households": households,
                "residents": residents,
                "polsby_popper": float(pp),
                "floor_lo": None if lo is None else int(lo),
                "floor_hi": None if hi is None else int(hi),
                "flags": [f for f in flags.split(";") if f],
            }
            for code, households, residents, pp, lo, hi, flags in zip(
                *(rows[f] for f in _REPORTED), strict=True
            )
        ],
        "totals": {
            "households": len(hh),
            "grids": len(grids),
            "microgrids": len(micro),
            "share_within_bounds": float(np.mean(within)) if len(counted) else 1.0,
            "microgrid_share_within_bounds": float(np.mean(mwithin)) if len(micro) else 1.0,
            "mean_polsby_popper": float(grids["polsby_popper"].mean()) if len(grids) else 0.0,
            "infeasible_regions": [
                {
                    "households": n.households,
                    "lon": n.lon,
                    "lat": n.lat,
                    "reason": n.reason,
                    "action": n.action,
                    "message": n.message(),
                }
                for n in notes
            ],
            "barrier_crossings": sum("barrier_crossing" in f for f in rows["flags"]),
            "dedicated_grids": rows["kind"].count("dedicated"),
            "split_buildings": _split_buildings(base, hh),
            "stacked_grids": sum(lo is not None for lo in rows["floor_lo"]),
            "moved_households": moved,
            "seconds": round(seconds, 3),
        },
    }
    return PartitionResult(grids=grids, microgrids=micro, assignment=assignment, report=report)
