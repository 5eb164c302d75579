"""Write a frame of one kind to a file, format by suffix; every format re-imports losslessly.

- ``.geojson``: RFC 7946 via :mod:`gridsvc.geo`, built column by column and written a
  piece at a time; ``id`` is the kind's key (``layer/grid_id`` for layer grids).
- ``.gpkg``: one layer named after the kind.
- ``.zip``: a zipped Shapefile (UTF-8 ``.cpg``); field names over 10 characters are written
  with the short names in :data:`gridsvc.ingest.readers.SHAPEFILE_NAMES`, which the reader
  maps back.
- ``.csv``: a WKT ``geometry`` column at full precision, plus ``lon``/``lat`` for point kinds.
- ``.parquet``: GeoParquet; from the store, one row group per chunk read.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
from sqlalchemy.orm import Session

from gridsvc import frames, geo
from gridsvc.ingest.readers import SHAPEFILE_NAMES
from gridsvc.store import read_snapshot, repo

__all__ = [
    "CHUNK",
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
CHUNK = 20_000  # rows read from the store at a time
PIECE = 1_000  # rows turned into GeoJSON text at a time


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
    session: Session,
    path: str | Path,
    *,
    kind: str,
    community: str | None = None,
    chunk_size: int = CHUNK,
) -> int:
    """Read ``kind`` (optionally one community's) from the store and write it to ``path``.

    Every format of every kind is read and written ``chunk_size`` rows at a time, in key
    order (memory stays flat however big the table). A ``session`` outside a transaction
    reads every chunk in one read-only transaction of its own, one snapshot
    (:func:`gridsvc.store.read_snapshot`), ended when the export is: rows committed beside the
    export never mix into it. A session already in a transaction reads in that one, as its
    caller set it up.

    With its own transaction the file is written beside ``path`` and renamed onto it once the
    transaction committed: an export that fails (the database gone, a read-only store changed
    under the read: :data:`~gridsvc.store.readonly.CHANGED` at commit) leaves no file that
    looks complete, and a file already at ``path`` as it was. The partial file's name is the
    export's own (``.<stem>.<random>.partial<suffix>``): two exports to one path at once each
    write theirs whole, the last renamed stays. One killed before its cleanup leaves its
    partial file behind (hidden; no later export can tell it from one still running).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported export format {suffix!r}; use one of {', '.join(FORMATS)}")
    if session.in_transaction():
        return _export_kind(session, path, kind=kind, community=community, chunk_size=chunk_size)
    # a name of its own: two exports to one path at once must not write (or remove) one file
    partial = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.partial{path.suffix}")
    try:
        with session.begin():
            read_snapshot(session)
            rows = _export_kind(
                session, partial, kind=kind, community=community, chunk_size=chunk_size
            )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def _export_kind(
    session: Session, path: Path, *, kind: str, community: str | None, chunk_size: int
) -> int:
    suffix = path.suffix.lower()
    chunks = repo.read_chunks(session, kind, community=community, chunk_size=chunk_size)
    if suffix in (".gpkg", ".zip", ".parquet"):
        return export_chunks(chunks, path, kind=kind)
    counted = _counting(chunks)
    stream = stream_geojson if suffix == ".geojson" else stream_csv
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        for text in stream(counted, kind=kind):
            out.write(text)
    log.info("exported %d %s to %s", counted.rows, kind, path)
    return counted.rows


class _counting:
    """Pass chunks through, counting their rows."""

    def __init__(self, chunks: Iterable[gpd.GeoDataFrame]) -> None:
        self.chunks = chunks
        self.rows = 0

    def __iter__(self) -> Iterator[gpd.GeoDataFrame]:
        for chunk in self.chunks:
            self.rows += len(chunk)
            yield chunk


def _conformed(frame: gpd.GeoDataFrame, kind: str) -> bool:
    """Tell whether ``frame`` already has the kind's columns and dtypes (skip a copy)."""
    want = frames.dtypes(kind)
    return (
        list(frame.columns) == list(want.index)
        and frame.geometry.name == "geometry"
        and all(frame[c].dtype == want[c] for c in want.index if c != "geometry")
    )


def _features(frame: gpd.GeoDataFrame, kind: str) -> Iterator[list[str]]:
    """Yield the GeoJSON feature texts of ``frame``, :data:`PIECE` rows at a time."""
    key = frames.kind(kind).key
    for start in range(0, len(frame), PIECE):
        piece = frame.iloc[start : start + PIECE]
        if len(key) == 1:
            yield geo.feature_texts(piece, id_column=key[0])
        else:
            ids = piece[list(key)].astype(str).agg("/".join, axis=1).tolist()
            yield geo.feature_texts(piece, ids=ids)


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        for text in geo.stream_collection(_features(frame, kind)):
            out.write(text)


def _ready(chunks: Iterable[gpd.GeoDataFrame], kind: str) -> Iterator[gpd.GeoDataFrame]:
    for frame in chunks:
        if not _conformed(frame, kind):
            frame = frames.conform(kind, frame)
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(geo.WGS84)
        yield frame


def stream_geojson(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield one RFC 7946 FeatureCollection of all ``chunks`` as text, piece by piece."""
    pieces = (texts for frame in _ready(chunks, kind) for texts in _features(frame, kind))
    return geo.stream_collection(pieces)


def stream_geojson_seq(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield a GeoJSON text sequence (RFC 8142: RS, feature, LF) of all ``chunks``."""
    for frame in _ready(chunks, kind):
        for texts in _features(frame, kind):
            yield "".join(["\x1e" + text + "\n" for text in texts])


def stream_csv(chunks: Iterable[gpd.GeoDataFrame], *, kind: str) -> Iterator[str]:
    """Yield the CSV of all ``chunks`` (the columns of :func:`export_frame`'s ``.csv``); no
    chunks at all still give the header, so an empty export re-imports as an empty table."""
    header = True
    for frame in _ready(chunks, kind):
        yield _csv_table(frame, kind).to_csv(index=False, header=header)
        header = False
    if header:
        yield _csv_table(frames.empty(kind), kind).to_csv(index=False)


def export_chunks(chunks: Iterable[gpd.GeoDataFrame], path: str | Path, *, kind: str) -> int:
    """Write ``chunks`` to a ``.gpkg``, Shapefile ``.zip`` or ``.parquet`` one at a time;
    return the count."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gpkg", ".zip", ".parquet"):
        raise ValueError(f"export_chunks writes .gpkg, .zip or .parquet, not {suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        return _write_parquet_chunks(_ready(chunks, kind), path, kind)
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


def _write_parquet_chunks(chunks: Iterable[gpd.GeoDataFrame], path: Path, kind: str) -> int:
    """Write GeoParquet as ``frame.to_parquet`` would, one row group per chunk, each row
    written once.

    GeoParquet's ``geo`` metadata (bbox, geometry types of all rows) is only known after the
    last chunk. Parquet keeps key-value metadata in the footer, written on close, so the
    writer puts the schema's metadata, with the merged ``geo``, there at the end. It does not
    store the Arrow schema (``store_schema=False``): readers would take that copy's metadata,
    whose ``geo`` is the first chunk's.
    """
    from geopandas.io.arrow import _geopandas_to_arrow

    written, meta = 0, None
    writer: pq.ParquetWriter | None = None
    try:
        for frame in chunks:
            table = _geopandas_to_arrow(frame, index=False)
            meta = _merge_geo(meta, json.loads(table.schema.metadata[b"geo"]))
            writer = writer or pq.ParquetWriter(path, table.schema, store_schema=False)
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
            written += len(frame)
        if writer is not None:  # the schema's metadata (pandas dtypes), ``geo`` of all rows
            writer.add_key_value_metadata(
                {**writer.schema.metadata, b"geo": json.dumps(meta).encode()}
            )
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        export_frame(frames.empty(kind), path, kind=kind)
    return written


def _merge_geo(meta: dict[str, Any] | None, chunk: dict[str, Any]) -> dict[str, Any]:
    """Return GeoParquet metadata covering ``meta``'s rows and ``chunk``'s (bbox, types)."""
    if meta is None:
        return chunk
    for name, column in meta["columns"].items():
        other = chunk["columns"][name]
        column["geometry_types"] = sorted({*column["geometry_types"], *other["geometry_types"]})
        if "bbox" in column and "bbox" in other:
            a, b = column["bbox"], other["bbox"]
            column["bbox"] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
        elif "bbox" in other:
            column["bbox"] = other["bbox"]
    return meta


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
