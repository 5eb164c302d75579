"""Bulk writes: COPY on PostGIS, the batched executemany upsert elsewhere.

``replace_rows`` swaps a community's rows of one kind in the caller's transaction: a delete,
then one ``COPY <table> (...) FROM STDIN`` on PostGIS (psycopg 3 ``cursor.copy``; geometries
travel as hex EWKB with SRID 4326), or :func:`gridsvc.store.repo.upsert` (batched executemany) on
SpatiaLite. Nothing is committed here: the caller's ``session_scope`` decides.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from sqlalchemy.orm import Session

from gridsvc.errors import StoreError
from gridsvc.store import repo
from gridsvc.store.tables import SRID, TABLES

__all__ = ["copy_rows", "copy_text", "replace_rows", "write_rows"]

log = logging.getLogger(__name__)

NULL = "\\N"
_PIECE = 20_000  # rows turned into COPY text at a time
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def replace_rows(session: Session, kind: str, community: str, frame: gpd.GeoDataFrame) -> int:
    """Replace the stored rows of ``kind`` in ``community`` by ``frame``; return the rows.

    ``kind`` is one with a community code (grids of every level, households, buildings).
    """
    frame = repo._wgs84(repo._conform(kind, frame))
    other = frame["community_code"].astype(str) != community
    if other.any():
        raise StoreError(
            f"{kind} of community {community}: {int(other.sum())} rows belong to community "
            f"{frame.loc[other, 'community_code'].iloc[0]}; write each community on its own"
        )
    repo.delete(session, kind, community=community)
    return write_rows(session, kind, frame)


def write_rows(session: Session, kind: str, frame: gpd.GeoDataFrame) -> int:
    """Insert ``frame`` as new rows of ``kind``: COPY on PostGIS, upsert elsewhere; return rows.

    The rows must not exist yet (COPY does not update); for a fresh store or a bench load.
    """
    frame = repo._wgs84(repo._conform(kind, frame))
    if frame.empty:
        return 0
    if session.get_bind().dialect.name != "postgresql":
        return repo.upsert(session, kind, frame).total
    return copy_rows(session, kind, frame)


def copy_rows(session: Session, kind: str, frame: gpd.GeoDataFrame) -> int:
    """COPY the rows of a conformed, EPSG:4326 ``frame`` into ``kind``'s table (PostGIS only)."""
    table = TABLES[kind]
    attributes = [c for c in frame.columns if c != "geometry" and c in table.c]
    columns = ", ".join(f'"{c}"' for c in [*attributes, repo.GEOM])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for start in range(0, len(frame), _PIECE):
                copy.write(copy_text(frame.iloc[start : start + _PIECE], attributes))
    except Exception as exc:  # psycopg errors: name the table, keep the driver's words
        raise StoreError(f"cannot copy {len(frame)} rows into {table.name}: {exc}") from exc
    finally:
        cursor.close()
    log.info("%s: copied %d rows", kind, len(frame))
    return len(frame)


def copy_text(frame: gpd.GeoDataFrame, attributes: list[str]) -> bytes:
    """Return ``frame``'s ``attributes`` and geometry as COPY text, built column by column.

    One line per row, fields tab-separated, ``\\N`` for missing values, text escaped as
    COPY's text format wants (backslash, tab, newline, carriage return); the geometry as hex
    EWKB with SRID 4326 (missing or empty geometries are NULL).
    """
    fields = [_field(frame[name]) for name in attributes]
    values = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    ewkb = np.full(len(values), None, dtype=object)
    ewkb[present] = shapely.to_wkb(
        shapely.set_srid(values[present], SRID), hex=True, include_srid=True, output_dimension=2
    )
    fields.append(pc.fill_null(pa.array(ewkb, type=pa.string()), NULL))
    lines = pc.binary_join_element_wise(*fields, "\t")
    return ("\n".join(lines.to_pylist()) + "\n").encode() if len(lines) else b""


def _field(series: pd.Series) -> pa.Array:
    """Return ``series`` as COPY text fields (escaped text, numbers, t/f, NULL as ``\\N``)."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
        text = pc.cast(pa.array(series, from_pandas=True), pa.string())
    elif pd.api.types.is_float_dtype(series.dtype):  # repr: the shortest text that round-trips
        text = pa.array([None if pd.isna(v) else repr(float(v)) for v in series], pa.string())
    else:
        if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
            text = pa.array(series, from_pandas=True, type=pa.string())
        else:  # objects of any type: their str(), as the driver would send them
            plain = series.astype(object).where(series.notna(), None)
            text = pa.array([None if v is None else str(v) for v in plain], pa.string())
        for char, escaped in _ESCAPES:
            text = pc.replace_substring(text, char, escaped)
    return pc.fill_null(text, NULL)
