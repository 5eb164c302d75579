"""Re-partition against existing grids: keep what still works, redraw the rest.

Households are matched to existing base grids by position (and floor range for stacked grids).
Locked grids stay exactly as they are, with their micro-grids. Other existing grids stay (same
code and outline) while they still hold a number of households within the bounds and are one
polygon; the rest of the community is partitioned anew. A leftover piece that cannot form grids
within the bounds releases the neighbouring unlocked grid it shares the longest border with.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, Problem
from .atoms import Bounds
from .level import Cell
from .territory import GRID_SIZE, shared_lengths

__all__ = ["Kept", "keep_existing", "match_grids"]

Kept = tuple[list[Any], set[str], BaseGeometry | None, np.ndarray, dict[str, Any]]


def match_grids(grids: gpd.GeoDataFrame, xy: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """Return the code of the grid holding each point ('' if none), floor ranges respected."""
    out = np.full(len(xy), "", dtype=object)
    if len(grids) == 0 or len(xy) == 0:
        return out
    geoms = grids.geometry.to_numpy()
    pts, idx = shapely.points(xy), np.arange(len(xy))
    hit_pt, hit_g = shapely.STRtree(geoms).query(pts, predicate="intersects")
    lo = pd.to_numeric(grids["floor_lo"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(grids["floor_hi"], errors="coerce").to_numpy(dtype=float)
    fl = floors[hit_pt]
    stacked = ~np.isnan(lo[hit_g])
    fits = ~stacked | ((fl >= lo[hit_g]) & (fl <= hi[hit_g]))
    # prefer a stacked grid whose floors fit, then a plain grid
    rank = np.where(stacked & fits, 0, np.where(fits, 1, 2))
    order = np.lexsort((hit_g, rank, hit_pt))
    hit_pt, hit_g, rank = hit_pt[order], hit_g[order], rank[order]
    first = np.r_[True, np.diff(hit_pt) != 0] & (rank < 2)
    codes = grids["code"].astype(str).to_numpy()
    out[idx[hit_pt[first]]] = codes[hit_g[first]]
    return out


def keep_existing(
    existing: gpd.GeoDataFrame | None,
    locked: Collection[str],
    outline: BaseGeometry,
    hh: gpd.GeoDataFrame,
    xy: np.ndarray,
    levels: Sequence[Bounds],
    crs: Any,
    community: str,
) -> Kept:
    """Return kept nodes, frozen codes, the outline left to partition, its rows, and history."""
    from .engine import Node

    rows = np.arange(len(hh))
    floors = pd.to_numeric(hh["floor"], errors="coerce").to_numpy(dtype=float)
    history: dict[str, Any] = {
        "old": np.full(len(hh), "", dtype=object),
        "why": {},
        "taken": [],
    }
    if existing is None or len(existing) == 0:
        if locked:
            raise InputError(
                Problem(
                    f"locked grids {', '.join(sorted(locked))} given without existing grids",
                    field="locked",
                )
            )
        return [], set(), outline, rows, history
    history["points"] = shapely.points(xy)  # only kept grids look households up by point
    wgs = existing.to_crs("EPSG:4326").reset_index(drop=True)
    ex = existing.to_crs(crs).reset_index(drop=True)
    ex = ex.assign(code=ex["code"].astype(str), level=pd.to_numeric(ex["level"]).astype(int))
    unknown = sorted(set(locked) - set(ex["code"]))
    if unknown:
        raise InputError(
            [
                Problem(f"locked grid {c} is not among the existing grids", field="locked")
                for c in unknown
            ]
        )
    base = ex[ex["level"] == 1].reset_index(drop=True)
    base_wgs = wgs.geometry[(ex["level"] == 1).to_numpy()].reset_index(drop=True)
    old = match_grids(base, xy, floors)
    history["old"], history["taken"] = old, base["code"].tolist()
    lo, hi = levels[0].lo, levels[0].hi
    keep: dict[str, Node] = {}
    for i, code in enumerate(base["code"]):
        members = rows[old == code]
        geom = shapely.intersection(base.geometry.iloc[i], outline, grid_size=GRID_SIZE)
        stacked = pd.notna(base["floor_lo"].iloc[i])
        cell = Cell(
            geom,
            members,
            None if not stacked else int(base["floor_lo"].iloc[i]),
            None if not stacked else int(base["floor_hi"].iloc[i]),
            bool(stacked),
        )
        one_piece = shapely.get_num_geometries(geom) == 1
        if code in locked:
            cell.flags.append("locked")
            keep[code] = Node(cell, 1, code, original=base_wgs.iloc[i])
        elif (lo <= len(members) <= hi or (stacked and 0 < len(members) <= hi)) and one_piece:
            keep[code] = Node(cell, 1, code, original=base_wgs.iloc[i])
        else:
            history["why"][code] = (
                f"grid {code} held {len(members)} households (bounds {lo}–{hi})"
                if one_piece
                else f"grid {code} was no longer one polygon"
            )
    while True:
        todo, todo_rows = _leftover(outline, list(keep.values()), rows)
        released = _release(todo, todo_rows, keep, locked, levels[0], history)
        if not released:
            break
    frozen = set(locked)
    nodes = list(keep.values())
    parents: dict[str, Any] = dict(keep)
    for depth in range(2, len(levels) + 1):
        layer = ex[(ex["level"] == depth) & ex["parent_code"].astype(str).isin(frozen)]
        for code_ in layer["code"]:
            frozen.add(code_)
        for parent in set(layer["parent_code"].astype(str)):
            pick = (layer["parent_code"].astype(str) == parent).to_numpy()
            mine = layer[pick].reset_index(drop=True)
            mine_wgs = wgs.geometry[layer.index[pick]].reset_index(drop=True)
            prow = parents[parent].cell.members if parent in parents else rows[:0]
            got = match_grids(mine, xy[prow], floors[prow])
            for j, code_ in enumerate(mine["code"]):
                lo_f, hi_f = mine["floor_lo"].iloc[j], mine["floor_hi"].iloc[j]
                cell = Cell(
                    mine.geometry.iloc[j],
                    prow[got == code_],
                    None if pd.isna(lo_f) else int(lo_f),
                    None if pd.isna(hi_f) else int(hi_f),
                    not pd.isna(lo_f),
                    ["locked"],
                )
                node = Node(cell, depth, code_, parent, original=mine_wgs.iloc[j])
                nodes.append(node)
                parents[code_] = node
    del community, history["points"]
    return nodes, frozen, todo, todo_rows, history


def _leftover(
    outline: BaseGeometry, kept: list[Any], rows: np.ndarray
) -> tuple[BaseGeometry, np.ndarray]:
    taken_geoms = [n.cell.geometry for n in kept if not n.cell.stacked]
    taken = shapely.union_all(taken_geoms, grid_size=GRID_SIZE) if taken_geoms else None
    todo = outline if taken is None else shapely.difference(outline, taken, grid_size=GRID_SIZE)
    assigned = np.concatenate([n.cell.members for n in kept]) if kept else rows[:0]
    return todo, np.setdiff1d(rows, assigned)


def _release(
    todo: BaseGeometry,
    todo_rows: np.ndarray,
    keep: dict[str, Any],
    locked: Collection[str],
    bounds: Bounds,
    history: dict[str, Any],
) -> bool:
    """Release one kept grid next to a leftover piece that cannot form grids; True if done."""
    if todo is None or todo.is_empty:
        return False
    free = [c for c, n in keep.items() if c not in locked and not n.cell.stacked]
    if not free:
        return False
    geoms = np.array([keep[c].cell.geometry for c in free], dtype=object)
    for piece in shapely.get_parts(todo):
        if shapely.area(piece) < 1.0:
            continue  # a sliver from rounding: joins a neighbour later
        count = _count_in(piece, todo_rows, history)
        lo_k, hi_k = bounds.k_range(count)
        if count and lo_k <= hi_k:
            continue
        if count == 0 and shapely.area(piece) < 0.05 * np.median(shapely.area(geoms)):
            continue
        lengths = shared_lengths(np.repeat(piece, len(geoms)), geoms)
        if lengths.max(initial=0.0) <= 0:
            continue
        code = free[int(np.argmax(lengths))]
        history["why"][code] = (
            f"grid {code} was redrawn to absorb {count} households next to "
            f"it that could not form a {bounds.lo}–{bounds.hi} grid alone"
        )
        del keep[code]
        return True
    return False


def _count_in(piece: BaseGeometry, rows: np.ndarray, history: dict[str, Any]) -> int:
    pts = history.get("points")
    if pts is None or len(rows) == 0:
        return 0
    return int(shapely.intersects(piece, pts[rows]).sum())
