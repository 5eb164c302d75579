"""Validate, convert and repair one input frame; collect every located problem, then raise.

``validate`` is pure: the caller passes the communities (and known building ids) from the store.
Order: columns → values → duplicate keys → geometry (type, CRS, swapped axes, range, validity)
→ references to the store (community assignment, distance, building ids).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from gridsvc import frames, geo
from gridsvc.domain import AdminLevel, GridKind, LayerPolicy, VisitCadence
from gridsvc.errors import InputError, Problem
from gridsvc.ingest.places import check_places

__all__ = ["Checked", "effective_crs", "validate"]

log = logging.getLogger(__name__)

_CODE_COLUMNS = ("code", "community_code", "parent_code")
_CHOICES: dict[tuple[str, str], frozenset[str]] = {
    ("households", "visit_cadence"): frozenset(v.value for v in VisitCadence),
    ("layer_grids", "policy"): frozenset(v.value for v in LayerPolicy),
    ("communities", "level"): frozenset(v.value for v in AdminLevel),
    ("grids", "kind"): frozenset(v.value for v in GridKind),
}
_MINIMUM = {"floors": 1, "units": 1, "size": 0, "households": 0, "residents": 0}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "是"})
# Python's whitespace (str.isspace: bidirectional class WS, B or S, or category Zs), which
# str.strip() removes; tests check it against every code point
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_FALSE = frozenset({"false", "f", "no", "n", "0", "否"})


@dataclass(frozen=True, slots=True)
class Checked:
    """A validated frame in the kind's column shape (EPSG:4326) and the repairs made."""

    frame: gpd.GeoDataFrame
    crs: str
    warnings: list[str] = field(default_factory=list)


def validate(
    frame: gpd.GeoDataFrame,
    *,
    kind: str,
    source: str,
    crs: str | None = None,
    communities: gpd.GeoDataFrame | None = None,
    known_buildings: set[str] | None = None,
    far_km: float = 5.0,
) -> Checked:
    """Check ``frame`` as ``kind`` and convert it to WGS 84; raise one InputError for all."""
    spec = frames.kind(kind)
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise InputError(
            [
                Problem(f"required column missing (have: {_names(frame)})", source=source, field=m)
                for m in missing
            ]
        )
    problems: list[Problem] = []
    warnings: list[str] = list(frame.attrs.get("warnings", []))
    frame = frame.reset_index(drop=True)
    values = _check_values(frame, spec, source, problems)
    _check_duplicates(values, spec, source, problems)
    area = None if communities is None or communities.empty else communities.total_bounds
    declared, raw, geoms, good = _check_geometry(frame, spec, source, crs, area, problems, warnings)
    values = gpd.GeoDataFrame(values, geometry=geoms, copy=False)  # geoms say WGS 84
    if communities is not None and kind in ("buildings", "households", "grids"):
        check_places(values, raw, good, spec, source, declared, communities, far_km, problems)
    if known_buildings is not None and kind == "households" and "building_id" in values:
        ids = values["building_id"]
        unknown = ids.notna() & ~ids.isin(known_buildings)
        problems += [
            Problem(
                f"household {values.at[i, 'id']} refers to unknown building {ids[i]!r}; "
                "import its buildings first",
                source=source,
                feature=int(i),
                field="building_id",
            )
            for i in values.index[unknown]
        ]
    if problems:
        raise InputError(problems)
    out = frames.conform(kind, values)
    log.info("validated %d %s from %s (%d repairs)", len(out), kind, source, len(warnings))
    return Checked(out, declared, warnings)


def effective_crs(declared: str | None, file_crs: CRS | None, source: str = "") -> str:
    """Return the CRS to read coordinates in: the declared one, else the file's, else WGS 84."""
    if declared is None or not str(declared).strip():
        if file_crs is None:
            return geo.WGS84
        epsg = file_crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else file_crs.to_wkt()
    parsed = geo.parse_crs(declared)
    if file_crs is not None and file_crs.is_projected:
        same = parsed not in (geo.GCJ02, geo.BD09) and CRS.from_user_input(parsed).equals(
            file_crs, ignore_axis_order=True
        )
        if not same:
            raise InputError(
                Problem(
                    f"declared CRS {declared} contradicts the file's own projected CRS "
                    f"{file_crs.to_string()}; drop crs= or fix the file",
                    source=source,
                    field="crs",
                )
            )
    return parsed


# --- values -------------------------------------------------------------------------------------


def _check_values(
    frame: gpd.GeoDataFrame, spec: frames.Kind, source: str, problems: list[Problem]
) -> pd.DataFrame:
    """Normalise declared columns (strings, numbers, booleans) and report bad values."""
    plain = pd.DataFrame(frame)  # a column of a plain frame is cheaper to take than a Geo one's
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in plain.columns:
            continue
        series = plain[col.name]
        if col.dtype == "str":
            text = _strings(series)
            if col.default is None:
                text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
            bad = _check_str(spec.name, col.name, text, series.index)
            clean = pd.Series(pd.array(text, dtype="string"), series.index)  # no str objects
            missing = clean.index[clean.isna()]
        elif col.dtype in ("int", "float"):
            clean, bad = _check_number(col.name, col.dtype, series)
            missing = clean.index[clean.isna()]
        else:
            clean, bad = _check_bool(series)
            missing = clean.index[clean.isna()]
        for i, message in zip(bad.index, bad, strict=True):
            problems.append(Problem(message, source=source, feature=int(i), field=col.name))
        if col.required:
            for i in missing:
                problems.append(
                    Problem("missing required value", source=source, feature=int(i), field=col.name)
                )
        out[col.name] = clean
    return pd.DataFrame(out, index=frame.index, copy=False)  # the columns are new


def _strings(series: pd.Series) -> pa.Array:
    """Return ``series`` as stripped strings or nulls, as :func:`_as_str` makes each value."""
    if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        return pa.array(series.map(_as_str).astype(object), type=pa.large_string())
    # only strings (a GeoParquet or GeoPackage text column): the same, without a call per value
    text = pa.array(series, from_pandas=True)
    text = (text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text).cast(
        pa.large_string()
    )
    return pc.utf8_trim(text, characters=SPACES)  # exactly what str.strip() removes


def _as_str(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_str(kind: str, name: str, text: pa.Array, index: pd.Index) -> pd.Series:
    """Return the messages of bad values of string column ``name`` (by ``index`` label)."""
    messages: list[pd.Series] = []
    code = name == "community_code" or (kind == "communities" and name in _CODE_COLUMNS)
    choices = _CHOICES.get((kind, name))
    if not code and choices is None:
        return pd.Series(dtype=object)
    present = pc.fill_null(pc.not_equal(text, ""), False)
    if code:
        # ASCII digits only: a full-width "１４０８…" would make codes no other system reads
        # (ascii_is_decimal is false on any non-ASCII byte; 12 bytes of ASCII digits, no more)
        digits = pc.and_(pc.ascii_is_decimal(text), pc.equal(pc.binary_length(text), 12))
        bad = pc.and_(present, pc.invert(pc.fill_null(digits, False)))
        messages += _messages(text, bad, index, "code {!r} is not a 12-digit division code")
    if choices is not None:
        allowed = ", ".join(sorted(choices))
        bad = pc.and_(present, pc.invert(pc.is_in(text, pa.array(sorted(choices)))))
        messages += _messages(text, bad, index, "unknown value {!r}; expected one of " + allowed)
    if len(messages) > 1:
        return pd.concat(messages)
    return messages[0] if messages else pd.Series(dtype=object)


def _messages(text: pa.Array, bad: pa.Array, index: pd.Index, template: str) -> list[pd.Series]:
    """Return ``template`` filled with each bad value, indexed by its label in ``index``.

    An empty list when no value is bad (the usual case: nothing to build).
    """
    if not pc.any(bad).as_py():
        return []
    where = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
    values = text.take(pa.array(where, type=pa.int64())).to_pylist()
    return [pd.Series([template.format(v) for v in values], index=index[where], dtype=object)]


def _check_number(name: str, dtype: str, series: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series):
        # numbers already (GeoParquet, GeoPackage): every value given is a number
        numbers = pd.Series(series.to_numpy(dtype=float, na_value=np.nan), index=series.index)
        given = ~np.isnan(numbers.to_numpy())
        messages = pd.Series(dtype=object)
    else:
        text = series.astype(object).where(series.notna(), None)
        parsed = pd.to_numeric(
            text.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce"
        )
        numbers = parsed.astype(float)
        given = text.map(
            lambda v: v is not None and not (isinstance(v, str) and not v.strip())
        ).to_numpy(dtype=bool)
        messages = text[given & numbers.isna().to_numpy()].map(lambda v: f"not a number: {v!r}")
    values = numbers.to_numpy()
    known = ~np.isnan(values)
    if dtype == "int":
        frac = given & known & (values != np.round(values))
        if frac.any():
            messages = pd.concat([messages, numbers[frac].map(lambda v: f"not an integer: {v!r}")])
    low = _MINIMUM.get(name)
    if low is not None:
        under = known & (values < low)
        if under.any():
            word = "negative" if low == 0 else f"below {low}"
            messages = pd.concat([messages, numbers[under].map(lambda v: f"{word} {name}: {v:g}")])
    return numbers, messages


def _check_bool(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, (bool, np.bool_, int, np.integer)):
            return bool(value)
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else "?"

    parsed = series.map(parse)
    bad = parsed == "?"
    messages = series[bad].map(lambda v: f"not a yes/no value: {v!r}")
    return parsed.where(~bad, None), messages


def _check_duplicates(
    values: pd.DataFrame, spec: frames.Kind, source: str, problems: list[Problem]
) -> None:
    key = list(spec.key)
    if not all(k in values for k in key):
        return
    repeated = values.duplicated(subset=key, keep=False)
    if not repeated.any():
        return
    dup = values[repeated & values[key].notna().all(axis=1)]
    for ident, group in dup.groupby(key, sort=True):
        label = "/".join(map(str, ident)) if isinstance(ident, tuple) else str(ident)
        where = ", ".join(str(i) for i in group.index)
        problems.append(
            Problem(
                f"duplicate {'/'.join(key)} {label!r} (features {where}); ids must be unique",
                source=source,
                feature=int(group.index[0]),
                field=key[-1],
            )
        )


# --- geometry -----------------------------------------------------------------------------------


def _check_geometry(
    frame: gpd.GeoDataFrame,
    spec: frames.Kind,
    source: str,
    crs: str | None,
    area: np.ndarray | None,
    problems: list[Problem],
    warnings: list[str],
) -> tuple[str, np.ndarray, gpd.GeoSeries, np.ndarray]:
    """Return (CRS used, raw geometries, WGS 84 geometries, mask of usable geometries)."""
    declared = effective_crs(crs, frame.crs, source)
    raw = np.asarray(frame.geometry.values, dtype=object)
    missing = shapely.is_missing(raw) | shapely.is_empty(raw)
    types = shapely.get_type_id(raw)
    expected = (3, 6) if spec.geometry == "polygon" else (0,)
    wanted = "Polygon or MultiPolygon" if spec.geometry == "polygon" else "Point"
    if spec.geometry != "point?":
        for i in np.flatnonzero(missing):
            problems.append(
                Problem(
                    "missing or empty geometry", source=source, feature=int(i), field="geometry"
                )
            )
    wrong = ~missing & ~np.isin(types, expected)
    for i in np.flatnonzero(wrong):
        problems.append(
            Problem(
                f"{raw[i].geom_type} geometry where {spec.name} need a {wanted}",
                source=source,
                feature=int(i),
                field="geometry",
            )
        )
    good = ~missing & ~wrong
    geographic = declared in (geo.GCJ02, geo.BD09) or geo.crs_of(declared).is_geographic
    if geographic:
        good &= ~_check_swapped(raw, good, area, source, problems)
    converted = _convert(frame, raw, good, declared, source, problems)
    bounds = shapely.bounds(converted)
    out_of_range = good & ~(
        np.isfinite(bounds).all(axis=1)
        & (bounds[:, 0] >= -180)
        & (bounds[:, 2] <= 180)
        & (bounds[:, 1] >= -90)
        & (bounds[:, 3] <= 90)
    )
    for i in np.flatnonzero(out_of_range):
        problems.append(
            Problem(
                f"coordinates out of range for WGS 84 after reading them as {declared}; "
                "declare the file's CRS with crs= (e.g. EPSG:4547)",
                source=source,
                feature=int(i),
                field="geometry",
            )
        )
    good &= ~out_of_range
    if spec.geometry == "polygon":
        converted = _repair(converted, good, source, problems, warnings)
    return (
        declared,
        raw,
        gpd.GeoSeries(converted, index=frame.index, crs=geo.crs_of(geo.WGS84)),
        good,
    )


def _check_swapped(
    raw: np.ndarray,
    good: np.ndarray,
    area: np.ndarray | None,
    source: str,
    problems: list[Problem],
) -> np.ndarray:
    """Flag features with lat out of range, or inside China or ``area`` only when swapped."""
    b = shapely.bounds(raw)
    x, y = (b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0
    lat_out = (b[:, 1] < -90) | (b[:, 3] > 90)
    swapped = (lat_out & (np.abs(b[:, 0]) <= 90) & (np.abs(b[:, 2]) <= 90)) | (
        ~geo.in_china(x, y) & geo.in_china(y, x)
    )
    if area is not None:
        pad = 0.05  # degrees, ~5 km: the datum shifts stay well inside
        x0, y0, x1, y1 = area[0] - pad, area[1] - pad, area[2] + pad, area[3] + pad
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        flipped = (y >= x0) & (y <= x1) & (x >= y0) & (x <= y1)
        swapped |= ~inside & flipped
    swapped &= good
    for i in np.flatnonzero(swapped):
        problems.append(
            Problem(
                f"looks like lat/lon are swapped (got x={x[i]:.6f}, y={y[i]:.6f}); "
                "put longitude first",
                source=source,
                feature=int(i),
                field="geometry",
            )
        )
    return swapped


def _convert(
    frame: gpd.GeoDataFrame,
    raw: np.ndarray,
    good: np.ndarray,
    declared: str,
    source: str,
    problems: list[Problem],
) -> np.ndarray:
    values = raw.copy()
    values[~good] = None
    if declared == geo.WGS84:  # nothing to convert (to_wgs84 would hand back the same objects)
        return values
    part = gpd.GeoDataFrame(geometry=gpd.GeoSeries(values, index=frame.index), crs=None)
    with np.errstate(all="ignore"):
        try:
            converted = geo.to_wgs84(part, declared)
        except Exception as exc:  # pyproj/GEOS errors on wild coordinates
            problems.append(
                Problem(f"cannot convert from {declared} to WGS 84: {exc}", source=source)
            )
            return np.full(len(frame), None, dtype=object)
    return np.asarray(converted.geometry.values, dtype=object)


def _repair(
    geoms: np.ndarray, good: np.ndarray, source: str, problems: list[Problem], warnings: list[str]
) -> np.ndarray:
    invalid = good & ~shapely.is_valid(geoms)
    out = geoms.copy()
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = polygonal_part(shapely.make_valid(geoms[i]))
        if fixed is None or fixed.is_empty or fixed.area == 0:
            problems.append(
                Problem(
                    f"invalid geometry that cannot be repaired ({reason})",
                    source=source,
                    feature=int(i),
                    field="geometry",
                )
            )
            good[i] = False
            continue
        out[i] = fixed
        warnings.append(
            f"{source}: feature {i}: repaired invalid geometry ({reason}) with "
            "make_valid, kept its polygonal part"
        )
    return out


def polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """Keep only the polygons of ``geom`` (make_valid may add lines and points)."""
    parts = shapely.get_parts(geom)
    while (shapely.get_type_id(parts) == 7).any():
        parts = shapely.get_parts(parts)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if len(polys) == 0:
        return None
    merged = shapely.union_all(polys)
    return merged if shapely.get_type_id(merged) in (3, 6) else None


def _names(frame: gpd.GeoDataFrame) -> str:
    return ", ".join(str(c) for c in frame.columns if c != frame.geometry.name) or "none"
