"""Redraw the micro-grids inside given base grids with the partition engine's micro level.

Used wherever base grids change outside a full partition: planner edits on a draft and the
merge job's unified grids. Each base grid is handed to ``partition`` as its own boundary and
as the one existing level-1 grid, so the engine keeps it (code and outline) and draws only the
levels below it, coded under it exactly as a full partition would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from . import frames
from .errors import GridsvcError
from .partition import Bounds, partition

__all__ = ["Microgrids", "redraw_microgrids"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Microgrids:
    """The micro-grids drawn (``grids`` rows, level 2+), the households of each, and notes."""

    grids: gpd.GeoDataFrame
    members: dict[str, frozenset[str]]
    notes: list[str]


def redraw_microgrids(
    grids: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    members: Mapping[str, frozenset[str]],
    *,
    levels: Sequence[Bounds],
    community: str,
    buildings: gpd.GeoDataFrame | None = None,
    seed: int = 0,
) -> Microgrids:
    """Return new micro-grids for each base grid in ``grids`` (EPSG:4326, ``grids`` columns).

    ``members`` names the households of each base grid (ids of ``households``); ``levels`` are
    the bounds of every level, base first (only those below the base are drawn). A grid
    without households gets no micro-grids; one the engine cannot keep as it is (not one
    polygon, households outside it) gets none either, with a note saying why.
    """
    hh = households.set_index(households["id"].astype(str), drop=False)
    parts: list[gpd.GeoDataFrame] = []
    held: dict[str, frozenset[str]] = {}
    notes: list[str] = []
    for row in grids.itertuples(index=False):
        code = str(row.code)
        ids = sorted(members.get(code, ()))
        if not ids:
            continue
        mine = gpd.GeoDataFrame(hh.loc[ids].reset_index(drop=True), crs=households.crs)
        grid = gpd.GeoDataFrame(
            {
                "code": [code],
                "level": [1],
                "parent_code": [None],
                "floor_lo": [getattr(row, "floor_lo", None)],
                "floor_hi": [getattr(row, "floor_hi", None)],
            },
            geometry=[row.geometry],
            crs=grids.crs or frames.WGS84,
        )
        outline = grid[["code", "geometry"]]
        base = Bounds(1, max(len(ids), levels[0].hi))
        try:
            result = partition(
                outline, mine, buildings=buildings, levels=(base, *levels[1:]),
                seed=seed, existing=grid,
            )  # fmt: skip
        except GridsvcError as exc:
            notes.append(f"grid {code}: micro-grids not drawn ({exc})")
            continue
        if result.grids["code"].astype(str).tolist() != [code]:
            notes.append(
                f"grid {code}: micro-grids not drawn (the engine would redraw the grid itself; "
                "is it one polygon holding all its households?)"
            )
            continue
        parts.append(result.microgrids)
        deepest = result.assignment.groupby("microgrid_code")["household_id"]
        held |= {str(c): frozenset(map(str, v)) for c, v in deepest}
    if not parts:
        return Microgrids(frames.empty("grids"), held, notes)
    micro = pd.concat(parts, ignore_index=True).assign(community_code=community)
    micro = gpd.GeoDataFrame(micro, geometry="geometry", crs=frames.WGS84)
    return Microgrids(frames.conform("grids", micro), held, notes)
