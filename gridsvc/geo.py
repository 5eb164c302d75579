"""Coordinates and GeoJSON: the one place that knows CRSs and builds GeoJSON.

- Declared input CRSs: any EPSG code pyproj knows (EPSG:4326, EPSG:4490 CGCS2000, projected
  ones), plus the Chinese obfuscated datums GCJ-02 (AMap, Tencent) and BD-09 (Baidu), which have
  no EPSG code and are converted here with the published formulas (inverse by fixed-point
  iteration, error below 1e-9 degrees).
- Computation happens in a local metric CRS (UTM zone of the data), see :func:`metric_crs`.
- GeoJSON out follows RFC 7946: lon/lat WGS 84, counter-clockwise exteriors, no ``crs`` member,
  at most 7 decimals.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from json.encoder import encode_basestring as _quote  # type: ignore[attr-defined]
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from .errors import InputError, Problem

__all__ = [
    "BD09",
    "CHINA_BBOX",
    "GCJ02",
    "WGS84",
    "bd09_to_wgs84",
    "collection_text",
    "crs_of",
    "feature_collection",
    "feature_collection_text",
    "feature_texts",
    "gcj02_to_wgs84",
    "geometry_from_geojson",
    "geometry_texts",
    "geometry_to_geojson",
    "in_china",
    "json_texts",
    "lonlat_to_wgs84",
    "metric_crs",
    "parse_crs",
    "record_feature_texts",
    "round_coordinates",
    "stream_collection",
    "to_crs",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

WGS84 = "EPSG:4326"
GCJ02 = "GCJ02"
BD09 = "BD09"
DECIMALS = 7
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "epsg:4326": WGS84,
    "4326": WGS84,
    "cgcs2000": "EPSG:4490",
    "epsg:4490": "EPSG:4490",
    "4490": "EPSG:4490",
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "amap": GCJ02,
    "bd09": BD09,
    "bd-09": BD09,
    "baidu": BD09,
}


def parse_crs(value: str | None) -> str:
    """Normalise a declared CRS name: ``wgs84``, ``EPSG:4490``, ``gcj02``, ``bd09`` …"""
    if value is None or not str(value).strip():
        return WGS84
    text = str(value).strip()
    alias = _ALIASES.get(text.lower().replace("_", ""))
    if alias:
        return alias
    try:
        crs = CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises its own CRSError
        raise InputError(
            Problem(
                f"unknown CRS {text!r}; use an EPSG code such as EPSG:4326 or EPSG:4490, "
                "or gcj02 / bd09",
                field="crs",
            )
        ) from exc
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


@cache
def crs_of(name: str) -> CRS:
    """Return the pyproj CRS of ``name`` (an EPSG code or WKT), parsed once per process.

    Parsing a CRS costs milliseconds; geopandas parses a string CRS on every frame it builds,
    a CRS object not at all, so code building many frames passes ``crs_of(...)``.
    """
    return CRS.from_user_input(name)


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where a point falls in the rough bounding box of China (where GCJ-02 applies)."""
    x0, y0, x1, y1 = CHINA_BBOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → GCJ-02 (identity outside China)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward: Any, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Invert a WGS 84 → X offset function by fixed-point iteration (|error| < 1e-9°)."""
    tlon, tlat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = tlon.copy(), tlat.copy()
    for _ in range(40):
        flon, flat = forward(wlon, wlat)
        elon, elat = flon - tlon, flat - tlat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < 1e-10) and np.all(np.abs(elat) < 1e-10):
            break
    return wlon, wlat


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS 84 (inverse by iteration)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → BD-09 (through GCJ-02)."""
    x, y = wgs84_to_gcj02(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS 84 (inverse by iteration)."""
    return _invert(wgs84_to_bd09, lon, lat)


_FROM_WGS84 = {GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}
_TO_WGS84 = {GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}


def _transform(geoms: gpd.GeoSeries, fn: Any) -> gpd.GeoSeries:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    values = shapely.transform(np.asarray(geoms.values), apply)
    return gpd.GeoSeries(values, index=geoms.index, crs=crs_of(WGS84))


def lonlat_to_wgs84(lon: float, lat: float, declared: str) -> tuple[float, float]:
    """Convert one point from its declared CRS (WGS 84, GCJ-02, BD-09, any EPSG) to WGS 84."""
    crs = parse_crs(declared)
    if crs == WGS84:
        return float(lon), float(lat)
    if crs in _TO_WGS84:
        x, y = _TO_WGS84[crs](lon, lat)
        return float(x), float(y)
    x, y = Transformer.from_crs(crs, WGS84, always_xy=True).transform(lon, lat)
    return float(x), float(y)


def to_wgs84(frame: gpd.GeoDataFrame, declared: str | None) -> gpd.GeoDataFrame:
    """Convert ``frame`` from its declared CRS (or its own, if none declared) to WGS 84."""
    crs = parse_crs(declared) if declared else (frame.crs.to_string() if frame.crs else WGS84)
    out = frame.copy()
    if crs in _TO_WGS84:
        out = out.set_geometry(_transform(out.geometry, _TO_WGS84[crs]), crs=WGS84)
        return out.set_crs(WGS84, allow_override=True)
    if frame.crs is None or declared:
        out = out.set_crs(crs_of(crs), allow_override=True)
    return out.to_crs(crs_of(WGS84))


def to_crs(frame: gpd.GeoDataFrame, target: str) -> gpd.GeoDataFrame:
    """Convert a WGS 84 frame to ``target`` (an EPSG code, or GCJ-02 / BD-09 for tiles)."""
    target = parse_crs(target)
    if target in _FROM_WGS84:
        geoms = _transform(frame.to_crs(WGS84).geometry, _FROM_WGS84[target])
        return frame.set_geometry(geoms)
    return frame.to_crs(target)


def metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The UTM zone (WGS 84) holding the centre of ``frame``: metres for area and distance."""
    x0, y0, x1, y1 = frame.to_crs(crs_of(WGS84)).total_bounds
    lon, lat = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return crs_of(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


# --- GeoJSON (RFC 7946) -----------------------------------------------------------------------


_SCALE = 10.0**DECIMALS


def round_coordinates(coords: np.ndarray) -> np.ndarray:
    """Round coordinates to 7 decimals (RFC 7946 §11.2); each prints with at most 7."""
    # dividing by the exact power of ten gives the double nearest the 7-decimal value, which
    # prints with at most 7 decimals (np.round multiplies by 1e-7 and can print 17 digits)
    return np.rint(coords * _SCALE) / _SCALE


def geometry_texts(geoms: Any) -> list[str]:
    """Return each geometry as RFC 7946 JSON text (``null`` when missing or empty): CCW
    exteriors, CW holes, at most 7 decimals. Vectorised: one GEOS call per step for all."""
    values = np.asarray(geoms, dtype=object)
    out = np.full(len(values), "null", dtype=object)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    if present.any():
        shapes = shapely.orient_polygons(values[present], exterior_cw=False)
        shapes = shapely.transform(shapes, round_coordinates, include_z=None)  # type: ignore[call-overload]  # None keeps Z
        # GEOS prints some doubles with 17 digits (35.061067799999996): print those the
        # shortest way that reads back the same double (35.0610678), in one pass per call
        text = _LONG_NUMBER.sub(_shortest, "\n".join(shapely.to_geojson(shapes).tolist()))
        out[present] = text.split("\n")
    return out.tolist()  # type: ignore[no-any-return]


_LONG_NUMBER = re.compile(r"-?\d+\.\d{8,}(?:[eE][-+]?\d+)?")


def _shortest(number: re.Match[str]) -> str:
    return repr(float(number.group()))


def geometry_to_geojson(geom: BaseGeometry | None) -> dict[str, Any] | None:
    """RFC 7946 geometry of one shape as a dict (see :func:`geometry_texts`)."""
    return json.loads(geometry_texts([geom])[0])  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return value


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def json_texts(column: pd.Series) -> list[str]:
    """Return the JSON text of each value of ``column`` (``null`` for missing or non-finite),
    by dtype: numbers and booleans as arrays, strings through the C string encoder."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        missing = column.isna().to_numpy()
        if pd.api.types.is_bool_dtype(dtype):
            flags = column.fillna(False).to_numpy(dtype=bool)
            texts = np.where(flags, "true", "false").astype(object)
        else:
            texts = column.fillna(0).to_numpy(dtype=np.int64).astype(str).astype(object)
        texts[missing] = "null"
        return texts.tolist()  # type: ignore[no-any-return]
    if isinstance(dtype, pd.StringDtype):
        strings = column.astype(object).where(column.notna(), None).tolist()
        return ["null" if v is None else _quote(v) for v in strings]
    if pd.api.types.is_float_dtype(dtype):
        numbers = column.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        return [repr(v) if ok else "null" for v, ok in zip(numbers.tolist(), finite, strict=True)]
    return [_value_text(v) for v in column.tolist()]


def _is_wgs84(crs: CRS | None) -> bool:
    """True for no CRS or WGS 84 (the store's own, cheaply recognised, first)."""
    return crs is None or crs.srs.upper() == WGS84 or crs.to_epsg() == 4326


def _braced(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def feature_texts(
    frame: gpd.GeoDataFrame, *, id_column: str | None = None, ids: Sequence[str] | None = None
) -> list[str]:
    """Return the RFC 7946 Feature of each row of ``frame`` as JSON text, built column by
    column (one template fill per row, no dict per feature). ``id`` is ``ids`` when given,
    else the ``id_column`` value; the properties are every other column, in order."""
    frame = frame if _is_wgs84(frame.crs) else frame.to_crs(WGS84)
    geom_name = frame.geometry.name
    props = [c for c in frame.columns if c != geom_name]
    if ids is not None:
        id_texts: list[str] | None = [_quote(str(i)) for i in ids]
    else:
        id_texts = json_texts(frame[id_column]) if id_column else None
    geometries = geometry_texts(frame.geometry.to_numpy())
    return _features(id_texts, geometries, props, [json_texts(frame[c]) for c in props])


def record_feature_texts(
    columns: Mapping[str, Sequence[Any]], geometry: np.ndarray, *, id_column: str
) -> list[str]:
    """Return features as :func:`feature_texts` does, from plain columns (name → values, the
    properties in order) and a WGS 84 geometry array: for the few rows of a per-request
    answer, where building a GeoDataFrame would cost more than the answer."""
    props = {name: [_value_text(v) for v in values] for name, values in columns.items()}
    return _features(props[id_column], geometry_texts(geometry), list(props), list(props.values()))


def _features(
    ids: list[str] | None, geometries: list[str], names: list[str], values: list[list[str]]
) -> list[str]:
    """Fill one Feature template per row from per-column JSON texts."""
    template = '{{"type":"Feature",' + ('"id":{},' if ids is not None else "")
    template += '"geometry":{},"properties":{{'
    template += ",".join(_braced(_quote(str(c))) + ":{}" for c in names) + "}}}}"
    fill = template.format
    columns = ([ids] if ids is not None else []) + [geometries, *values]
    return [fill(*row) for row in zip(*columns, strict=True)]


_HEAD = '{"type":"FeatureCollection","features":['


def collection_text(features: Sequence[str]) -> str:
    """A FeatureCollection (no ``crs`` member) of feature texts, as JSON text."""
    return _HEAD + ",".join(features) + "]}"


def feature_collection_text(frame: gpd.GeoDataFrame, *, id_column: str | None = None) -> str:
    """A whole RFC 7946 FeatureCollection of ``frame`` as JSON text."""
    return collection_text(feature_texts(frame, id_column=id_column))


def feature_collection(frame: gpd.GeoDataFrame, *, id_column: str | None = None) -> dict[str, Any]:
    """A whole RFC 7946 FeatureCollection of ``frame`` as a dict."""
    return json.loads(feature_collection_text(frame, id_column=id_column))  # type: ignore[no-any-return]


def stream_collection(chunks: Iterable[Sequence[str]]) -> Iterator[str]:
    """Stream a FeatureCollection of the feature texts in ``chunks`` (one text per chunk),
    ending in a newline: for files and streamed downloads."""
    yield _HEAD
    first = True
    for texts in chunks:
        if texts:
            yield ("" if first else ",") + ",".join(texts)
            first = False
    yield "]}\n"


_GEOMETRY_TYPES = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 2,
    "MultiPoint": 1,
    "MultiLineString": 2,
    "MultiPolygon": 3,
}


def _positions(coords: Any, depth: int, field: str) -> None:
    """Check that ``coords`` nests positions ``depth`` levels deep, each finite lon/lat."""
    if depth == 0:
        ok = (
            isinstance(coords, (list, tuple))
            and len(coords) in (2, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coords)
        )
        if not ok:
            raise InputError(
                Problem(f"{json.dumps(coords)[:60]} is not a position [lon, lat]", field=field)
            )
        lon, lat = float(coords[0]), float(coords[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError(Problem("coordinates must be finite numbers", field=field))
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            hint = "; lat/lon look swapped" if -90 <= lon <= 90 and -180 <= lat <= 180 else ""
            raise InputError(
                Problem(
                    f"position [{lon}, {lat}] is outside lon [-180, 180] / lat [-90, 90]; GeoJSON "
                    f"is WGS 84 lon/lat (declare 'crs' for GCJ-02 or BD-09 input){hint}",
                    field=field,
                )
            )
        return
    if not isinstance(coords, (list, tuple)) or not coords:
        raise InputError(
            Problem("coordinates are empty or nested wrongly for the geometry type", field=field)
        )
    for item in coords:
        _positions(item, depth - 1, field)


def geometry_from_geojson(
    value: Any, *, field: str = "geometry", allowed: tuple[str, ...] = ("Polygon", "MultiPolygon")
) -> BaseGeometry:
    """Parse an RFC 7946 geometry object (of an ``allowed`` type) into a valid shapely geometry.

    Anything malformed (wrong type, bad nesting, out-of-range or non-finite coordinates,
    unclosed or self-intersecting rings) raises InputError naming ``field``.
    """
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or value.get("type") not in _GEOMETRY_TYPES:
        raise InputError(
            Problem(
                "expected a GeoJSON geometry object with a 'type' and 'coordinates'", field=field
            )
        )
    kind = str(value["type"])
    if kind not in allowed:
        raise InputError(Problem(f"expected a {' or '.join(allowed)}, got a {kind}", field=field))
    _positions(value.get("coordinates"), _GEOMETRY_TYPES[kind], field)
    polygons = {"Polygon": [value["coordinates"]], "MultiPolygon": value["coordinates"]}
    for rings in polygons.get(kind, []):
        for ring in rings:
            if len(ring) < 4 or list(ring[0])[:2] != list(ring[-1])[:2]:
                raise InputError(
                    Problem(
                        "every polygon ring needs 4 or more positions and must "
                        "end where it starts (RFC 7946 §3.1.6)",
                        field=field,
                    )
                )
    try:
        geom = shapely.geometry.shape({"type": kind, "coordinates": value["coordinates"]})
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InputError(Problem(f"malformed {kind}: {exc}", field=field)) from None
    geom = shapely.force_2d(geom)
    if geom.is_empty:
        raise InputError(Problem(f"the {kind} is empty", field=field))
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InputError(
            Problem(
                f"the {kind} is invalid ({reason}); redraw it without self-intersections",
                field=field,
            )
        )
    return geom
