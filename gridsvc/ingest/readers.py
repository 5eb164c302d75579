"""Read any supported vector file into a GeoDataFrame, with located errors.

Formats by suffix: ``.geojson``/``.json``, ``.gpkg``, ``.zip`` (zipped Shapefile), ``.shp``,
``.csv`` (lon/lat columns or a WKT ``geometry`` column), ``.parquet`` (GeoParquet).

Text formats (CSV, GeoJSON) must be UTF-8; a GBK/GB18030 file is decoded as GB18030 and the
frame carries a warning in ``frame.attrs["warnings"]`` (the importer puts it in its report).
Bytes that are neither UTF-8 nor GB18030 are an :class:`~gridsvc.errors.InputError`.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from gridsvc.errors import InputError, Problem

__all__ = [
    "SHAPEFILE_NAMES",
    "SUFFIXES",
    "geoparquet_frame",
    "long_names",
    "read_any",
    "read_geoparquet",
    "unreadable",
]

log = logging.getLogger(__name__)

SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".csv", ".parquet", ".geoparquet")

# Shapefile (dBASE) field names are at most 10 characters; these are the short names gridsvc
# writes for the frames columns that are longer, and maps back when reading.
SHAPEFILE_NAMES: dict[str, str] = {
    "community_code": "comm_code",
    "visit_cadence": "visit_cad",
    "party_member": "party_mbr",
    "police_beat": "police_bt",
    "parent_code": "parent_cd",
    "building_id": "bldg_id",
}

_LON_LAT = (("longitude", "latitude"), ("x", "y"), ("lng", "lat"))
_WKT_COLUMNS = ("geometry", "wkt", "geom")


def read_any(
    path: str | Path, *, layer: str | None = None, lon: str = "lon", lat: str = "lat"
) -> gpd.GeoDataFrame:
    """Read ``path`` (format by suffix) into a GeoDataFrame in the file's own CRS."""
    path = Path(path)
    source = path.name
    if not path.exists():
        raise InputError(Problem(f"file not found: {path}", source=source))
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            Problem(
                f"unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}",
                source=source,
            )
        )
    if suffix == ".csv":
        frame = _read_csv(path, lon=lon, lat=lat)
    elif suffix in (".geojson", ".json"):
        frame = _read_geojson(path)
    elif suffix in (".parquet", ".geoparquet"):
        frame = read_geoparquet(path)
    elif suffix == ".zip":
        frame = _read_zip(path, layer)
    else:
        frame = _read_ogr(path, path, layer)
    if suffix in (".zip", ".shp"):
        frame = long_names(frame)
    frame.attrs.setdefault("warnings", [])
    frame.attrs["source"] = source
    log.info("read %d features from %s", len(frame), source)
    return frame.reset_index(drop=True)


def long_names(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rename Shapefile short field names back to the frames column names."""
    back = {s: n for n, s in SHAPEFILE_NAMES.items() if s in frame.columns and n not in frame}
    return frame.rename(columns=back) if back else frame


def _decode(path: Path) -> tuple[str, list[str]]:
    """Decode a text file as UTF-8, else GB18030 (with a warning), else raise."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(
            Problem(
                f"file is not UTF-8 (invalid byte at offset {utf8_error.start}) nor GBK/GB18030; "
                "re-save it as UTF-8",
                source=path.name,
            )
        ) from None
    warning = f"{path.name}: file is GBK/GB18030-encoded, not UTF-8; decoded it as GB18030"
    log.warning(warning)
    return text, [warning]


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    text, warnings = _decode(path)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        ended = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated")
        hint = " (the file looks truncated)" if ended else ""
        raise InputError(
            Problem(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}",
                source=path.name,
            )
        ) from None
    frame = _read_ogr(io.BytesIO(text.encode("utf-8")), path, None)
    frame.attrs["warnings"] = warnings
    return frame


def _read_ogr(target: Path | io.BytesIO | str, path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if isinstance(target, Path) and target.suffix.lower() == ".gpkg":
        layer = _choose_layer(target, path, layer)
    try:
        return pyogrio.read_dataframe(target, layer=layer, use_arrow=True)
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(
            Problem(f"cannot read the file (corrupt or truncated?): {exc}", source=path.name)
        ) from None


def _choose_layer(target: Path | str, path: Path, layer: str | None) -> str:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(target)]
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(
            Problem(f"cannot read the file (corrupt or truncated?): {exc}", source=path.name)
        ) from None
    if layer is not None:
        if layer not in layers:
            raise InputError(
                Problem(
                    f"no layer {layer!r}; the file has layers: {', '.join(layers)}",
                    source=path.name,
                )
            )
        return layer
    if len(layers) != 1:
        raise InputError(
            Problem(
                f"the file has {len(layers)} layers ({', '.join(layers)}); choose one with layer=",
                source=path.name,
            )
        )
    return layers[0]


def _read_zip(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(
            Problem(f"not a complete zip archive (truncated or corrupt?): {exc}", source=path.name)
        ) from None
    if bad is not None:
        raise InputError(
            Problem(f"zip member {bad!r} is corrupt (CRC check failed)", source=path.name)
        )
    shps = sorted(n for n in names if n.lower().endswith(".shp"))
    if not shps:
        raise InputError(Problem("the zip archive holds no .shp file", source=path.name))
    stems = [Path(n).stem for n in shps]
    if layer is not None:
        if layer not in stems:
            raise InputError(
                Problem(
                    f"no layer {layer!r}; the zip holds shapefiles: {', '.join(stems)}",
                    source=path.name,
                )
            )
        member = shps[stems.index(layer)]
    elif len(shps) > 1:
        raise InputError(
            Problem(
                f"the zip holds {len(shps)} shapefiles ({', '.join(stems)}); "
                "choose one with layer=",
                source=path.name,
            )
        )
    else:
        member = shps[0]
    return _read_ogr(f"/vsizip/{path.resolve()}/{member}", path, None)


def read_geoparquet(
    path: Path, *, filters: list[tuple[str, str, object]] | None = None
) -> gpd.GeoDataFrame:
    """Read GeoParquet ``path`` (the rows matching pyarrow ``filters``) as ``gpd.read_parquet``.

    The same frame, but each CRS in the file's metadata is parsed once per process: parsing
    a PROJJSON CRS costs ≈ 25 ms, more than reading one community's slice of a city file.
    A file that cannot be read is an InputError naming it.
    """
    try:
        table = pq.read_table(path, filters=filters)
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise unreadable(path, exc) from None
    return geoparquet_frame(table, path)


def geoparquet_frame(table: pa.Table, path: Path) -> gpd.GeoDataFrame:
    """Return the GeoDataFrame of ``table`` read from GeoParquet ``path`` (its geo metadata)."""
    from geopandas.io.arrow import _arrow_to_geopandas, _validate_and_decode_metadata

    try:
        meta = _validate_and_decode_metadata(table.schema.metadata)
    except (OSError, ValueError) as exc:
        raise unreadable(path, exc) from None
    for column in meta["columns"].values():
        if isinstance(column.get("crs"), dict):
            column["crs"] = _projjson_crs(json.dumps(column["crs"], sort_keys=True))
    return _arrow_to_geopandas(table, meta)


def unreadable(path: Path, exc: Exception) -> InputError:
    return InputError(
        Problem(f"cannot read GeoParquet (corrupt or truncated?): {exc}", source=path.name)
    )


@cache
def _projjson_crs(text: str) -> CRS:
    from geopandas.io.arrow import _remove_id_from_member_of_ensembles

    crs = json.loads(text)
    _remove_id_from_member_of_ensembles(crs)  # as gpd.read_parquet does (older PROJ databases)
    return CRS.from_user_input(crs)


def _read_csv(path: Path, *, lon: str, lat: str) -> gpd.GeoDataFrame:
    text, warnings = _decode(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(Problem(f"cannot parse CSV: {exc}", source=path.name)) from None
    lower = {c.lower(): c for c in table.columns}
    wkt = next((lower[c] for c in _WKT_COLUMNS if c in lower), None)
    if wkt is not None:
        geometry = _parse_wkt(table[wkt], path.name, wkt)
        table = table.drop(columns=[wkt])
        for pair in ((lon, lat), *_LON_LAT):
            if pair[0].lower() in lower and pair[1].lower() in lower:
                table = table.drop(columns=[lower[pair[0].lower()], lower[pair[1].lower()]])
                break
    else:
        geometry, pair = _parse_lon_lat(table, lower, path.name, lon, lat)
        table = table.drop(columns=list(pair))
    frame = gpd.GeoDataFrame(table, geometry=geometry)
    frame.attrs["warnings"] = warnings
    return frame


def _parse_wkt(column: pd.Series, source: str, name: str) -> gpd.GeoSeries:
    present = pd.notna(column).to_numpy()
    values = column.to_numpy(dtype=object)
    values[~present] = None
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    bad = present & pd.isna(geoms)
    if bad.any():
        raise InputError(
            [
                Problem(
                    f"not valid WKT: {str(values[i])[:40]!r}",
                    source=source,
                    feature=int(i),
                    field=name,
                )
                for i in bad.nonzero()[0]
            ]
        )
    return gpd.GeoSeries(geoms, index=column.index)


def _parse_lon_lat(
    table: pd.DataFrame, lower: dict[str, str], source: str, lon: str, lat: str
) -> tuple[gpd.GeoSeries, tuple[str, str]]:
    pair = next(
        (
            (lower[a.lower()], lower[b.lower()])
            for a, b in ((lon, lat), *_LON_LAT)
            if a.lower() in lower and b.lower() in lower
        ),
        None,
    )
    if pair is None:
        raise InputError(
            Problem(
                f"no coordinate columns: expected {lon}/{lat}, longitude/latitude or x/y "
                f"(or a WKT geometry column); found {', '.join(map(str, table.columns))}",
                source=source,
            )
        )
    xs = pd.to_numeric(table[pair[0]], errors="coerce")
    ys = pd.to_numeric(table[pair[1]], errors="coerce")
    problems = [
        Problem(f"not a number: {table.at[i, col]!r}", source=source, feature=int(i), field=col)
        for col, values in ((pair[0], xs), (pair[1], ys))
        for i in values.index[values.isna() & table[col].notna()]
    ]
    if problems:
        raise InputError(problems)
    points = shapely.points(xs.to_numpy(float), ys.to_numpy(float))
    geometry = gpd.GeoSeries(points, index=table.index)
    geometry[xs.isna() | ys.isna()] = None
    return geometry, pair
