"""Repository functions: GeoDataFrames in and out of the store. ORM rows never leave here.

Every function takes the session first and keyword arguments after. Frames go in conformed
(``frames.conform``) and in EPSG:4326, and come out the same way, sorted by key. Geometries
travel as WKB both ways, so coordinates and geometry types (Polygon vs MultiPolygon) come back
exactly as stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import (
    ColumnElement,
    Delete,
    Float,
    LargeBinary,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy import (
    delete as sa_delete,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.errors import StoreError
from gridsvc.store.tables import SRID, TABLES

__all__ = [
    "Rows",
    "UpsertCounts",
    "bbox_condition",
    "bbox_params",
    "communities_containing",
    "count",
    "delete",
    "in_bbox",
    "layer_names",
    "read",
    "read_chunks",
    "read_page",
    "read_rows",
    "snapshot",
    "upsert",
]

log = logging.getLogger(__name__)

GEOM = "geom"
_BATCH = 5000
_INDEX_MARGIN = 1e-4  # degrees added around a SpatiaLite index search (float32 boxes)
_BOX_STEP = 3.1e-5  # degrees: twice float32's step at 180°, the slack of a stored box
_LAYER_COLUMNS = ("department", "policy")


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """How many rows an upsert inserted (new keys) and updated (existing keys)."""

    inserted: int
    updated: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated


@dataclass(frozen=True, slots=True)
class Rows:
    """Stored rows as plain Python values (column defaults filled) and their geometries."""

    names: tuple[str, ...]
    records: list[tuple[Any, ...]]
    geometry: np.ndarray

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[Any]:
        """Return the values of one column, in row order."""
        i = self.names.index(name)
        return [r[i] for r in self.records]


def _table(kind: str) -> Table:
    try:
        return TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(sorted(TABLES))}") from None


def upsert(session: Session, kind: str, frame: gpd.GeoDataFrame) -> UpsertCounts:
    """Insert or update the rows of ``frame`` by key; rows with a stored key are updated.

    A key repeated inside ``frame`` keeps its last row. ``layer_grids`` frames also upsert
    their layers (name, department, policy) into the ``layers`` table.
    """
    k = frames.kind(kind)
    table = _table(kind)
    frame = _wgs84(_conform(kind, frame))
    if frame.empty:
        return UpsertCounts(0, 0)
    keyless = frame[list(k.key)].isna().any(axis=1)
    if keyless.any():
        rows_at = ", ".join(str(i) for i in frame.index[keyless][:5])
        raise StoreError(
            f"{kind}: {int(keyless.sum())} rows lack a key ({', '.join(k.key)}), e.g. rows "
            f"{rows_at}; every row needs one"
        )
    before = len(frame)
    frame = frame.drop_duplicates(subset=list(k.key), keep="last")
    if len(frame) < before:
        log.warning("%s: %d repeated keys; kept the last row of each", kind, before - len(frame))
    if kind == "layer_grids":
        _upsert_layers(session, frame)
        frame = frame.drop(columns=list(_LAYER_COLUMNS))
    attributes = [c for c in frame.columns if c != "geometry"]
    rows = _records(frame[attributes])
    for row, blob in zip(rows, _wkb(frame.geometry), strict=True):
        row[GEOM] = blob
    # Upserts never delete, so the growth of the table is the number of new keys.
    before_rows = count(session, kind)
    _execute_upsert(session, table, attributes, k.key, rows, geometry=True)
    inserted = count(session, kind) - before_rows
    counts = UpsertCounts(inserted=inserted, updated=len(frame) - inserted)
    log.info("%s: inserted %d, updated %d", kind, counts.inserted, counts.updated)
    return counts


def _upsert_layers(session: Session, frame: gpd.GeoDataFrame) -> None:
    layers = frame[["layer", *_LAYER_COLUMNS]].drop_duplicates("layer", keep="last")
    layers = layers.rename(columns={"layer": "name"})
    _execute_upsert(
        session,
        TABLES["layers"],
        list(layers.columns),
        ("name",),
        _records(layers),
        geometry=False,
    )


def _execute_upsert(
    session: Session,
    table: Table,
    attributes: list[str],
    key: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    geometry: bool,
) -> None:
    values: dict[str, Any] = {c: bindparam("b_" + c, type_=table.c[c].type) for c in attributes}
    if geometry:
        blob = bindparam("b_" + GEOM, type_=LargeBinary)
        values[GEOM] = func.ST_GeomFromWKB(blob, SRID)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(values)
    updates = [c for c in values if c not in key]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: stmt.excluded[c] for c in updates}
    )
    # Bind names differ from column names: SQLAlchemy reserves those for its own VALUES.
    params = [{"b_" + c: v for c, v in row.items()} for row in rows]
    try:
        for start in range(0, len(params), _BATCH):
            session.execute(stmt, params[start : start + _BATCH])
    except DBAPIError as exc:
        raise StoreError(f"cannot store {table.name}: {exc.orig}") from exc


def _conform(kind: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frames.conform(kind, frame)``, skipping the (slow) work when already done."""
    want = frames.dtypes(kind)
    if list(frame.columns) == list(want.index) and all(frame.dtypes == want):
        k = frames.kind(kind)
        defaults = {c.name: c.default for c in k.columns if c.default is not None}
        if not any(frame[name].isna().any() for name in defaults):
            return frame
    return frames.conform(kind, frame)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return plain-Python records (None for missing), which every driver can bind."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")  # type: ignore[return-value]


def _wkb(geometry: gpd.GeoSeries) -> list[bytes | None]:
    """Return 2D WKB per geometry; None for missing or empty ones."""
    values = np.asarray(geometry.values, dtype=object)
    present = np.flatnonzero(~(shapely.is_missing(values) | shapely.is_empty(values)))
    blobs: list[bytes | None] = [None] * len(values)
    for i, blob in zip(present, shapely.to_wkb(values[present], output_dimension=2), strict=True):
        blobs[i] = bytes(blob)
    return blobs


def _wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is not None and frame.crs.to_epsg() != SRID:
        return frame.to_crs(SRID)
    return frame


def read(
    session: Session,
    kind: str,
    *,
    community: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    layer: str | None = None,
    level: int | None = None,
    ids: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Return the stored rows of ``kind`` matching every filter given, sorted by key.

    ``bbox`` is (min lon, min lat, max lon, max lat) and keeps rows whose geometry intersects
    it; ``community`` filters kinds with a community code; ``layer`` filters ``layer_grids``;
    ``level`` filters ``grids``; ``ids`` keeps the rows with those keys (kinds with a one-column
    key; for ``layer_grids`` with ``layer``, those grid ids of the layer), a keyed read.
    """
    query, names = _select(
        session, kind, community=community, bbox=bbox, layer=layer, level=level, ids=ids
    )
    out = _frame(kind, session.execute(query).all(), names)
    return out.sort_values(list(frames.kind(kind).key), kind="stable").reset_index(drop=True)


def read_rows(
    session: Session,
    kind: str,
    *,
    community: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    level: int | None = None,
    min_level: int | None = None,
    ids: Sequence[str] | None = None,
    parents: Sequence[str] | None = None,
) -> Rows:
    """Return the rows :func:`read` would, sorted by key, as plain values: no DataFrame, for
    the few rows an answer built per request needs. ``parents`` keeps ``grids`` whose
    ``parent_code`` is one of them."""
    query, names = _select(
        session, kind, community=community, bbox=bbox, level=level, min_level=min_level,
        ids=ids, parents=parents,
    )  # fmt: skip
    table = _table(kind)
    rows = session.execute(query.order_by(*(table.c[c] for c in frames.kind(kind).key))).all()
    defaults = {c.name: c.default for c in frames.kind(kind).columns if c.default is not None}
    fill = [(i, defaults[n]) for i, n in enumerate(names) if n in defaults]
    wkb = names.index("wkb")
    records: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i, default in fill:
            if values[i] is None:
                values[i] = default
        del values[wkb]
        records.append(tuple(values))
    blobs = [None if r[wkb] is None else bytes(r[wkb]) for r in rows]
    geometry = shapely.from_wkb(blobs) if blobs else np.empty(0, dtype=object)
    return Rows(tuple(n for n in names if n != "wkb"), records, geometry)


def read_chunks(
    session: Session,
    kind: str,
    *,
    chunk_size: int = 20_000,
    community: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    layer: str | None = None,
    level: int | None = None,
) -> Iterator[gpd.GeoDataFrame]:
    """Yield the rows :func:`read` would return, ``chunk_size`` at a time (bounded memory).

    Pages by key (``WHERE key > last ORDER BY key LIMIT n``; a row comparison for a composite
    key such as layer grids' ``(layer, grid_id)``), so each chunk costs one index range scan
    however deep the export is.
    """
    key = frames.kind(kind).key
    base, names = _select(session, kind, community=community, bbox=bbox, layer=layer, level=level)
    columns = [_table(kind).c[k] for k in key]
    at = [names.index(k) for k in key]
    last: tuple[Any, ...] | None = None
    while True:
        query = base if last is None else base.where(_past(kind, last))
        rows = session.execute(query.order_by(*columns).limit(chunk_size)).all()
        if not rows:
            return
        yield _frame(kind, rows, names)
        if len(rows) < chunk_size:
            return
        last = tuple(rows[-1][i] for i in at)


def _past(kind: str, last: Sequence[Any]) -> ColumnElement[bool]:
    """Return the condition 'key > ``last``' (a row comparison for a composite key such as
    layer grids' ``(layer, grid_id)``): where a key-ordered page after ``last`` starts."""
    columns = [_table(kind).c[k] for k in frames.kind(kind).key]
    if len(columns) == 1:
        return columns[0] > last[0]
    return tuple_(*columns) > tuple_(*last)


def read_page(
    session: Session,
    kind: str,
    *,
    limit: int,
    offset: int = 0,
    after: Sequence[Any] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    layer: str | None = None,
    level: int | None = None,
    min_level: int | None = None,
) -> gpd.GeoDataFrame:
    """Return up to ``limit`` rows of what :func:`read` would return: those past key ``after``
    (the key of the last row of the page before: ``WHERE key > after ORDER BY key LIMIT n``,
    one index range scan however deep), skipping ``offset`` (``ORDER BY key LIMIT n OFFSET
    m``, which reads the ``m`` rows it skips). :func:`count` with the same filters says how
    many match in all.

    ``min_level`` keeps ``grids`` of that level and deeper (micro-grids: 2).
    """
    query, names = _select(session, kind, bbox=bbox, layer=layer, level=level, min_level=min_level)
    table = _table(kind)
    key = [table.c[c] for c in frames.kind(kind).key]
    if after is not None:
        if len(after) != len(key):
            raise ValueError(f"{kind} has a key of {len(key)} columns, not {len(after)}")
        query = query.where(_past(kind, after))
    query = query.order_by(*key).limit(limit)
    rows = session.execute(query.offset(offset) if offset else query).all()
    return _frame(kind, rows, names)


def layer_names(session: Session) -> list[str]:
    """Return the names of the stored departmental layers, sorted."""
    name = TABLES["layers"].c.name
    return [str(n) for n in session.execute(select(name).order_by(name)).scalars()]


def _select(
    session: Session,
    kind: str,
    *,
    community: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    layer: str | None = None,
    level: int | None = None,
    min_level: int | None = None,
    ids: Sequence[str] | None = None,
    parents: Sequence[str] | None = None,
) -> tuple[Select[Any], list[str]]:
    """Return the query of :func:`read` and the names of its result columns."""
    k = frames.kind(kind)
    table = _table(kind)
    columns = [table.c[c] for c in k.column_names if c in table.c]
    wkb = func.ST_AsBinary(table.c[GEOM], type_=LargeBinary).label("wkb")
    query: Select[Any] = select(*columns, wkb)
    if kind == "layer_grids":
        layers = TABLES["layers"]
        query = query.add_columns(layers.c.department, layers.c.policy).outerjoin(
            layers, layers.c.name == table.c.layer
        )
    conditions = _filters(
        kind,
        community=community,
        layer=layer,
        level=level,
        min_level=min_level,
        ids=ids,
        parents=parents,
    )
    for condition in conditions:
        query = query.where(condition)
    if bbox is not None:
        query = query.where(in_bbox(session, table, bbox))
    names = [*(c.name for c in columns), "wkb"]
    if kind == "layer_grids":
        names += list(_LAYER_COLUMNS)
    return query, names


def _frame(kind: str, rows: Sequence[Any], names: list[str]) -> gpd.GeoDataFrame:
    """Return result ``rows`` of :func:`_select` as a conformed frame (unsorted)."""
    data = pd.DataFrame.from_records(rows, columns=names)
    blobs = [None if b is None else bytes(b) for b in data.pop("wkb")]
    dtypes = frames.dtypes(kind)
    data = data.astype({name: dtypes[name] for name in data.columns})
    geometry = gpd.GeoSeries(shapely.from_wkb(blobs), index=data.index, crs=f"EPSG:{SRID}")
    return _conform(kind, gpd.GeoDataFrame(data, geometry=geometry, crs=f"EPSG:{SRID}"))


def _filters(
    kind: str,
    *,
    community: str | None = None,
    layer: str | None = None,
    level: int | None = None,
    min_level: int | None = None,
    ids: Sequence[str] | None = None,
    parents: Sequence[str] | None = None,
) -> list[ColumnElement[bool]]:
    table = _table(kind)
    conditions: list[ColumnElement[bool]] = []
    if ids is not None:
        key = frames.kind(kind).key
        if kind == "layer_grids" and layer is not None:
            key = key[1:]  # (layer, grid_id): the grid ids within the layer
        if len(key) != 1:
            raise ValueError(f"{kind} has a key of {len(key)} columns; read it by filters")
        conditions.append(table.c[key[0]].in_([str(i) for i in ids]))
    if community is not None:
        column = "code" if kind == "communities" else "community_code"
        if column not in table.c:
            raise ValueError(f"{kind} cannot be filtered by community; use bbox")
        conditions.append(table.c[column] == community)
    if layer is not None:
        if kind != "layer_grids":
            raise ValueError(f"only layer_grids can be filtered by layer, not {kind}")
        conditions.append(table.c.layer == layer)
    if level is not None:
        if kind != "grids":
            raise ValueError(f"only grids can be filtered by level, not {kind}")
        conditions.append(table.c.level == int(level))
    if min_level is not None:
        if kind != "grids":
            raise ValueError(f"only grids can be filtered by level, not {kind}")
        conditions.append(table.c.level >= int(min_level))
    if parents is not None:
        if kind != "grids":
            raise ValueError(f"only grids can be filtered by parent, not {kind}")
        conditions.append(table.c.parent_code.in_([str(p) for p in parents]))
    return conditions


def in_bbox(
    session: Session, table: Table, bbox: tuple[float, float, float, float]
) -> ColumnElement[bool]:
    """Return a condition 'geometry of ``table`` intersects bbox' that uses the spatial index.

    ``table`` is any store table with a spatially indexed ``geom`` column.
    """
    dialect = session.get_bind().dialect.name
    return bbox_condition(dialect, table, bbox_params(dialect, bbox))


def bbox_condition(
    dialect: str, table: Table, values: dict[str, Any] | None = None
) -> ColumnElement[bool]:
    """Return :func:`in_bbox`'s condition, bound to ``values`` (from :func:`bbox_params`) or,
    without them, with the bbox left as bind parameters: for a statement built once and run
    many times with ``bbox_params`` (``dialect`` is the engine's: ``postgresql`` or ``sqlite``)."""

    def bound(name: str, type_: Any) -> Any:
        if values is None:
            return bindparam(name, type_=type_)
        return bindparam(name, values[name], type_=type_)

    geom = table.c[GEOM]
    frame = func.ST_GeomFromWKB(bound("bbox_wkb", LargeBinary), SRID)
    if dialect == "postgresql":
        return func.ST_Intersects(geom, frame)
    # SQLite's R*Tree keeps boxes in 32-bit floats (~1.5e-5 degrees apart at 180°): search a
    # slightly larger frame (bbox_params), or a point near a box's edge misses it;
    # ST_Intersects decides.
    candidates = text(
        "SELECT rowid FROM SpatialIndex WHERE f_table_name = :t AND f_geometry_column = :g "
        "AND search_frame = BuildMbr(:bbox_x0, :bbox_y0, :bbox_x1, :bbox_y1, :srid)"
    ).bindparams(
        bindparam("t", table.name),
        bindparam("g", GEOM),
        bindparam("srid", SRID),
        *(bound(f"bbox_{n}", Float) for n in ("x0", "y0", "x1", "y1")),
    )
    rowid: ColumnElement[int] = literal_column(f"{table.name}.rowid")
    return and_(
        rowid.in_(candidates.columns(literal_column("rowid"))),
        func.ST_Intersects(geom, frame) == 1,
    )


def bbox_params(dialect: str, bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    """Return the bind values of :func:`bbox_condition` for ``bbox`` (min lon, min lat, max
    lon, max lat); ValueError when it is not one."""
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if not (minx <= maxx and miny <= maxy):
        raise ValueError(f"bbox {bbox} must be (min lon, min lat, max lon, max lat)")
    # a polygon, or a line or point when the bbox is degenerate (GEOS's envelope of two
    # corners on one meridian or parallel is a zero-area polygon, which intersects nothing)
    frame: shapely.Geometry
    if minx < maxx and miny < maxy:
        frame = shapely.box(minx, miny, maxx, maxy)
    elif minx < maxx or miny < maxy:
        frame = shapely.linestrings([(minx, miny), (maxx, maxy)])
    else:
        frame = shapely.points(minx, miny)
    values: dict[str, Any] = {"bbox_wkb": bytes(shapely.to_wkb(frame, output_dimension=2))}
    if dialect != "postgresql":
        m = _INDEX_MARGIN
        values |= {"bbox_x0": minx - m, "bbox_y0": miny - m, "bbox_x1": maxx + m}
        values["bbox_y1"] = maxy + m
    return values


def count(
    session: Session,
    kind: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    layer: str | None = None,
    level: int | None = None,
    min_level: int | None = None,
) -> int:
    """Return how many rows of ``kind`` (or ``layers``) are stored; with filters, how many
    :func:`read_page` pages through (a COUNT over every match).

    On PostGIS a row whose stored box lies inside ``bbox`` counts without the exact test (it
    intersects): only rows across the bbox's edge are read whole (a bbox over a city of 25k
    grids: 20 ms of server CPU instead of 73 ms, 2026-11-22).
    """
    if bbox is None and layer is None and level is None and min_level is None:
        query = select(func.count()).select_from(_table(kind))
        return int(session.execute(query).scalar_one())
    postgis = session.get_bind().dialect.name == "postgresql"
    query, _ = _select(
        session, kind, bbox=None if postgis else bbox, layer=layer, level=level,
        min_level=min_level,
    )  # fmt: skip
    if postgis and bbox is not None:
        geom = _table(kind).c[GEOM]
        frame = func.ST_GeomFromWKB(bbox_params("postgresql", bbox)["bbox_wkb"], SRID)
        inside: ColumnElement[bool] = func.ST_Intersects(geom, frame)
        minx, miny, maxx, maxy = bbox
        s = _BOX_STEP  # stored boxes are float32, rounded outward: `@` on the bbox itself
        if maxx - minx > 2 * s and maxy - miny > 2 * s:  # counted rows up to ~1 m outside it
            inner = func.ST_MakeEnvelope(minx + s, miny + s, maxx - s, maxy - s, SRID)
            inside = geom.bool_op("@")(inner) | inside
        query = query.where(inside)
    query = query.with_only_columns(func.count(), maintain_column_froms=True)
    return int(session.execute(query).scalar_one())


def delete(
    session: Session,
    kind: str,
    *,
    community: str | None = None,
    level: int | None = None,
    layer: str | None = None,
) -> int:
    """Delete the rows of ``kind`` matching every filter (all rows if none); return how many.

    Deleting ``layer_grids`` also deletes layers left without grids.
    """
    table = _table(kind)
    stmt: Delete = sa_delete(table)
    for condition in _filters(kind, community=community, layer=layer, level=level):
        stmt = stmt.where(condition)
    deleted = int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
    if kind == "layer_grids":
        layers, grids = TABLES["layers"], table
        orphan = ~exists().where(grids.c.layer == layers.c.name)
        session.execute(sa_delete(layers).where(orphan))
    log.info("%s: deleted %d", kind, deleted)
    return deleted


def communities_containing(session: Session, points: gpd.GeoSeries) -> pd.Series:
    """Return, for each point, the code of the stored community covering it (or NA).

    A point on a boundary shared by two communities gets the smaller code. The result has the
    index of ``points``.
    """
    if points.crs is not None and points.crs.to_epsg() != SRID:
        points = points.to_crs(SRID)
    result = pd.Series(pd.NA, index=points.index, dtype="string", name="community_code")
    if points.empty:
        return result
    communities = read(session, "communities")
    if communities.empty:
        return result
    tree = shapely.STRtree(np.asarray(communities.geometry.values, dtype=object))
    values = np.asarray(points.values, dtype=object)
    point_idx, community_idx = tree.query(values, predicate="covered_by")
    # communities are sorted by code: the first hit of each point is the smallest code.
    order = np.lexsort((community_idx, point_idx))
    point_idx, community_idx = point_idx[order], community_idx[order]
    first = np.unique(point_idx, return_index=True)[1]
    codes = communities["code"].to_numpy(dtype=object)[community_idx[first]]
    result.iloc[point_idx[first]] = codes
    return result


def snapshot(session: Session) -> dict[str, int]:
    """Return the row count of every table, by table name."""
    return {name: count(session, name) for name in sorted(TABLES)}
