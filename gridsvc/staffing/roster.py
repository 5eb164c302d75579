"""Roster import: read a workers file, check it for staffing, resolve homes from household ids.

The generic column checks come from :func:`gridsvc.ingest.validate` (kind ``workers``); this
module adds what staffing needs: roles known to the model catalogue, a home location (a point or a
``household_id`` resolved against a households frame), hours >= 0 and a beat for police.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridsvc import frames
from gridsvc.errors import InputError, Problem
from gridsvc.ingest import read_any, validate
from gridsvc.staffing.model import ROLE_ALIASES, ROLES, StaffingModel

__all__ = ["EXTRA_COLUMNS", "POLICE_ROLES", "check_roster", "load_roster", "split_roles"]

log = logging.getLogger(__name__)

EXTRA_COLUMNS = ("community_code", "household_id", "category")
POLICE_ROLES = frozenset({"police", "auxiliary_police"})
_SEP = re.compile(r"[;,，；、|]")


def split_roles(value: object) -> list[str]:
    """Split a roles cell (``;``, ``,``, ``、`` …) into canonical role codes (aliases mapped)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return []
    parts = (p.strip() for p in _SEP.split(str(value)))
    return [ROLE_ALIASES.get(p, p) for p in parts if p]


def load_roster(
    path: str | Path,
    *,
    households: gpd.GeoDataFrame | None = None,
    model: StaffingModel | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read and check a roster file; return a workers frame in WGS 84 plus extra columns.

    CSV rosters may leave out coordinates altogether when every row has a ``household_id``.
    """
    path = Path(path)
    raw = _read(path)
    return check_roster(raw, households=households, model=model, source=path.name, crs=crs)


def _read(path: Path) -> gpd.GeoDataFrame:
    try:
        return read_any(path)
    except InputError as exc:
        message = exc.problems[0].message if exc.problems else ""
        if path.suffix.lower() != ".csv" or not message.startswith("no coordinate columns"):
            raise
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries([None] * len(table)))
    frame.attrs["warnings"] = []
    return frame


def check_roster(
    raw: gpd.GeoDataFrame,
    *,
    households: gpd.GeoDataFrame | None = None,
    model: StaffingModel | None = None,
    source: str = "workers",
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Check a workers frame for staffing; raise one InputError listing every bad row."""
    raw = raw.reset_index(drop=True)
    if raw.geometry.name not in raw.columns:
        raw = raw.set_geometry(gpd.GeoSeries([None] * len(raw)))
    raw = _resolve_homes(raw, households, source)
    checked = validate(raw, kind="workers", source=source, crs=crs).frame
    for col in EXTRA_COLUMNS:
        values = raw[col] if col in raw else pd.Series([None] * len(raw))
        text = values.astype("string").str.strip()
        checked[col] = text.where(text != "", None).to_numpy()
    problems = _staffing_problems(checked, raw, model, source)
    if problems:
        raise InputError(problems)
    checked["roles"] = checked["roles"].map(lambda v: ";".join(split_roles(v))).astype("string")
    log.info("roster %s: %d workers", source, len(checked))
    return checked


def _resolve_homes(
    raw: gpd.GeoDataFrame, households: gpd.GeoDataFrame | None, source: str
) -> gpd.GeoDataFrame:
    if "household_id" not in raw:
        return raw
    hid = raw["household_id"].astype("string").str.strip()
    missing = raw.geometry.isna().to_numpy() | raw.geometry.is_empty.to_numpy()
    wanted = missing & hid.notna().to_numpy() & (hid != "").fillna(False).to_numpy()
    if not wanted.any():
        return raw
    if households is None:
        raise InputError(
            [
                Problem(
                    f"worker {raw.at[i, 'id']} gives household_id {hid[i]!r} but no households "
                    "were passed to resolve it; pass households= (or give lon/lat)",
                    source=source,
                    feature=int(i),
                    field="household_id",
                )
                for i in np.flatnonzero(wanted)
            ]
        )
    points = households.to_crs(raw.crs or frames.WGS84).set_index("id").geometry
    found = wanted & hid.isin(points.index).fillna(False).to_numpy()
    unknown = wanted & ~found
    if unknown.any():
        raise InputError(
            [
                Problem(
                    f"worker {raw.at[i, 'id']} refers to unknown household {hid[i]!r}",
                    source=source,
                    feature=int(i),
                    field="household_id",
                )
                for i in np.flatnonzero(unknown)
            ]
        )
    out = raw.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    geoms[found] = points.loc[hid[found].to_numpy()].to_numpy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=raw.crs or frames.WGS84))
    return out


def _staffing_problems(
    checked: gpd.GeoDataFrame, raw: gpd.GeoDataFrame, model: StaffingModel | None, source: str
) -> list[Problem]:
    known = model.known_roles if model is not None else ROLES
    problems: list[Problem] = []
    homeless = checked.geometry.isna().to_numpy() | checked.geometry.is_empty.to_numpy()
    for i, wid, name in zip(
        np.flatnonzero(homeless),
        checked["id"].to_numpy()[homeless],
        checked["name"].to_numpy()[homeless],
        strict=True,
    ):
        problems.append(
            Problem(
                f"worker {wid} ({name}) has no home location; give lon/lat or a household_id",
                source=source,
                feature=int(i),
                field="geometry",
            )
        )
    roles = checked["roles"].map(split_roles).tolist()
    ids = checked["id"].astype(str).tolist()
    beats = checked["police_beat"].astype(object).fillna("").astype(str).str.strip().tolist()
    for row, listed in enumerate(roles):
        bad = [r for r in listed if r not in known]
        if bad:
            problems.append(
                Problem(
                    f"worker {ids[row]} has unknown roles {', '.join(map(repr, bad))}; "
                    f"known: {', '.join(sorted(known))}",
                    source=source,
                    feature=row,
                    field="roles",
                )
            )
        if not listed:
            problems.append(
                Problem(
                    f"worker {ids[row]} has no roles; list at least one "
                    f"(e.g. {', '.join(sorted(known)[:3])})",
                    source=source,
                    feature=row,
                    field="roles",
                )
            )
        if not beats[row] and POLICE_ROLES.intersection(listed):
            problems.append(
                Problem(
                    f"police worker {ids[row]} has no police_beat; give the beat "
                    "(警格) the officer covers",
                    source=source,
                    feature=row,
                    field="police_beat",
                )
            )
    hours = pd.to_numeric(checked["hours"], errors="coerce")
    for i in hours.index[hours.notna() & (hours < 0)]:
        problems.append(
            Problem(
                f"negative hours: {hours[i]:g}; give the monthly hours available (>= 0)",
                source=source,
                feature=int(i),
                field="hours",
            )
        )
    return problems
