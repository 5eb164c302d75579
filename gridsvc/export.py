"""Write a frame of one kind to a file, format by suffix; every format re-imports losslessly.

- ``.geojson``: RFC 7946 via :mod:`gridsvc.geo`, streamed feature by feature; ``id`` is the
  kind's key (``layer/grid_id`` for layer grids).
- ``.gpkg``: one layer named after the kind.
- ``.zip``: a zipped Shapefile (UTF-8 ``.cpg``); field names over 10 characters are written
  with the short names in :data:`gridsvc.ingest.readers.SHAPEFILE_NAMES`, which the reader
  maps back.
- ``.csv``: a WKT ``geometry`` column at full precision, plus ``lon``/``lat`` for point kinds.
- ``.parquet``: GeoParquet.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from gridsvc import frames, geo
from gridsvc.ingest.readers import SHAPEFILE_NAMES
from gridsvc.store import repo

__all__ = [
    "FORMATS",
    "export_chunks",
    "export_frame",
    "export_kind",
    "stream_csv",
    "stream_geojson",
    "stream_geojson_seq",
]

log = logging.getLogger(__name__)

FORMATS = (".geojson", ".gpkg", ".zip", ".csv", ".parquet")


def export_frame(frame: gpd.GeoDataFrame, path: str | Path, *, kind: str) -> int:
    """Write ``frame`` as ``kind`` to ``path`` (format by suffix); return the features written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported export format {suffix!r}; use one of {', '.join(FORMATS)}")
    if not _conformed(frame, kind):
        frame = frames.conform(kind, frame)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(geo.WGS84)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".geojson":
        _write_geojson(frame, path, kind)
    elif suffix == ".gpkg":
        frame.to_file(path, driver="GPKG", layer=kind, engine="pyogrio")
    elif suffix == ".zip":
        _write_shapefile_zip(frame, path, kind)
    elif suffix == ".csv":
        _write_csv(frame, path, kind)
    else:
        frame.to_parquet(path, index=False)
    log.info("exported %d %s to %s", len(frame), kind, path)
    return len(frame)


def export_kind(
    session: Session, path: str | Path, *, kind: str, community: str | None = None
) -> int:
    """Read ``kind`` (optionally one community's) from the store and write it to ``path``."""
    frame = repo.read(session, kind, community=community)
    return export_frame(frame, path, kind=kind)


def _conformed(frame: gpd.GeoDataFrame, kind: str) -> bool:
    """Tell whether ``frame`` already has the kind's columns and dtypes (skip a copy)."""
    want = frames.dtypes(kind)
    return (
        list(frame.columns) == list(want.index)
        and frame.geometry.name == "geometry"
        and all(frame[c].dtype == want[c] for c in want.index if c != "geometry")
    )


def _features(frame: gpd.GeoDataFrame, kind: str) -> Iterator[dict[str, Any]]:
    key = frames.kind(kind).key
    if len(key) == 1:
        return geo.geojson_features(frame, id_column=key[0])
    ids = [] if frame.empty else frame[list(key)].astype(str).agg("/".join, axis=1).tolist()
    return _with_ids(geo.geojson_features(frame), ids)


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        for chunk in geo.dumps_features(_features(frame, kind)):
            out.write(chunk)


def _ready(chunks: Iterable[gpd.GeoDataFrame], kind: str) -> Iterator[gpd.GeoDataFrame]:
    for frame in chunks:
        if not _conformed(frame, kind):
            frame = frames.conform(kind, frame)
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(geo.WGS84)
        yield frame


def stream_geojson(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield one RFC 7946 FeatureCollection of all ``chunks`` as text, chunk by chunk."""
    features = (f for frame in _ready(chunks, kind) for f in _features(frame, kind))
    return geo.dumps_features(features)


def stream_geojson_seq(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield a GeoJSON text sequence (RFC 8142: RS, feature, LF) of all ``chunks``."""
    for frame in _ready(chunks, kind):
        lines = (
            "\x1e" + json.dumps(f, ensure_ascii=False, separators=(",", ":")) + "\n"
            for f in _features(frame, kind)
        )
        yield "".join(lines)


def stream_csv(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield the CSV of all ``chunks`` (the columns of :func:`export_frame`'s ``.csv``)."""
    for i, frame in enumerate(_ready(chunks, kind)):
        yield _csv_table(frame, kind).to_csv(index=False, header=i == 0)


def export_chunks(chunks: Iterable[gpd.GeoDataFrame], path: str | Path, *, kind: str) -> int:
    """Write ``chunks`` to a ``.gpkg`` or Shapefile ``.zip`` one at a time; return the count."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gpkg", ".zip"):
        raise ValueError(f"export_chunks writes .gpkg or .zip, not {suffix!r}")
    with tempfile.TemporaryDirectory() as tmp:
        target = path if suffix == ".gpkg" else Path(tmp) / f"{kind}.shp"
        written = 0
        for frame in _ready(chunks, kind):
            if suffix == ".zip":
                frame = frame.rename(
                    columns={k: v for k, v in SHAPEFILE_NAMES.items() if k in frame}
                )
            options: dict[str, Any] = (
                {"layer": kind} if suffix == ".gpkg" else {"encoding": "UTF-8"}
            )
            frame.to_file(target, engine="pyogrio", append=written > 0, **options)
            written += len(frame)
        if written == 0:
            export_frame(frames.empty(kind), path, kind=kind)
        elif suffix == ".zip":
            _zip_folder(Path(tmp), path)
    return written


def _with_ids(features: Iterator[dict[str, Any]], ids: list[str]) -> Iterator[dict[str, Any]]:
    for feature, ident in zip(features, ids, strict=True):
        yield {"type": "Feature", "id": ident, **{k: v for k, v in feature.items() if k != "type"}}


def _write_shapefile_zip(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    short = frame.rename(columns={k: v for k, v in SHAPEFILE_NAMES.items() if k in frame})
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{kind}.shp"
        short.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        _zip_folder(Path(tmp), path)


def _zip_folder(folder: Path, path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)


def _write_csv(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    _csv_table(frame, kind).to_csv(path, index=False, encoding="utf-8")


def _csv_table(frame: gpd.GeoDataFrame, kind: str) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if frames.kind(kind).geometry.startswith("point"):
        points = shapely.get_type_id(geoms) == 0
        xy = np.full((len(frame), 2), np.nan)
        xy[points] = shapely.get_coordinates(geoms[points])
        table["lon"], table["lat"] = xy[:, 0], xy[:, 1]
    table["geometry"] = shapely.to_wkt(geoms, rounding_precision=-1)
    return table
