"""多格合一: departmental layers in, one unified grid, re-aligned layers, crosswalk and report out.

:func:`merge` is the one entry point (the CLI and the API job call it); :func:`write_merge`
writes its result. Geometries are EPSG:4326 in and out and metres inside.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..errors import InputError, Problem
from ..geo import WGS84, metric_crs
from ..partition import Bounds, PartitionResult, check_partition
from ..partition.areas import areas_to_households
from ..partition.territory import GRID_SIZE
from .adjust import adjust_to_soft
from .diagnose import Thresholds, diagnose_layer
from .layers import build_layers, check_layers
from .overlay import TOLERANCE_M2, area_pairs
from .realign import crosswalk, kept_mask, realign, whole_unit_bound
from .reunite import reunite
from .unify import column, hard_crossings, label_unified, nest_in_hard, run_partition

__all__ = ["MergeResult", "merge"]

log = logging.getLogger(__name__)
EDGE_M = 0.05  # gaps thinner than this on average are snapping seams along edges, not gaps
UNIFIED_COLUMNS = [
    "code",
    "community_code",
    "level",
    "kind",
    "households",
    "residents",
    "floor_lo",
    "floor_hi",
    "flags",
]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The unified grid, each layer re-aligned, the crosswalk, moved households and the report.

    ``assignment`` holds each household's unified grid (household_id, grid_code).
    """

    unified: gpd.GeoDataFrame
    realigned: dict[str, gpd.GeoDataFrame]
    crosswalk: pd.DataFrame
    report: dict[str, Any]
    moved: pd.DataFrame
    assignment: pd.DataFrame


def _households(
    households: gpd.GeoDataFrame | None,
    areas: gpd.GeoDataFrame | None,
    count_field: str | None,
    metric: Any,
    boundary: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    if households is None:
        if areas is None:
            raise InputError(
                Problem("give households or areas with a count field", source="households")
            )
        if not count_field or count_field not in areas.columns:
            raise InputError(
                Problem(
                    f"areas need a count field; got {count_field!r}",
                    source="areas",
                    field=count_field,
                )
            )
        households = areas_to_households(areas, count_field, metric, within=boundary)
    if households.crs is None:
        households = households.set_crs(WGS84)
    return households.to_crs(WGS84).reset_index(drop=True)


def _atoms(hh: gpd.GeoDataFrame) -> np.ndarray:
    """Return each household's atom: its building and stairwell unit, or itself without one."""
    ids = hh["id"].astype(str).to_numpy(dtype=object)
    if "building_id" not in hh.columns:
        return ids
    building = hh["building_id"].astype("string").fillna("").to_numpy(dtype=object)
    unit = hh["unit"].astype("string").fillna("") if "unit" in hh.columns else ""
    keys = (hh["building_id"].astype("string").fillna("") + "/" + unit).to_numpy(dtype=object)
    return np.where(building != "", keys, ids)


def _recount(
    unified: pd.DataFrame,
    part: PartitionResult,
    hh: gpd.GeoDataFrame,
    unified_of: np.ndarray,
    codes: np.ndarray,
) -> tuple[pd.DataFrame, PartitionResult]:
    """Return the unified attributes and the assignment after households changed grids."""
    unified = unified.copy()
    unified["households"] = np.bincount(unified_of[unified_of >= 0], minlength=len(unified))
    if "size" in hh.columns and "residents" in unified.columns:
        size = pd.to_numeric(hh["size"], errors="coerce").fillna(1).to_numpy()
        ok = unified_of >= 0
        unified["residents"] = np.bincount(
            unified_of[ok], weights=size[ok], minlength=len(unified)
        ).astype(int)
    ids = hh["id"].astype(str).to_numpy()
    assignment = part.assignment.copy()
    new_code = pd.Series(np.where(unified_of >= 0, codes[np.maximum(unified_of, 0)], ""), index=ids)
    assignment["grid_code"] = new_code.reindex(assignment["household_id"].astype(str)).to_numpy()
    return unified, PartitionResult(part.grids, part.microgrids, assignment, part.report)


def _coverage(unified: gpd.GeoDataFrame, outline: Any) -> dict[str, Any]:
    """Measure the gaps and overlaps of the unified grids (stacked twins counted once)."""
    geoms = unified.geometry.to_numpy()
    stacked = unified["floor_lo"].notna().to_numpy()
    wkb = shapely.to_wkb(geoms)
    first = ~pd.Series(wkb).duplicated().to_numpy() | ~stacked
    flat = geoms[first]
    union = shapely.union_all(flat, grid_size=GRID_SIZE)
    gaps = shapely.get_parts(shapely.difference(outline, union, grid_size=GRID_SIZE))
    width = 2.0 * shapely.area(gaps) / np.maximum(shapely.length(gaps), 1e-9)
    gaps = gaps[(shapely.area(gaps) > TOLERANCE_M2) & (width > EDGE_M)]
    pairs = area_pairs(flat, flat, min_area=TOLERANCE_M2)
    pairs = pairs[pairs["i"] < pairs["j"]]
    outside = shapely.area(shapely.difference(union, outline, grid_size=GRID_SIZE))
    return {
        "gaps": len(gaps),
        "gap_m2": round(float(shapely.area(gaps).sum()), 2),
        "overlaps": len(pairs),
        "overlap_m2": round(float(pairs["area"].sum()), 2),
        "outside_m2": round(float(outside), 2),
    }


def merge(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame | None,
    layers: gpd.GeoDataFrame,
    *,
    areas: gpd.GeoDataFrame | None = None,
    count_field: str | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    levels: Sequence[Bounds] = (Bounds(30, 50),),
    seed: int = 0,
    budget: float | None = None,
    dedicated: bool = False,
    thresholds: Thresholds = Thresholds(),
    adjust: bool = True,
) -> MergeResult:
    """Merge departmental ``layers`` (kind layer_grids) into one unified grid of the community.

    Hard layers are never crossed unless the bounds force it (reported); soft layers are
    followed where the bounds allow: by the partition (soft barriers), then by moving border
    units between unified grids (``adjust``; see :mod:`gridsvc.merge.adjust`). Raises
    InputError naming the layer or grid on bad input.

    ``levels``, ``seed``, ``budget`` and ``dedicated`` are the partition engine's options, so
    ``merge(..., **engine_options(settings))`` runs it as a partition would
    (:func:`gridsvc.workflows.engine_options`); only the first (base) level is drawn: the unified
    grids are base grids, micro-grids are drawn inside them afterwards. ``budget`` bounds the
    engine's optional exact search in units of deterministic work, so the unified grid depends
    only on the input; the merge's own steps (re-uniting, adjusting) are greedy and always run.
    """
    started = time.perf_counter()
    levels = tuple(levels)[:1]
    if boundary.crs is None:
        boundary = boundary.set_crs(WGS84)
    boundary = boundary.to_crs(WGS84)
    metric = metric_crs(boundary)
    to_wgs = Transformer.from_crs(metric, WGS84, always_xy=True)
    outline = shapely.set_precision(
        shapely.make_valid(shapely.union_all(boundary.to_crs(metric).geometry.to_numpy())),
        GRID_SIZE,
    )
    hh = _households(households, areas, count_field, metric, boundary)
    layer_list = build_layers(check_layers(layers, outline, metric), outline)
    points = hh.to_crs(metric).geometry.to_numpy()
    diagnosis = {
        la.name: diagnose_layer(la.raw, outline, points, to_wgs, thresholds) for la in layer_list
    }
    part = run_partition(
        boundary, hh, layer_list, buildings=buildings, barriers=barriers, levels=levels,
        seed=seed, budget=budget, dedicated=dedicated,
        areas=None if households is not None else areas, count_field=count_field,
    )  # fmt: skip
    grids = part.grids.to_crs(metric).reset_index(drop=True)
    codes = grids["code"].astype(str).to_numpy()
    position = pd.Series(np.arange(len(grids)), index=codes)
    assigned = part.assignment.set_index(part.assignment["household_id"].astype(str))["grid_code"]
    grid_code = assigned.reindex(hh["id"].astype(str)).to_numpy()
    unified_of = position.reindex(grid_code).fillna(-1).astype(int).to_numpy()
    geoms = grids.geometry.to_numpy()
    unified = grids[[c for c in UNIFIED_COLUMNS if c in grids.columns]].copy()
    stacked = unified["floor_lo"].notna().to_numpy()
    labels_of: dict[str, np.ndarray] = {}
    moved_pieces = 0
    for la in layer_list:
        labels_of[la.name], _home = label_unified(geoms, unified_of, points, la)
        if la.hard:
            geoms, n = nest_in_hard(geoms, labels_of[la.name], stacked, points, unified_of, la)
            moved_pieces += n
    hard_layers = [la for la in layer_list if la.hard]
    flags = unified["flags"] if "flags" in unified.columns else pd.Series("", index=unified.index)
    rejoined = reunite(
        geoms,
        unified_of,
        points,
        hard_layers,
        bounds=levels[0],
        fixed=stacked | flags.astype("string").fillna("").str.contains("dedicated").to_numpy(),
        thresholds=thresholds,
    )
    if rejoined.pieces or rejoined.bridges or not rejoined.kept.all():
        geoms, unified_of = rejoined.geoms, rejoined.unified_of
        unified = unified[rejoined.kept].reset_index(drop=True)
        stacked = stacked[rejoined.kept]
        codes = codes[: len(unified)]  # codes stay consecutive where a sliver left
        unified["code"] = codes
        unified, part = _recount(unified, part, hh, unified_of, codes)
        for la in hard_layers:
            labels_of[la.name] = label_unified(geoms, unified_of, points, la)[0]
    atoms = _atoms(hh)
    adjusted = adjust_to_soft(
        geoms,
        unified_of,
        points,
        layer_list if adjust else hard_layers,
        bounds=levels[0],
        stacked=stacked,
        atoms=atoms,
    )
    if adjusted.moves:
        geoms, unified_of = adjusted.geoms, adjusted.unified_of
        unified, part = _recount(unified, part, hh, unified_of, codes)
    realigned: dict[str, gpd.GeoDataFrame] = {}
    walks: list[pd.DataFrame] = []
    moved: list[pd.DataFrame] = []
    layer_reports: dict[str, dict[str, Any]] = {}
    hard_total = forced_total = 0
    for la in layer_list:
        labels, home = label_unified(geoms, unified_of, points, la)
        if la.hard:  # households decide a grid's hard label, so nesting keeps it
            assert (labels == labels_of[la.name]).all()
        unified[column(la.name)] = labels
        after = np.where(unified_of >= 0, labels[np.maximum(unified_of, 0)], "").astype(object)
        kept, before = kept_mask(la, points, home, after)
        frame = realign(la, gpd.GeoDataFrame(unified, geometry=geoms, crs=metric), labels)
        realigned[la.name] = frame.to_crs(WGS84)
        walks.append(crosswalk(la, frame, before, after))
        change = np.flatnonzero(~kept)
        left = before[~kept[before["h"].to_numpy()]].sort_values(["h", "grid_id"])
        was = left.groupby("h")["grid_id"].agg(";".join)
        moved.append(
            pd.DataFrame(
                {
                    "household_id": hh["id"].astype(str).to_numpy()[change],
                    "layer": la.name,
                    "before": was.reindex(change).fillna("").to_numpy(),
                    "after": after[change],
                }
            )
        )
        crossings = (
            hard_crossings(geoms, codes, unified_of, home, la, levels[0].lo) if la.hard else []
        )
        hard_total += sum(not c["forced"] for c in crossings)
        forced_total += sum(c["forced"] for c in crossings)
        layer_reports[la.name] = {
            "department": la.department,
            "policy": la.policy,
            "grids": len(la.raw),
            "share_households_unchanged": round(float(kept.mean()) if len(kept) else 1.0, 4),
            "households_changed": int((~kept).sum()),
            "reachable_with_whole_units": None if la.hard else whole_unit_bound(before, atoms),
            "grids_without_unified": int((frame["unified"] == "").sum()),
            "hard_crossings": crossings if la.hard else None,
            "diagnosis": diagnosis[la.name],
        }
    cover = _coverage(gpd.GeoDataFrame(unified, geometry=geoms, crs=metric), outline)
    out = gpd.GeoDataFrame(unified, geometry=geoms, crs=metric).to_crs(WGS84)
    checked = PartitionResult(
        out.assign(parent_code=None), part.microgrids.iloc[:0], part.assignment, part.report
    )
    violations = check_partition(boundary, hh, checked, levels[:1], rounded=True)
    totals = part.report["totals"]
    soft: dict[str, float] = {
        n: float(r["share_households_unchanged"])
        for n, r in layer_reports.items()
        if r["policy"] == "soft"
    }
    report = {
        "community": part.report.get("community"),
        "seed": seed,
        "levels": [{"min": b.lo, "max": b.hi} for b in levels],
        "measures": {
            "hard_crossings": hard_total,
            "hard_crossings_forced": forced_total,
            "gaps": cover["gaps"],
            "overlaps": cover["overlaps"],
            "soft_share_unchanged": soft,
            "soft_share_unchanged_min": min(soft.values()) if soft else 1.0,
            "soft_share_reachable_with_whole_units": {
                n: layer_reports[n]["reachable_with_whole_units"]["share"] for n in soft
            },
            "share_within_bounds": totals["share_within_bounds"],
            "unified_grids": len(unified),
            "households": len(hh),
        },
        "unified": {
            **cover,
            "pieces_moved_into_hard_grids": moved_pieces,
            "detached_pieces_bridged": rejoined.bridges,
            "detached_pieces_handed_over": rejoined.pieces,
            "slivers_dissolved": rejoined.slivers,
            "moves_toward_soft_layers": adjusted.moves,
            "violations": violations,
            "infeasible_regions": totals["infeasible_regions"],
            "partition_barrier_crossings": totals["barrier_crossings"],
            "partition_seconds": totals["seconds"],
            "partition_budget": totals["budget"],
            "reproducible": totals["reproducible"],
        },
        "layers": layer_reports,
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info(
        "merged %d layers into %d unified grids in %.1fs",
        len(layer_list),
        len(unified),
        report["seconds"],
    )
    return MergeResult(
        out,
        realigned,
        pd.concat(walks, ignore_index=True),
        report,
        pd.concat(moved, ignore_index=True),
        part.assignment[["household_id", "grid_code"]].reset_index(drop=True),
    )
