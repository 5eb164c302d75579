"""Per-grid workload: households, residents and monthly visits of care households."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc.domain import VisitCadence

__all__ = ["VISITS_PER_MONTH", "attach_beats", "grid_workload"]

log = logging.getLogger(__name__)

VISITS_PER_MONTH: dict[str, float] = {c.value: c.visits_per_month for c in VisitCadence}


def grid_workload(
    grids: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame | None = None,
    *,
    assignment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return per grid: households, residents, monthly visits and care households.

    Households are matched to grids by a ``grid_code`` column, else by ``assignment``
    (household_id → grid_code, as the partition engine returns it), else by location (points
    within grid polygons; stacked grids sharing a footprint need one of the first two).
    Without households the grids' own ``households``/``residents`` columns are used, visits 0.
    """
    out = pd.DataFrame(
        {
            "grid_code": grids["code"].astype(str).to_numpy(),
            "community_code": grids["community_code"].astype(str).to_numpy(),
            "households": _int(grids, "households"),
            "residents": _int(grids, "residents"),
            "visits": 0.0,
            "care_households": 0,
        }
    )
    if households is None or households.empty:
        return out
    codes = _grid_of(grids, households, assignment)
    hh = pd.DataFrame(
        {
            "grid_code": codes,
            "size": pd.to_numeric(households.get("size", 1), errors="coerce"),
            "cadence": households.get("visit_cadence", "none"),
        }
    )
    hh["size"] = hh["size"].fillna(1).astype(float)
    cadence = hh["cadence"].astype(object).where(hh["cadence"].notna(), "none").astype(str)
    hh["visits"] = cadence.map(VISITS_PER_MONTH).fillna(0.0)
    hh["care"] = (hh["visits"] > 0).astype(int)
    sums = (
        hh.dropna(subset=["grid_code"])
        .groupby("grid_code")
        .agg(
            households=("size", "size"),
            residents=("size", "sum"),
            visits=("visits", "sum"),
            care_households=("care", "sum"),
        )
    )
    idx = out["grid_code"]
    found = idx.isin(sums.index).to_numpy()
    for col in ("households", "residents", "care_households"):
        out.loc[found, col] = sums.loc[idx[found], col].to_numpy().astype(int)
    out.loc[found, "visits"] = sums.loc[idx[found], "visits"].to_numpy().round(1)
    return out


def _int(grids: gpd.GeoDataFrame, col: str) -> np.ndarray:
    if col not in grids:
        return np.zeros(len(grids), dtype=int)
    return pd.to_numeric(grids[col], errors="coerce").fillna(0).astype(int).to_numpy()


def _grid_of(
    grids: gpd.GeoDataFrame, households: gpd.GeoDataFrame, assignment: pd.DataFrame | None
) -> pd.Series:
    if "grid_code" in households:
        return households["grid_code"].astype("string").reset_index(drop=True)
    if assignment is not None:
        lookup = assignment.drop_duplicates("household_id").set_index("household_id")["grid_code"]
        return households["id"].map(lookup).astype("string").reset_index(drop=True)
    joined = gpd.sjoin(
        households[["geometry"]].to_crs(grids.crs), grids[["code", "geometry"]], predicate="within"
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["code"].reindex(households.index).astype("string").reset_index(drop=True)


def attach_beats(grids: gpd.GeoDataFrame, layer_grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``grids`` with a ``police_beat`` column: the police beat covering most of each.

    A grid takes the beat (police-layer grid) it overlaps most, else the nearest beat.
    """
    beats = layer_grids[layer_grids["layer"] == "police"][["grid_id", "geometry"]]
    out = grids.copy()
    if beats.empty:
        out["police_beat"] = ""
        return out
    from gridsvc.geo import metric_crs

    crs = metric_crs(grids)
    mine = grids[["geometry"]].to_crs(crs).reset_index(drop=True)
    theirs = beats.to_crs(crs).reset_index(drop=True)
    pairs = gpd.sjoin(mine, theirs, predicate="intersects")
    area = shapely.area(
        shapely.intersection(
            mine.geometry.values[pairs.index.to_numpy()],
            theirs.geometry.values[pairs["index_right"].to_numpy()],
        )
    )
    pairs = pairs.assign(area=area).sort_values(["area", "grid_id"], ascending=[False, True])
    best = pairs[~pairs.index.duplicated(keep="first")]["grid_id"]
    result = best.reindex(range(len(mine)))
    lost = result.isna().to_numpy()
    if lost.any():
        near = gpd.sjoin_nearest(mine[lost], theirs, how="left")
        near = near[~near.index.duplicated(keep="first")]
        result[lost] = near["grid_id"].reindex(np.flatnonzero(lost)).to_numpy()
    out["police_beat"] = result.fillna("").astype(str).to_numpy()
    log.info("attached %d police beats to %d grids", len(beats), len(grids))
    return out
