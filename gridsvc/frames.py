"""The GeoDataFrame shape of every kind of record: columns, types, keys.

Bulk code (ingest, store, partition, export) passes GeoDataFrames in EPSG:4326 whose columns are
declared here once. ``conform`` puts a frame in that shape; ``empty`` makes an empty one.

Kinds and their columns (``geometry`` is always present):

- ``communities``: code (12 digits), name, level, parent_code — Polygon/MultiPolygon
- ``buildings``: id, community_code, name, floors, units, use, compound — Polygon/MultiPolygon
- ``households``: id, community_code, building_id, unit, floor, room, size, care_tags
  (``;``-joined), visit_cadence, phone and id_number (the head of household's; personal data,
  masked by :mod:`gridsvc.privacy` for roles that do not need them) — Point
- ``layer_grids``: layer, department, policy, grid_id, name — Polygon/MultiPolygon
- ``grids``: code, community_code, level, kind, parent_code, households, residents, floor_lo,
  floor_hi, version — Polygon/MultiPolygon
- ``workers``: id, name, phone, roles (``;``-joined), party_member, police_beat, hours — Point
  (home) or empty

Derived kinds (:data:`DERIVED`) have no table of their own and are only written (exports):

- ``assignments``: community_code, grid_code, worker_id, role, kept, assigned_at (ISO) — the
  grid's Polygon/MultiPolygon
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import geopandas as gpd
import pandas as pd

__all__ = ["DERIVED", "KINDS", "Column", "Kind", "conform", "dtypes", "empty", "kind"]

WGS84 = "EPSG:4326"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    dtype: str  # "str", "int", "float", "bool"
    required: bool = False
    default: object = None


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    geometry: str  # "polygon", "point", "point?" (optional point)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, dtype: str, required: bool = False, default: object = None) -> Column:
    return Column(name, dtype, required, default)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "communities",
            ("code",),
            (
                _c("code", "str", True),
                _c("name", "str", default=""),
                _c("level", "str", default="community"),
                _c("parent_code", "str"),
            ),
            "polygon",
        ),
        Kind(
            "buildings",
            ("id",),
            (
                _c("id", "str", True),
                _c("community_code", "str"),
                _c("name", "str", default=""),
                _c("floors", "int", default=1),
                _c("units", "int", default=1),
                _c("use", "str", default="residential"),
                _c("compound", "str", default=""),
            ),
            "polygon",
        ),
        Kind(
            "households",
            ("id",),
            (
                _c("id", "str", True),
                _c("community_code", "str"),
                _c("building_id", "str"),
                _c("unit", "int"),
                _c("floor", "int"),
                _c("room", "str", default=""),
                _c("size", "int", default=1),
                _c("care_tags", "str", default=""),
                _c("visit_cadence", "str", default="none"),
                _c("phone", "str"),
                _c("id_number", "str"),
            ),
            "point",
        ),
        Kind(
            "layer_grids",
            ("layer", "grid_id"),
            (
                _c("layer", "str", True),
                _c("department", "str", default=""),
                _c("policy", "str", default="soft"),
                _c("grid_id", "str", True),
                _c("name", "str", default=""),
            ),
            "polygon",
        ),
        Kind(
            "grids",
            ("code",),
            (
                _c("code", "str", True),
                _c("community_code", "str", True),
                _c("level", "int", default=1),
                _c("kind", "str", default="community"),
                _c("parent_code", "str"),
                _c("households", "int", default=0),
                _c("residents", "int", default=0),
                _c("floor_lo", "int"),
                _c("floor_hi", "int"),
                _c("version", "int", default=1),
            ),
            "polygon",
        ),
        Kind(
            "workers",
            ("id",),
            (
                _c("id", "str", True),
                _c("name", "str", True),
                _c("phone", "str", default=""),
                _c("roles", "str", default=""),
                _c("party_member", "bool", default=False),
                _c("police_beat", "str", default=""),
                _c("hours", "float", default=0.0),
            ),
            "point?",
        ),
    )
}

DERIVED: dict[str, Kind] = {
    "assignments": Kind(
        "assignments",
        ("grid_code", "worker_id", "role"),
        (
            _c("community_code", "str"),
            _c("grid_code", "str", True),
            _c("worker_id", "str", True),
            _c("role", "str", True),
            _c("kept", "bool", default=False),
            _c("assigned_at", "str"),
        ),
        "polygon",
    )
}

_PANDAS_DTYPES = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean"}


def kind(name: str) -> Kind:
    """Return the declared kind ``name`` or raise KeyError listing the known kinds."""
    try:
        return KINDS[name] if name in KINDS else DERIVED[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def empty(kind_name: str) -> gpd.GeoDataFrame:
    """An empty frame of ``kind_name`` with its declared columns, in EPSG:4326."""
    k = kind(kind_name)
    data = {c.name: pd.Series(dtype=_PANDAS_DTYPES[c.dtype]) for c in k.columns}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


@cache
def dtypes(kind_name: str) -> pd.Series:
    """The column dtypes of ``empty(kind_name)`` (computed once: building a frame costs ms)."""
    return empty(kind_name).dtypes


def conform(kind_name: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frame`` with exactly the declared columns (defaults filled), types and order.

    Extra columns are dropped; missing optional columns get their default. The caller checks
    required columns and values first (ingest does, with located errors).
    """
    k = kind(kind_name)
    out = {}
    for c in k.columns:
        if c.name in frame.columns:
            series = frame[c.name]
        else:
            series = pd.Series([c.default] * len(frame), index=frame.index, dtype=object)
        if c.default is not None and series.hasnans:
            series = series.where(series.notna(), c.default)
        out[c.name] = _cast(series, c.dtype)
    if frame.geometry.name not in frame.columns:
        return gpd.GeoDataFrame(out, geometry=None, crs=frame.crs or WGS84)
    # the columns framed first: cheaper than geopandas framing a dict around a geometry
    table = pd.DataFrame({**out, "geometry": frame.geometry}, copy=False)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=frame.crs or WGS84, copy=False)


_DTYPES = {"str": pd.StringDtype(), "int": pd.Int64Dtype(), "float": pd.Float64Dtype()}


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if series.dtype == _DTYPES.get(dtype, pd.BooleanDtype()):
        return series  # the declared type already (as validation makes most columns)
    if dtype == "str":
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return series.astype("string")  # strings already: str() of each is itself
        return series.map(lambda v: None if _missing(v) else _str(v)).astype("string")
    if dtype == "int":
        return pd.to_numeric(series, errors="raise").round().astype("Int64")
    if dtype == "float":
        return pd.to_numeric(series, errors="raise").astype("Float64")
    return series.map(lambda v: None if _missing(v) else bool(v)).astype("boolean")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _str(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
