"""Refuse bad partition input with errors naming the offending records."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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
) -> None:
    """Raise InputError listing every problem with the boundary, households, buildings, bounds."""
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
    pts = households.to_crs(metric).geometry.to_numpy()
    far = shapely.distance(pts, outline) > TOLERANCE_M
    for hid, dist in zip(
        _ids(households, np.flatnonzero(far)), shapely.distance(pts[far], outline), strict=True
    ):
        problems.append(
            Problem(
                f"household {hid} lies {dist:.0f} m outside the community "
                "boundary; check its CRS and community",
                source="households",
                feature=hid,
            )
        )
    if buildings is not None and len(buildings) and "building_id" in households.columns:
        known = set(buildings["id"].astype(str))
        refs = households["building_id"]
        unknown = refs.notna() & ~refs.astype("string").isin(known)
        for hid, ref in zip(
            _ids(households, np.flatnonzero(unknown.to_numpy())),
            refs[unknown].astype(str),
            strict=True,
        ):
            problems.append(
                Problem(
                    f"household {hid} refers to unknown building {ref!r}",
                    source="households",
                    feature=hid,
                    field="building_id",
                )
            )
        problems += _floor_problems(households, buildings)
    if problems:
        raise InputError(problems)


def _floor_problems(households: pd.DataFrame, buildings: pd.DataFrame) -> list[Problem]:
    info = buildings.assign(id=buildings["id"].astype(str)).set_index("id")
    frame = pd.DataFrame(
        {
            "hid": _ids(households, np.arange(len(households))),
            "b": households["building_id"].astype("string"),
            "unit": pd.to_numeric(households["unit"], errors="coerce"),
            "floor": pd.to_numeric(households["floor"], errors="coerce"),
        }
    )
    frame = frame[frame["b"].isin(info.index)]
    problems = []
    checks = (("floor", "is on floor", "floors"), ("unit", "is in unit", "units"))
    for column, verb, noun in checks:
        if noun not in info.columns:  # buildings without a floor or unit count: nothing to check
            continue
        limit = pd.to_numeric(frame["b"].map(info[noun]), errors="coerce")
        bad = ((frame[column] < 1) | (frame[column] > limit)).fillna(False).to_numpy()
        for hid, b, value in zip(
            frame["hid"].to_numpy()[bad],
            frame["b"].to_numpy()[bad],
            frame[column].to_numpy()[bad],
            strict=True,
        ):
            has = int(str(info.at[b, noun]))
            problems.append(
                Problem(
                    f"household {hid} {verb} {int(value)} but building {b} has {has} {noun}",
                    source="households",
                    feature=str(hid),
                    field=column,
                )
            )
    return problems
