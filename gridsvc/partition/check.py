"""The one validator of a partition: rules 1–5 of the partition issue.

1. every household in exactly one base grid and one grid of every deeper level, and its point
   inside (covered by) that grid's polygon, within ``INSIDE_TOL``. In areas mode the households
   are the points standing for each area's count, spread inside the area (see :mod:`.areas`),
   and an area's territory is its own polygon (see :mod:`.area_cells`): there the rule says
   every area, and every strip of a split area, lies in its grid;
2. every grid within its level's bounds, unless flagged ``exception`` (proved infeasible) or
   ``locked`` (kept as the planner left it);
3. no stairwell unit split, unless it alone exceeds the upper bound and the split is stacked
   (a building without units, or an area, may be split on the ground when over the bound);
4. (compactness is reported, not enforced);
5. the non-stacked grids of each level tile their parent (the community for base grids): union
   equal within tolerance, no overlaps, each grid one connected polygon; and each lies within
   its parent, overlapping no grid of another parent (so the micro-grids of the whole community
   never overlap).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..geo import WGS84, metric_crs
from .atoms import Bounds
from .territory import GRID_SIZE

__all__ = ["check_partition"]

AREA_TOL = 1.0  # m² of stray part (or of overlap, in rounded grids) tolerated
# m² two of the engine's grids may share: float noise of the exact cuts that settle overlaps
# (overlaps.settle_overlaps; measured under 2e-6 m² on 1500 random communities and the
# fixtures, down from 0.28 m²)
OVERLAP_TOL = 1e-4
EDGE_TOL = 0.01  # m: gaps along the outline up to this wide (snapping to 1 cm) are tolerated
# m: a household this close to its grid counts as inside; polygons are snapped to GRID_SIZE
# (1 cm), which moves an edge by up to 7 mm (hypothesis found a household under 5 mm out)
INSIDE_TOL = GRID_SIZE


def _tiles(
    parent: shapely.Geometry, geoms: np.ndarray, codes: list[str], what: str, overlap_tol: float
) -> list[str]:
    problems = []
    if len(geoms) == 0:
        return [f"{what}: no grids cover it"]
    union = shapely.union_all(geoms)
    tol = AREA_TOL + EDGE_TOL * shapely.length(parent) + 1e-6 * shapely.area(parent)
    gap = shapely.area(shapely.difference(parent, union))
    extra = shapely.area(shapely.difference(union, parent))
    if gap > tol:
        problems.append(f"{what}: grids leave {gap:.1f} m² uncovered")
    if extra > tol:
        problems.append(f"{what}: grids reach {extra:.1f} m² beyond it")
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    overlap = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    for i in np.flatnonzero(overlap > overlap_tol):
        problems.append(f"grids {codes[a[i]]} and {codes[b[i]]} overlap by {overlap[i]:.4g} m²")
    for g, code in zip(geoms, codes, strict=True):
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"grid {code} is a {g.geom_type}, not a polygon")
        parts = shapely.get_parts(g)
        if (shapely.area(parts) > AREA_TOL).sum() > 1:
            problems.append(f"grid {code} is not one connected polygon ({len(parts)} parts)")
    return problems


def _nested(level: gpd.GeoDataFrame, geom_of: dict, overlap_tol: float) -> list[str]:
    """Return the non-stacked grids of one deeper ``level`` that reach beyond their parent's
    polygon, or overlap a grid of another parent, by more than ``overlap_tol`` m² (siblings'
    overlaps are :func:`_tiles`'). Its tolerance for reaching beyond, a centimetre along the
    outline, would let a micro-grid keep a sliver cut out of its parent (0.43 m² in 禹都)."""
    problems = []
    geoms = level.geometry.to_numpy()
    codes = level["code"].astype(str).to_numpy()
    parents = level["parent_code"].astype(str).to_numpy()
    outside = shapely.area(
        shapely.difference(geoms, np.array([geom_of[p] for p in parents], dtype=object))
    )
    for i in np.flatnonzero(outside > overlap_tol):
        problems.append(
            f"grid {codes[i]} reaches {outside[i]:.4g} m² beyond its parent {parents[i]}"
        )
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (a < b) & (parents[a] != parents[b])
    a, b = a[keep], b[keep]
    overlap = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    for i in np.flatnonzero(overlap > overlap_tol):
        problems.append(f"grids {codes[a[i]]} and {codes[b[i]]} overlap by {overlap[i]:.4g} m²")
    return problems


def _units(hh: pd.DataFrame, codes: np.ndarray, grids: pd.DataFrame, b: Bounds, lvl: int) -> list:
    stacked = set(grids.loc[grids["floor_lo"].notna(), "code"].astype(str))
    frame = pd.DataFrame(
        {
            "b": hh["building_id"].astype("string").to_numpy() if "building_id" in hh else None,
            "u": pd.to_numeric(hh["unit"], errors="coerce").to_numpy() if "unit" in hh else np.nan,
            "g": codes,
        }
    ).dropna(subset=["b"])
    problems = []
    for (bid, unit), group in frame.groupby(["b", "u"], dropna=False):
        used = set(group["g"])
        if len(used) <= 1:
            continue
        plain = used - stacked
        no_unit = unit is None or unit != unit  # a house or an area (NaN unit)
        if len(group) <= b.hi or (len(plain) > 1 and not no_unit):
            problems.append(
                f"level {lvl}: unit {unit} of building {bid} ({len(group)} households)"
                f" is split between grids {', '.join(sorted(used))}"
            )
    return problems


def _inside(points: np.ndarray, ids: pd.Index, codes: np.ndarray, grids: gpd.GeoDataFrame) -> list:
    """Return a problem if some household point lies outside its grid's polygon."""
    geom_of = dict(zip(grids["code"].astype(str), grids.geometry, strict=True))
    known = np.array([c in geom_of for c in codes], dtype=bool)
    geoms = np.array([geom_of[c] for c in codes[known]], dtype=object)
    gap = shapely.distance(geoms, points[known])
    far = np.flatnonzero(gap > INSIDE_TOL)
    if not len(far):
        return []
    worst = far[np.argsort(-gap[far], kind="stable")][:5]
    shown = ", ".join(
        f"{ids[known][i]} ({gap[i]:.2f} m from {codes[known][i]})" for i in worst.tolist()
    )
    return [f"{len(far)} households are not covered by their grid's polygon, e.g. {shown}"]


def check_partition(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    result: object,
    levels: Sequence[Bounds],
    *,
    rounded: bool = False,
) -> list[str]:
    """Return every violation of rules 1–5 by ``result`` (empty when the partition is valid).

    Grids the engine drew may overlap by float noise only (``OVERLAP_TOL``). ``rounded``: the
    grids were rounded or snapped one by one (edited grids live on GeoJSON's 7-decimal grid,
    merged ones are snapped to other departments' lines): a vertex then moves up to 8 mm off
    its neighbour's edge, and overlaps up to ``AREA_TOL`` are tolerated (the engine's grids
    rounded to 7 decimals overlapped by up to 0.18 m², Baltimore's, and 0.15 m² on 1500
    random communities; edited grids' edges may be longer)."""
    grids: gpd.GeoDataFrame = result.grids  # type: ignore[attr-defined]
    micro: gpd.GeoDataFrame = result.microgrids  # type: ignore[attr-defined]
    assignment: pd.DataFrame = result.assignment  # type: ignore[attr-defined]
    every = pd.concat([grids, micro], ignore_index=True)
    every = gpd.GeoDataFrame(every, geometry="geometry", crs=grids.crs or WGS84)
    crs = metric_crs(boundary)
    metric = every.to_crs(crs)
    points = households.to_crs(crs).geometry.to_numpy()
    problems: list[str] = []
    ids = households["id"].astype(str) if "id" in households else households.index.astype(str)
    counts = assignment["household_id"].astype(str).value_counts()
    missing = sorted(set(ids) - set(counts.index))
    twice = counts[counts > 1].index.tolist()
    if missing:
        problems.append(f"{len(missing)} households in no grid, e.g. {', '.join(missing[:5])}")
    if twice:
        problems.append(f"{len(twice)} households assigned twice, e.g. {', '.join(twice[:5])}")
    a = assignment.set_index(assignment["household_id"].astype(str)).reindex(ids)
    chain = {
        str(c): (None if pd.isna(p) else str(p))
        for c, p in zip(every["code"], every["parent_code"], strict=True)
    }
    columns = [f"level{d}_code" for d in range(1, len(levels) + 1)]
    if "level1_code" not in a:
        columns = ["grid_code", "microgrid_code"][: len(levels)]
    for depth, (col, b) in enumerate(zip(columns, levels, strict=True), start=1):
        codes = a[col].fillna("").astype(str).to_numpy()
        level_grids = every[every["level"] == depth]
        unknown = sorted(set(codes) - set(level_grids["code"].astype(str)))
        if unknown:
            problems.append(f"level {depth}: households assigned to unknown grids {unknown[:5]}")
        if depth > 1:
            up = a[columns[depth - 2]].fillna("").astype(str).to_numpy()
            bad = [c for c, p in zip(codes, up, strict=True) if chain.get(c) != p]
            if bad:
                problems.append(
                    f"level {depth}: {len(bad)} households in a grid whose parent "
                    "is not their level-{depth - 1} grid"
                )
        held = pd.Series(codes).value_counts()
        for r in level_grids.itertuples():
            n = int(held.get(str(r.code), 0))
            if n != int(r.households):
                problems.append(f"grid {r.code} says {r.households} households but holds {n}")
            flags = str(getattr(r, "flags", "") or "")
            excused = "exception" in flags or "locked" in flags or "dedicated" in flags
            counted = n or (depth == 1 and "empty" not in flags)
            if not b.lo <= n <= b.hi and not excused and counted:
                problems.append(f"grid {r.code} holds {n} households, outside {b.lo}–{b.hi}")
        problems += _units(households, codes, level_grids, b, depth)
        found = _inside(points, pd.Index(ids), codes, metric[metric["level"] == depth])
        problems += [f"level {depth}: {p}" for p in found]
    outline = boundary.to_crs(crs).geometry.iloc[0]
    base = metric[(metric["level"] == 1) & metric["floor_lo"].isna()]
    tol = AREA_TOL if rounded else OVERLAP_TOL
    problems += _tiles(
        outline, base.geometry.to_numpy(), base["code"].astype(str).tolist(), "the community", tol
    )
    geom_of = dict(zip(metric["code"].astype(str), metric.geometry, strict=True))
    deeper = metric[(metric["level"] > 1) & metric["floor_lo"].isna()]
    for parent, kids in deeper.groupby("parent_code"):
        problems += _tiles(
            geom_of[str(parent)],
            kids.geometry.to_numpy(),
            kids["code"].astype(str).tolist(),
            f"grid {parent}",
            tol,
        )
    for _, level in deeper.groupby("level"):
        problems += _nested(level, geom_of, tol)
    return problems
