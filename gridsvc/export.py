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

import logging
import tempfile
import zipfile
from collections.abc import Iterator
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

__all__ = ["FORMATS", "export_frame", "export_kind"]

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
    shape = frames.empty(kind)
    return (
        list(frame.columns) == list(shape.columns)
        and frame.geometry.name == "geometry"
        and all(frame[c].dtype == shape[c].dtype for c in shape.columns if c != "geometry")
    )


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    key = frames.kind(kind).key
    if len(key) == 1:
        features: Iterator[dict[str, Any]] = geo.geojson_features(frame, id_column=key[0])
    else:
        ids = frame[list(key)].astype(str).agg("/".join, axis=1).tolist()
        features = _with_ids(geo.geojson_features(frame), ids)
    with path.open("w", encoding="utf-8") as out:
        for chunk in geo.dumps_features(features):
            out.write(chunk)


def _with_ids(features: Iterator[dict[str, Any]], ids: list[str]) -> Iterator[dict[str, Any]]:
    for feature, ident in zip(features, ids, strict=True):
        yield {"type": "Feature", "id": ident, **{k: v for k, v in feature.items() if k != "type"}}


def _write_shapefile_zip(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    short = frame.rename(columns={k: v for k, v in SHAPEFILE_NAMES.items() if k in frame})
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{kind}.shp"
        short.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(Path(tmp).iterdir()):
                archive.write(member, member.name)


def _write_csv(frame: gpd.GeoDataFrame, path: Path, kind: str) -> None:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if frames.kind(kind).geometry.startswith("point"):
        points = shapely.get_type_id(geoms) == 0
        xy = np.full((len(frame), 2), np.nan)
        xy[points] = shapely.get_coordinates(geoms[points])
        table["lon"], table["lat"] = xy[:, 0], xy[:, 1]
    table["geometry"] = shapely.to_wkt(geoms, rounding_precision=-1)
    table.to_csv(path, index=False, encoding="utf-8")
