"""Cheap per-community reads of city files, for a worker that reads one community after another.

A GeoParquet file is opened once per process (its footer parsed once) and a community's rows are
read from the row groups whose ``community_code`` statistics can hold its code, then filtered:
no dataset discovery and no scan of other communities' row groups. A file read whole (barriers
without a ``bbox`` column, small formats) is read once per process, its spatial
index built. Both caches are keyed on the file's path *and* its size, mtime and inode,
so a file rewritten between two runs of a long-lived worker is read again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..ingest.readers import geoparquet_frame, read_any, read_geoparquet, unreadable

__all__ = ["read_by_code", "read_whole"]

_LOCK = threading.Lock()  # a ParquetFile is not safe to read from two threads at once


@dataclass(frozen=True, slots=True)
class _Parquet:
    """An open GeoParquet file and, per row group, the (min, max) of its code column."""

    file: pq.ParquetFile
    ranges: tuple[tuple[str, str] | None, ...] | None  # None: the column is not a string


def _signature(path: Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino


@lru_cache(maxsize=16)
def _parquet(signature: tuple[str, int, int, int], column: str) -> _Parquet:
    file = pq.ParquetFile(signature[0])
    schema = file.schema_arrow
    kind = schema.field(column).type if column in schema.names else None
    if kind is None or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return _Parquet(file, None)
    index = file.schema.names.index(column)  # the leaf column (flat files: the field's index)
    ranges: list[tuple[str, str] | None] = []
    for group in range(file.metadata.num_row_groups):
        stats = file.metadata.row_group(group).column(index).statistics
        known = stats is not None and stats.has_min_max
        ranges.append((str(stats.min), str(stats.max)) if known else None)
    return _Parquet(file, tuple(ranges))


def read_by_code(path: Path, column: str, code: str) -> gpd.GeoDataFrame:
    """Return the rows of GeoParquet ``path`` whose ``column`` equals ``code``.

    The same frame as ``read_geoparquet(path, filters=[(column, "==", code)])``.
    """
    try:
        parquet = _parquet(_signature(path), column)
    except (OSError, ValueError):  # missing or not Parquet: the reader names the problem
        return read_geoparquet(path, filters=[(column, "==", code)])
    if parquet.ranges is None:  # no such string column: the reader's filter says why
        return read_geoparquet(path, filters=[(column, "==", code)])
    groups = [g for g, r in enumerate(parquet.ranges) if r is None or r[0] <= code <= r[1]]
    try:
        with _LOCK:
            table = parquet.file.read_row_groups(groups, use_pandas_metadata=True)
        table = table.filter(pc.equal(table[column], pa.scalar(code, table[column].type)))
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise unreadable(path, exc) from None
    return geoparquet_frame(table, path)


@lru_cache(maxsize=4)
def _whole(signature: tuple[str, int, int, int]) -> gpd.GeoDataFrame:
    frame = read_any(signature[0])
    frame.sindex  # noqa: B018 - built once here, queried by every community
    return frame


def read_whole(path: Path) -> gpd.GeoDataFrame:
    """Return ``path`` read whole with its spatial index built, once per process: do not edit."""
    return _whole(_signature(path)) if path.exists() else read_any(path)
