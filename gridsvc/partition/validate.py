"""Refuse bad partition input with errors naming the offending records."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, Problem
from .atoms import Bounds

__all__ = ["validate_inputs"]

TOLERANCE_M = 1.0  # households this close outside the boundary still count as inside


def _ids(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    if "id" in frame.columns:
        return [str(v) for v in frame["id"].to_numpy()[rows]]
    return [str(i) for i in frame.index.to_numpy()[rows]]


def _bounds_problems(levels: Sequence[Bounds]) -> list[Problem]:
    problems = []
    if not levels:
        problems.append(Problem("no grid levels given; pass at least one Bounds(min, max)"))
    for i, b in enumerate(levels, start=1):
        if b.lo > b.hi:
            problems.append(
                Problem(f"level {i} bounds min {b.lo} > max {b.hi}; set min <= max", field="min")
            )
        if b.hi < 1 or b.lo < 0:
            problems.append(
                Problem(f"level {i} bounds {b.lo}–{b.hi} must be positive", field="max")
            )
    return problems


def validate_inputs(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
    levels: Sequence[Bounds],
    metric: object,
) -> tuple[BaseGeometry, gpd.GeoDataFrame]:
    """Raise InputError listing every problem with the boundary, households, buildings, bounds.

    Return the boundary's polygon and the households in ``metric``, projected once here for
    the engine to go on with.
    """
    problems = _bounds_problems(levels)
    if len(boundary) != 1:
        problems.append(
            Problem(
                f"the boundary must be one community, got {len(boundary)} rows", source="boundary"
            )
        )
        raise InputError(problems)
    geom = boundary.geometry.iloc[0]
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        kind = "empty" if geom is None or geom.is_empty else geom.geom_type
        problems.append(
            Problem(
                f"the boundary is {kind}; a community needs a Polygon or MultiPolygon",
                source="boundary",
                feature=0,
            )
        )
        raise InputError(problems)
    if households is None or len(households) == 0:
        problems.append(
            Problem(
                "the community has no households; give households or areas with a count field",
                source="households",
            )
        )
        raise InputError(problems)
    outline = boundary.to_crs(metric).geometry.iloc[0]
    projected = households.to_crs(metric)
    pts = projected.geometry.to_numpy()
    shapely.prepare(outline)
    far = np.flatnonzero(~shapely.covers(outline, pts))  # only points outside are measured
    dist = shapely.distance(pts[far], outline)
    far, dist = far[dist > TOLERANCE_M], dist[dist > TOLERANCE_M]
    for hid, d in zip(_ids(households, far), dist, strict=True):
        problems.append(
            Problem(
                f"household {hid} lies {d:.0f} m outside the community "
                "boundary; check its CRS and community",
                source="households",
                feature=hid,
            )
        )
    if buildings is not None and len(buildings) and "building_id" in households.columns:
        problems += _building_problems(households, buildings)
    if problems:
        raise InputError(problems)
    return outline, projected


def _building_problems(households: pd.DataFrame, buildings: pd.DataFrame) -> list[Problem]:
    """Return the households referring to unknown buildings, or to floors and units their
    building does not have."""
    known = pd.Index(buildings["id"].astype(str).to_numpy())
    first = ~known.duplicated()
    known = known[first]
    refs = households["building_id"].astype("string")
    where = known.get_indexer(pd.Index(refs.fillna("")))  # -1: unknown
    where[refs.isna().to_numpy()] = -1
    problems = []
    unknown = np.flatnonzero(refs.notna().to_numpy() & (where < 0))
    for hid, ref in zip(_ids(households, unknown), refs.to_numpy()[unknown], strict=True):
        problems.append(
            Problem(
                f"household {hid} refers to unknown building {str(ref)!r}",
                source="households",
                feature=hid,
                field="building_id",
            )
        )
    checks = (("floor", "is on floor", "floors"), ("unit", "is in unit", "units"))
    for column, verb, noun in checks:
        if noun not in buildings.columns or column not in households.columns:
            continue  # buildings without a floor or unit count: nothing to check
        limit = _numbers(buildings[noun])[first]
        value = _numbers(households[column])
        at = np.where(where >= 0, where, 0)
        # a missing value is no problem; a missing count only rules out values below 1 (NaN
        # compares False)
        bad = np.flatnonzero((where >= 0) & ((value < 1) | (value > limit[at])))
        for hid, i in zip(_ids(households, bad), bad.tolist(), strict=True):
            has = limit[where[i]]
            said = f"household {hid} {verb} {int(value[i])}"
            if np.isnan(has):  # the count is missing: only a value below 1 was wrong
                said += f"; {noun} start at 1"
            else:
                said += f" but building {known[where[i]]} has {int(has)} {noun}"
            problems.append(
                Problem(
                    said,
                    source="households",
                    feature=str(hid),
                    field=column,
                )
            )
    return problems


def _numbers(column: pd.Series) -> np.ndarray:
    """Return ``column`` as floats, NaN where missing or not a number."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
