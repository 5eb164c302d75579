"""The partition entry point: a community and its households in, nested grids and a report out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..errors import InputError, Problem
from ..geo import WGS84, metric_crs
from .areas import areas_to_households
from .atoms import AtomColumns, Bounds, build_atoms
from .budget import Budget
from .codes import measures, number
from .coverage import Known
from .level import Cell, Note, inherit, partition_level
from .overlaps import fit_to
from .sites import site_footprints
from .territory import GRID_SIZE, Territory, attach_orphans
from .validate import validate_inputs

__all__ = ["Node", "PartitionResult", "partition"]

log = logging.getLogger(__name__)
SLIVER_M2 = 1.0  # leftover pieces this small (from rounding) are dropped


@dataclass(slots=True)
class Node:
    """A grid of some level with its code and parent, geometry in metres."""

    cell: Cell
    level: int
    code: str = ""
    parent: str | None = None
    original: Any = None  # the WGS 84 geometry of a kept grid, returned unchanged


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """Grids (level 1), micro-grids (levels 2+), household assignment and the report."""

    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    assignment: pd.DataFrame
    report: dict[str, Any]


def _barrier_geoms(barriers: gpd.GeoDataFrame | None, crs: Any) -> np.ndarray | None:
    if barriers is None or len(barriers) == 0:
        return None
    return barriers.to_crs(crs).geometry.to_numpy()


def _compounds(buildings: gpd.GeoDataFrame | None) -> pd.Series | None:
    if buildings is None or len(buildings) == 0 or "compound" not in buildings.columns:
        return None
    return pd.Series(
        buildings["compound"].fillna("").astype(str).to_numpy(),
        index=buildings["id"].astype(str).to_numpy(),
    )


def partition(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame | None = None,
    *,
    areas: gpd.GeoDataFrame | None = None,
    count_field: str | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    soft_barriers: gpd.GeoDataFrame | None = None,
    levels: Sequence[Bounds] = (Bounds(30, 50), Bounds(1, 15)),
    seed: int = 0,
    existing: gpd.GeoDataFrame | None = None,
    locked: Collection[str] = (),
    budget: float | None = None,
    dedicated: bool = False,
) -> PartitionResult:
    """Partition a community into nested grids within ``levels`` bounds (EPSG:4326 in and out).

    The method is deterministic; ``seed`` is accepted for the interface and recorded.
    ``soft_barriers`` (lines or polygons, e.g. other departments' grids) are followed where the
    bounds allow: cutting along them is cheap, crossing them is allowed and not reported.
    ``budget`` bounds the optional search (exact solvers, ReCom repair) for this community in
    units of deterministic work (see :mod:`.budget`; None: unlimited), so the plan does not
    depend on the machine's speed or load; once it is spent the heuristic's plans stand and
    misses not proved unavoidable are reported as "not proved". A solver call stopped by the
    last-resort wall-clock cap makes the report's ``totals.reproducible`` false.
    ``dedicated`` turns non-residential sites (buildings whose ``use`` is school, market,
    enterprise or hospital, or with a truthy ``dedicated`` column) into dedicated (专属) grids
    of kind "dedicated", outside the household bounds.
    """
    started = time.perf_counter()
    levels = tuple(levels)
    shapes = None
    if boundary.crs is None:
        boundary = boundary.set_crs(WGS84)
    crs = metric_crs(boundary)
    if areas is not None:
        if not count_field or count_field not in areas.columns:
            raise InputError(
                Problem(
                    f"areas need a count field; got {count_field!r}, columns "
                    f"are {', '.join(map(str, areas.columns))}",
                    source="areas",
                    field=count_field,
                )
            )
        households = areas_to_households(areas, count_field, crs, within=boundary)
        shapes = shapely.set_precision(areas.to_crs(crs).geometry.to_numpy(), GRID_SIZE)
    outline, hh = validate_inputs(boundary, households, buildings, levels, crs)
    code = str(boundary["code"].iloc[0]) if "code" in boundary.columns else "000000000000"
    to_wgs = Transformer.from_crs(crs, WGS84, always_xy=True)
    hh = hh.reset_index(drop=True)
    hh = hh.assign(
        **{c: hh[c] if c in hh.columns else None for c in ("building_id", "unit", "floor", "size")}
    )
    xy = shapely.get_coordinates(hh.geometry.to_numpy())
    area_of = None if shapes is None else hh["area"].to_numpy(dtype=np.int64)

    def lots(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the areas of household ``rows`` and every area's polygon (areas mode)."""
        return None if area_of is None or shapes is None else (area_of[rows], shapes)

    lines = _barrier_geoms(barriers, crs)
    soft = _barrier_geoms(soft_barriers, crs)
    compounds = _compounds(buildings)
    sites = site_footprints(buildings.to_crs(crs)) if dedicated and buildings is not None else None
    notes: list[Note] = []
    work = Budget(budget)
    from .existing import keep_existing

    kept, frozen, todo_outline, todo_rows, history = keep_existing(
        existing, locked, outline, hh, xy, levels, crs, code
    )
    nodes: list[Node] = list(kept)
    fresh = _fresh_grids(
        todo_outline,
        todo_rows,
        hh,
        xy,
        levels[0],
        lines,
        compounds,
        to_wgs,
        notes,
        kept=[n for n in kept if n.level == 1],
        soft=soft,
        budget=work,
        sites=sites,
        areas=lots,
        below=len(levels) > 1,
    )
    _code_families([(code, fresh)], 1, taken=history["taken"])
    nodes += fresh
    all_nodes = list(nodes)
    frontier = [n for n in nodes if n.level == 1 and n.code not in frozen]
    for depth, bounds in enumerate(levels[1:], start=2):
        children: list[Node] = []
        families: list[tuple[str, list[Node]]] = []  # each parent's code and children
        atoms = _level_atoms(frontier, hh, xy, bounds, compounds)
        crossing = _barriers_within([n.cell.geometry for n in frontier], lines)
        for parent, inside in zip(frontier, crossing, strict=True):
            rows = parent.cell.members
            mine = atoms.restrict(rows)
            tiles = parent.cell.tiles
            cells = _children(
                parent.cell.geometry,
                xy[rows],
                bounds,
                inside,
                compounds,
                to_wgs,
                mine,
                None if tiles is None else inherit(tiles, mine),
                areas=lots(rows),
                budget=work,
                below=depth < len(levels),
            )
            kids = []
            for c in cells:
                c.members = rows[c.members]
                if parent.cell.stacked:
                    c.stacked = True
                    c.floor_lo = c.floor_lo if c.floor_lo is not None else parent.cell.floor_lo
                    c.floor_hi = c.floor_hi if c.floor_hi is not None else parent.cell.floor_hi
                kids.append(Node(c, depth, parent=parent.code))
            families.append((parent.code, kids))
            children += kids
        _code_families(families, depth)
        all_nodes += children
        frontier = [
            n for n in children + [k for k in kept if k.level == depth] if n.code not in frozen
        ]
    from .report import build_result

    result = build_result(
        all_nodes,
        hh,
        code,
        crs,
        levels,
        notes,
        history,
        seconds=time.perf_counter() - started,
        seed=seed,
        kind="rural" if _is_rural(boundary) else "community",
    )
    result.report["totals"]["budget"] = work.report()
    result.report["totals"]["reproducible"] = work.wall_capped == 0
    return result


def _fresh_grids(
    todo: Any,
    rows: np.ndarray,
    hh: gpd.GeoDataFrame,
    xy: np.ndarray,
    bounds: Bounds,
    lines: np.ndarray | None,
    compounds: pd.Series | None,
    to_wgs: Transformer,
    notes: list[Note],
    kept: list[Node],
    soft: np.ndarray | None = None,
    budget: Budget | None = None,
    sites: np.ndarray | None = None,
    areas: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None = None,
    below: bool = True,
) -> list[Node]:
    """Partition the territory no kept grid covers; empty pieces join kept grids if they can.
    ``below``: a level below will partition the grids."""
    if todo is None or shapely.area(todo) <= SLIVER_M2:
        return []
    pieces = shapely.get_parts(todo)
    pieces = pieces[shapely.area(pieces) > SLIVER_M2]
    if len(pieces) == 0:
        return []
    cells: list[Cell] = []
    if len(rows):
        outline = shapely.union_all(pieces, grid_size=GRID_SIZE)
        cells = partition_level(
            outline,
            hh.iloc[rows],
            xy[rows],
            bounds,
            barriers=lines,
            compounds=compounds,
            to_wgs=to_wgs,
            notes=notes,
            soft_barriers=soft,
            budget=budget,
            sites=sites,
            areas=None if areas is None else areas(rows),
            below=below,
        )
        for c in cells:
            c.members = rows[c.members]
    else:
        cells = [Cell(p, rows[:0], flags=["empty"]) for p in pieces]
    empty = [
        c for c in cells if not len(c.members) and c.floor_lo is None and "dedicated" not in c.flags
    ]
    hosts = [n for n in kept if "locked" not in n.cell.flags and not n.cell.stacked]
    if empty and hosts:
        grown, left = attach_orphans(
            [n.cell.geometry for n in hosts], np.array([c.geometry for c in empty], dtype=object)
        )
        for n, g in zip(hosts, grown, strict=True):
            if g is not n.cell.geometry:
                n.cell.geometry, n.original = g, None
        gone = {id(empty[i]) for i in range(len(empty)) if i not in left}
        cells = [c for c in cells if id(c) not in gone]
    return [Node(c, 1) for c in cells]


def _children(
    outline: Any,
    xy: np.ndarray,
    bounds: Bounds,
    barriers: np.ndarray | None,
    compounds: pd.Series | None,
    to_wgs: Transformer,
    atoms: AtomColumns,
    inherited: tuple[Territory, Known | None] | None,
    *,
    areas: tuple[np.ndarray, np.ndarray] | None = None,
    budget: Budget | None = None,
    below: bool = True,
) -> list[Cell]:
    """Partition a grid one level down on its inherited tiles (``inherited``: their territory
    and borders, see :func:`.level.inherit`), or tessellated again when there are none or a
    child drawn on them would not be one polygon. ``budget`` is the community's: what the
    levels above left of it. ``below``: yet another level will partition the cells.

    The cells are fitted to ``outline``, the grid's final polygon (see :func:`.overlaps.fit_to`):
    its tiles, or its areas cut again on the 1 cm grid, are not quite that polygon."""
    for got in (inherited, None) if inherited is not None else (None,):
        terr, known = (None, None) if got is None else got
        cells = partition_level(
            outline, None, xy, bounds, barriers=barriers, compounds=compounds, to_wgs=to_wgs,
            notes=[], atoms=atoms, territory=terr, known=known, areas=areas, budget=budget,
            below=below,
        )  # fmt: skip
        if terr is None or all(shapely.get_type_id(c.geometry) == 3 for c in cells):
            break
    geoms = np.array([c.geometry for c in cells], dtype=object)
    fitted = fit_to(outline, geoms, np.array([not c.stacked for c in cells]))
    for cell, geom in zip(cells, fitted, strict=True):
        cell.geometry = geom
    return cells


def _level_atoms(
    parents: list[Node],
    hh: gpd.GeoDataFrame,
    xy: np.ndarray,
    bounds: Bounds,
    compounds: pd.Series | None,
) -> AtomColumns:
    """Build the atoms of every parent's households in one pass, none spanning two parents."""
    group = np.full(len(hh), -1, dtype=np.int64)
    for i, parent in enumerate(parents):
        group[parent.cell.members] = i
    return build_atoms(hh, xy, bounds, compounds=compounds, group=group).columns()


def _barriers_within(geoms: list[Any], lines: np.ndarray | None) -> list[np.ndarray | None]:
    """Return, per grid, the barriers that cross its interior (micro-grids follow them)."""
    if lines is None or len(lines) == 0 or not geoms:
        return [None] * len(geoms)
    grid, line = shapely.STRtree(lines).query(np.array(geoms, dtype=object), predicate="intersects")
    out: list[np.ndarray | None] = [None] * len(geoms)
    for g in np.unique(grid).tolist():
        out[g] = lines[line[grid == g]]
    return out


def _is_rural(boundary: gpd.GeoDataFrame) -> bool:
    return "level" in boundary.columns and str(boundary["level"].iloc[0]) == "village"


def _code_families(
    families: list[tuple[str, list[Node]]], level: int, taken: Sequence[str] = ()
) -> None:
    """Code the grids of ``level`` under each parent (``families``: the parent's code, or the
    community's for base grids, and its grids), skipping ``taken`` codes; the geometry
    measures of all of them are found at once."""
    geoms = np.array([n.cell.geometry for _, kids in families for n in kids], dtype=object)
    centre, area = measures(geoms)
    start = 0
    for parent, kids in families:
        mine = slice(start, start + len(kids))
        start += len(kids)
        floors = np.array([np.nan if n.cell.floor_lo is None else n.cell.floor_lo for n in kids])
        codes = number(
            geoms[mine],
            floors,
            parent=parent,
            level=level,
            taken=taken,
            measured=(centre[mine], area[mine]),
        )
        for n, c in zip(kids, codes, strict=True):
            n.code, n.parent = c, parent if level > 1 else None
