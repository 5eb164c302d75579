"""The input digest of a community: SHA-256 over the settings and each frame's rows, in any order.

Each frame becomes an Arrow table (geometry as WKB) whose rows are sorted on all their columns
in a total order of the bytes hashed (:func:`_order`): rows that tie are equal byte for byte,
so the same rows in any order hash alike, and a file rewritten in another order or row-group
layout gives the same digest. Each column is then hashed from its Arrow buffers: its validity
first (a missing value is not its text, "None" or "nan"), then its values (lengths and bytes
for text and WKB), with no Python object per value.

A float's bytes are its value's, but for two cases. NaNs are hashed as one NaN (their payload
bits mean nothing to pandas or numpy, and a NaN read as missing already hashes as missing).
-0.0 is not 0.0: it is a distinct value a user can see (it prints, and is written back, as
``-0.0``; ``1 / x`` and ``copysign`` tell it apart), as it is in the WKB of a coordinate; a
digest that called them equal could skip a changed input, while one that tells them apart
costs at most a needless rerun.
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
_BITS = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}  # a float's bits as an integer


def frames_digest(frames: Mapping[str, gpd.GeoDataFrame | None], settings: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of ``settings`` and every frame's rows, whatever their order."""
    sha = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, frame in frames.items():
        sha.update(json.dumps(["frame", name, None if frame is None else len(frame)]).encode())
        if frame is None:
            continue
        table = _table(frame)
        for column, array in zip(
            table.column_names, table.take(_order(table)).columns, strict=True
        ):
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
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_floating(array.type) and pc.any(pc.is_nan(array)).as_py():
        array = pc.if_else(pc.is_nan(array), pa.scalar(float("nan")).cast(array.type), array)
    return array


def _order(table: pa.Table) -> pa.Array:
    """Return the order to hash ``table``'s rows in: a total order of their hashed bytes.

    Arrow sorts values, not bytes: -0.0 ties 0.0, and it cannot sort lists or structs. Rows
    tying on every column it sorts but differing in a float's sign or in a nested column would
    be hashed in the order they came in. So the rows are sorted on all the columns Arrow
    sorts (a half float as the 32-bit float it widens to exactly: Arrow sorts no half floats),
    then, to break such ties only, on each float column's bits (an integer of its width) and
    each nested column's JSON text per row (the text :func:`_column_bytes` hashes).
    Rows with no such tie keep the order they had before these keys: their digest is as it was.
    """
    keys: dict[str, pa.Array | pa.ChunkedArray] = {}
    ties: dict[str, pa.Array] = {}
    for n, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        if pa.types.is_nested(field.type):
            texts = [None if v is None else _json(v) for v in column.to_pylist()]
            ties[f"tie{n}"] = pa.array(texts, type=pa.large_string())
        else:
            # Arrow cannot sort half floats; as 32-bit floats (exact) they sort by value alike
            halves = pa.types.is_float16(field.type)
            keys[f"key{n}"] = column.cast(pa.float32()) if halves else column
            if pa.types.is_floating(field.type):
                ties[f"tie{n}"] = column.combine_chunks().view(_BITS[field.type.bit_width])
    by = pa.table({**keys, **ties})
    return pc.sort_indices(by, sort_keys=[(name, "ascending") for name in by.column_names])


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
        yield _json(array.to_pylist()).encode()


def _json(value: object) -> str:
    """Return ``value`` (a column's values, or one) as JSON text, keys sorted."""
    return json.dumps(value, default=str, sort_keys=True)


def _byte_width(kind: pa.DataType) -> int:
    """Return the bytes per value of a fixed-width type, 0 for any other."""
    try:
        bits = int(kind.bit_width)
    except ValueError:  # not fixed-width
        return 0
    return bits // 8 if bits % 8 == 0 and not pa.types.is_nested(kind) else 0
