"""The input digest of a community: SHA-256 over the settings and each frame's rows, in any order.

Each frame becomes an Arrow table (geometry as WKB) whose rows are sorted on all their columns:
the same rows in any order sort alike (rows equal in every column are interchangeable), so a
file rewritten in another order or row-group layout gives the same digest. Each column is then
hashed from its Arrow buffers: its validity first (a missing value is not its text, "None" or
"nan"), then its values (lengths and bytes for text and WKB), with no Python object per value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

__all__ = ["frames_digest"]

_UNCONVERTIBLE = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def frames_digest(frames: Mapping[str, gpd.GeoDataFrame | None], settings: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of ``settings`` and every frame's rows, whatever their order."""
    sha = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, frame in frames.items():
        sha.update(json.dumps(["frame", name, None if frame is None else len(frame)]).encode())
        if frame is None:
            continue
        table = _table(frame)
        order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in _sortable(table)])
        for column, array in zip(table.column_names, table.take(order).columns, strict=True):
            sha.update(json.dumps(["column", column, str(array.type)]).encode())
            for part in _column_bytes(array.combine_chunks()):
                sha.update(part)
    return sha.hexdigest()


def _table(frame: gpd.GeoDataFrame) -> pa.Table:
    """Return ``frame`` as an Arrow table: its geometry encoded, other columns as they are."""
    geometry = frame.geometry.name
    plain = pd.DataFrame(frame)  # a plain frame's columns are cheaper to take
    columns = {
        str(name): _geometry(plain[name]) if name == geometry else _arrow(plain[name])
        for name in plain.columns
    }
    return pa.table(columns)


def _geometry(series: pd.Series) -> pa.Array:
    """Return geometries as WKB, or all-2D points (households) as their 16 bytes of x and y.

    The two encodings have different Arrow types, which enter the hash: they never collide.
    """
    geoms = np.asarray(series.array)
    kinds = shapely.get_type_id(geoms)
    if (
        len(geoms)
        and (kinds == 0).all()
        and not (shapely.has_z(geoms) | shapely.is_empty(geoms)).any()
    ):
        xy = np.ascontiguousarray(shapely.get_coordinates(geoms), dtype="<f8")
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), len(geoms), [None, pa.py_buffer(xy)]
        )
    return pa.array(shapely.to_wkb(geoms, byte_order=1), type=pa.large_binary())


def _arrow(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Return ``series`` as Arrow; values of mixed Python types as their type and text (missing
    kept): the number 1 and the text "1" stay apart."""
    try:
        array = pa.array(series, from_pandas=True)
    except _UNCONVERTIBLE:
        missing, values = series.isna().to_numpy(), series.to_numpy(object)
        text = [
            None if m else f"{type(v).__qualname__}:{v}"
            for v, m in zip(values, missing, strict=True)
        ]
        return pa.array(text, type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _sortable(table: pa.Table) -> list[str]:
    """Return the columns to order rows by: all but nested ones (lists, structs)."""
    return [f.name for f in table.schema if not pa.types.is_nested(f.type)]


def _column_bytes(array: pa.Array) -> Iterator[bytes | memoryview]:
    """Yield the canonical bytes of ``array``: validity, then values (zero under a null)."""
    nulls = array.null_count > 0
    valid = (
        pc.is_valid(array).to_numpy(zero_copy_only=False) if nulls else np.ones(len(array), bool)
    )
    yield valid.tobytes()
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        array = array.cast(pa.large_binary())
    width = _byte_width(kind)
    if pa.types.is_large_binary(array.type):
        array = pc.fill_null(array, b"") if nulls else array
        offsets = np.frombuffer(array.buffers()[1], np.int64)[array.offset :][: len(array) + 1]
        yield (offsets - offsets[0]).tobytes()
        data = array.buffers()[2]
        yield b"" if data is None else memoryview(data)[offsets[0] : offsets[-1]]  # type: ignore[index]
    elif pa.types.is_boolean(kind):
        yield pc.fill_null(array, False).to_numpy(zero_copy_only=False).tobytes()
    elif width:  # numbers, timestamps, decimals, points: the values buffer, a null's bytes zeroed
        raw = np.frombuffer(array.buffers()[1], np.uint8)[array.offset * width :]
        values = raw[: len(array) * width].reshape(len(array), width)
        if nulls:
            values = values.copy()
            values[~valid] = 0
        yield values.tobytes()
    else:  # nested or other types (rare in inputs): their values as JSON text
        yield json.dumps(array.to_pylist(), default=str, sort_keys=True).encode()


def _byte_width(kind: pa.DataType) -> int:
    """Return the bytes per value of a fixed-width type, 0 for any other."""
    try:
        bits = int(kind.bit_width)
    except ValueError:  # not fixed-width
        return 0
    return bits // 8 if bits % 8 == 0 and not pa.types.is_nested(kind) else 0
