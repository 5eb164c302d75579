"""Build one benchmark workload per community: the atoms and the adjacency graph every method sees.

Atoms and graph come from gridsvc.partition's own functions, called as the engine's base level
calls them (validate_inputs, build_atoms, level.level_territory, level.level_graph) when they
import, so the engine and its peers partition exactly the same pieces: one cell per ground atom
(stairwell unit) holding its households, then the empty blocks as cells holding nobody (the
engine's regions connect through them, so every method gets them).
Otherwise a small fallback is used: households grouped by (building_id, unit), a point and a
count each, cells = Voronoi of the points clipped to the boundary, edges = cells sharing a border.
Areal inputs (census blocks with a household count) are atoms as they are; their cells are the
block polygons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["Workload", "areal_workload", "household_workload"]

LO, HI = 30, 50


@dataclass
class Workload:
    """What every method partitions: ground atoms with cells and counts, and their edges.

    ``stacked`` holds the household counts of stacked atoms (upper floor ranges of units above
    the upper bound): they have no territory and are one grid each, for every method alike.
    ``engine`` keeps the raw inputs (WGS 84 frames) for the full gridsvc ``partition`` call;
    ``graph`` and ``xy`` what the engine's planner needs besides (the same edges, their costs,
    the atoms' points) to plan these very atoms (``gridsvc-atoms`` in ``_methods``).
    """

    name: str
    households: int
    counts: np.ndarray
    cells: np.ndarray
    u: np.ndarray
    v: np.ndarray
    stacked: list[int]
    block: np.ndarray  # barrier block of each ground atom (grids spanning two cross a barrier)
    crs: Any
    source: str
    prep_seconds: float
    engine: dict[str, Any] = field(default_factory=dict)
    graph: Any = None  # the gridsvc Graph whose edges are u, v (costs, barriers, borders)
    xy: np.ndarray | None = None  # a point per cell (the engine's atom points)
    empty: int = 0  # the last ``empty`` cells hold nobody (empty blocks; the engine's too)

    @property
    def n_atoms(self) -> int:
        """Return the number of cells every method labels (ground atoms and empty cells)."""
        return len(self.counts)


def _metric(frame: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    return frame.to_crs(crs)


def _metric_crs(frame: gpd.GeoDataFrame) -> Any:
    from gridsvc.geo import metric_crs

    return metric_crs(frame)


def _outline(boundary: gpd.GeoDataFrame, crs: Any) -> Any:
    return shapely.union_all(_metric(boundary, crs).geometry.to_numpy())


def _barrier_geoms(barriers: gpd.GeoDataFrame | None, crs: Any) -> np.ndarray | None:
    if barriers is None or len(barriers) == 0:
        return None
    return _metric(barriers, crs).geometry.to_numpy()


def _rook_edges(cells: np.ndarray, min_shared: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Return pairs of cells that share more than ``min_shared`` metres of border."""
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    common = shapely.intersection(shapely.boundary(cells[a]), shapely.boundary(cells[b]))
    touch = np.asarray(shapely.length(common)) > min_shared
    return a[touch], b[touch]


def _fallback_households(
    households: gpd.GeoDataFrame, outline: Any, crs: Any
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    pts = _metric(households, crs).geometry
    frame = pd.DataFrame(
        {
            "key": np.where(
                households["building_id"].isna().to_numpy(),
                "hh:" + households["id"].astype(str).to_numpy(),
                households["building_id"].astype(str).to_numpy()
                + "|"
                + households["unit"].astype(str).to_numpy(),
            ),
            "x": pts.x.to_numpy(),
            "y": pts.y.to_numpy(),
        }
    )
    grouped = frame.groupby("key", sort=True).agg(x=("x", "mean"), y=("y", "mean"), n=("x", "size"))
    jitter = np.random.default_rng(0).normal(0, 0.01, (len(grouped), 2))
    xy = grouped[["x", "y"]].to_numpy() + jitter
    sites = shapely.multipoints(xy)
    raw = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=outline, ordered=True))
    cells = shapely.intersection(raw, outline)
    return grouped["n"].to_numpy(dtype=np.int64), cells, []


def _engine_households(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    crs: Any,
) -> tuple[np.ndarray, np.ndarray, list[int], Any, np.ndarray, np.ndarray, int]:
    """Return what the engine's base level plans (``partition`` with no existing grids): its
    cells (ground atoms', then empty cells'), households per cell, stacked atoms' households,
    graph, a point per cell, barrier block per cell, and how many of the cells are empty.

    The steps are the engine's own calls in its order (``partition`` → ``_fresh_grids`` →
    ``partition_level``); tests/bench checks the engine plans the same on these cells."""
    from gridsvc.partition.atoms import Bounds, build_atoms
    from gridsvc.partition.engine import SLIVER_M2, _compounds
    from gridsvc.partition.level import level_graph, level_territory
    from gridsvc.partition.territory import GRID_SIZE
    from gridsvc.partition.validate import validate_inputs

    outline, hh = validate_inputs(boundary, households, buildings, (Bounds(LO, HI),), crs)
    pieces = shapely.get_parts(outline)
    outline = shapely.union_all(pieces[shapely.area(pieces) > SLIVER_M2], grid_size=GRID_SIZE)
    hh = hh.reset_index(drop=True)
    hh = hh.assign(
        **{c: hh[c] if c in hh.columns else None for c in ("building_id", "unit", "floor", "size")}
    )
    xy = shapely.get_coordinates(hh.geometry.to_numpy())
    atoms = build_atoms(hh, xy, Bounds(LO, HI), compounds=_compounds(buildings)).columns()
    terr = level_territory(outline, xy, atoms, _barrier_geoms(barriers, crs))
    cells, points, graph = level_graph(terr, atoms)
    counts = np.concatenate(
        [atoms.households[atoms.grounded], np.zeros(len(terr.orphans), dtype=np.int64)]
    ).astype(np.int64)
    stacked = atoms.households[np.flatnonzero(atoms.stacked)].astype(int).tolist()
    block = np.concatenate([terr.cell_block, terr.orphan_block])
    return counts, cells, stacked, graph, points, block, len(terr.orphans)


def household_workload(
    name: str,
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
) -> Workload:
    """Build the workload of a community given as household points."""
    t0 = time.perf_counter()
    crs = _metric_crs(boundary)
    graph, xy, empty = None, None, 0
    try:
        counts, cells, stacked, graph, xy, block, empty = _engine_households(
            boundary, households, buildings, barriers, crs
        )
        u, v = graph.u, graph.v
        source = "gridsvc.partition atoms+graph"
    except ImportError:
        outline = _outline(boundary, crs)
        counts, cells, stacked = _fallback_households(households, outline, crs)
        u, v = _rook_edges(cells)
        block = np.zeros(len(cells), dtype=np.int64)
        source = "bench fallback (unit atoms, Voronoi)"
    return Workload(
        name=name,
        households=len(households),
        counts=counts,
        cells=cells,
        u=np.asarray(u),
        v=np.asarray(v),
        stacked=stacked,
        block=block,
        crs=crs,
        source=source,
        prep_seconds=time.perf_counter() - t0,
        engine={
            "boundary": boundary,
            "households": households,
            "buildings": buildings,
            "barriers": barriers,
        },
        graph=graph,
        xy=xy,
        empty=empty,
    )


def areal_workload(
    name: str, boundary: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, count_field: str
) -> Workload:
    """Build the workload of a community given as areal units with a household count."""
    t0 = time.perf_counter()
    crs = _metric_crs(areas)
    cells = shapely.make_valid(_metric(areas, crs).geometry.to_numpy())
    counts = pd.to_numeric(areas[count_field]).fillna(0).to_numpy(dtype=np.int64)
    graph = None
    try:
        from gridsvc.partition.graph import build_graph

        blank = np.full(len(cells), "", dtype=object)
        graph = build_graph(cells, np.zeros(len(cells), dtype=np.int64), blank, blank)
        u, v = graph.u, graph.v
        source = "block polygons, gridsvc.partition graph"
    except ImportError:
        u, v = _rook_edges(cells)
        source = "block polygons, bench rook adjacency"
    return Workload(
        name=name,
        households=int(counts.sum()),
        counts=counts,
        cells=cells,
        u=np.asarray(u),
        v=np.asarray(v),
        stacked=[],
        block=np.zeros(len(cells), dtype=np.int64),
        crs=crs,
        source=source,
        prep_seconds=time.perf_counter() - t0,
        engine={"boundary": boundary, "areas": areas, "count_field": count_field},
        graph=graph,
        xy=shapely.get_coordinates(shapely.centroid(cells)),
    )
