"""Downloads of grids, micro-grids, layers, households and assignments, streamed.

Formats: ``geojson`` (RFC 7946 FeatureCollection, ``application/geo+json``), ``geojsonseq``
(RFC 8142), ``gpkg``, ``shp`` (zipped Shapefile) and ``csv``. Every dataset is read from the
store in key-ordered chunks (assignments with their grids' shapes, read by code per chunk) and
written out chunk by chunk, so a city-size export runs in bounded memory; all the chunks of one
download are read in one snapshot of the store.
Households are scoped like ``/households`` and their personal numbers masked per role.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import geopandas as gpd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.types import Receive, Scope, Send

from ... import export
from ...privacy import masked
from ...store import repo, snapshot_scope
from ...store.assignments import read_assignment_chunks
from ...store.readonly import still_unchanged
from ...store.users import User
from ..deps import UserDep, require_community
from ..paging import GEOJSON
from ..scope import community_mask, household_reveal, worker_households

__all__ = ["CHUNK", "FORMATS", "router"]

router = APIRouter(tags=["exports"])
CHUNK = 20_000
Dataset = Literal["grids", "microgrids", "layers", "households", "assignments"]
Format = Literal["geojson", "geojsonseq", "gpkg", "shp", "csv"]
FORMATS: dict[str, tuple[str, str]] = {
    "geojson": (GEOJSON, "geojson"),
    "geojsonseq": ("application/geo+json-seq", "geojsons"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}
_KIND = {
    "grids": "grids",
    "microgrids": "grids",
    "layers": "layer_grids",
    "households": "households",
    "assignments": "assignments",
}


def _scoped(frame: gpd.GeoDataFrame, user: User) -> gpd.GeoDataFrame:
    return frame[community_mask(user, frame["community_code"]).to_numpy()]


def _assignments(session: Session, user: User, community: str | None) -> Iterator[gpd.GeoDataFrame]:
    """Yield the assignments ``user`` may download, CHUNK rows at a time, each with the
    geometry of its grid (read by code for the grids of that chunk)."""
    worker = user.worker_id if user.role == "worker" else None
    for rows in read_assignment_chunks(
        session, community=community, worker=worker, chunk_size=CHUNK
    ):
        if user.role == "planner":
            rows = rows[community_mask(user, rows["community_code"]).to_numpy()]
        codes = sorted(set(rows["grid_code"].dropna().astype(str)))
        grids = repo.read(session, "grids", ids=codes) if codes else None
        shapes = (
            gpd.GeoSeries(grids.geometry.to_numpy(), index=grids["code"].to_numpy())
            if grids is not None
            else gpd.GeoSeries([])
        )
        rows = rows.assign(assigned_at=[t.isoformat() for t in rows["assigned_at"]])
        geometry = gpd.GeoSeries(shapes.reindex(rows["grid_code"]).to_numpy(), crs="EPSG:4326")
        yield gpd.GeoDataFrame(rows.reset_index(drop=True), geometry=geometry, crs="EPSG:4326")


def _chunks(
    engine: Engine, user: User, dataset: str, community: str | None, layer: str | None
) -> Generator[gpd.GeoDataFrame, None, None]:
    """Yield what ``user`` may download of ``dataset``, chunk by chunk, in a session of its own
    whose reads all see one snapshot: an edit or a city run committing while the download
    streams changes none of it (no household under a grid code the download lacks).

    A read-only store read without locks has no snapshot to keep if someone changes it: each
    chunk is handed out only while the store is unchanged (:func:`still_unchanged`), else the
    download stops with :data:`~gridsvc.store.readonly.CHANGED`."""
    with snapshot_scope(engine) as session:
        for chunk in _read(session, user, dataset, community, layer):
            still_unchanged(session.connection())
            yield chunk


def _read(
    session: Session, user: User, dataset: str, community: str | None, layer: str | None
) -> Iterator[gpd.GeoDataFrame]:
    """Yield what ``user`` may download of ``dataset``, chunk by chunk, read in ``session``."""
    if dataset == "layers":
        yield from repo.read_chunks(session, "layer_grids", layer=layer, chunk_size=CHUNK)
    elif dataset == "assignments":
        yield from _assignments(session, user, community)
    elif dataset == "households":
        for chunk in repo.read_chunks(session, "households", community=community, chunk_size=CHUNK):
            chunk = _scoped(chunk, user)
            if user.role == "worker":
                chunk = chunk[worker_households(session, user, chunk).to_numpy()]
            yield masked(chunk, household_reveal(session, user, chunk))
    else:
        level = 1 if dataset == "grids" else None
        for chunk in repo.read_chunks(
            session, "grids", community=community, level=level, chunk_size=CHUNK
        ):
            chunk = _scoped(chunk, user)
            yield chunk if dataset == "grids" else chunk[chunk["level"] >= 2]


@router.get("/exports/{dataset}", response_class=Response)
def download(
    request: Request,
    dataset: Dataset,
    user: UserDep,
    format: Annotated[Format, Query(description="file format")] = "geojson",
    community: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    layer: Annotated[str | None, Query(max_length=100, description="layers only")] = None,
) -> Response:
    """Download a dataset in a format; households and assignments are scoped by role."""
    if community is not None:
        require_community(user, community)
    if layer is not None and dataset != "layers":
        raise HTTPException(422, f"layer filters only the layers dataset, not {dataset}")
    if dataset == "assignments" and user.role == "worker" and not user.worker_id:
        raise HTTPException(403, f"account {user.username!r} is linked to no worker id")
    kind = _KIND[dataset]
    media, suffix = FORMATS[format]
    name = f"{dataset}{'-' + community if community else ''}.{suffix}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    chunks = _chunks(request.app.state.engine, user, dataset, community, layer)
    if format in ("gpkg", "shp"):
        handle, path = tempfile.mkstemp(suffix=f".{suffix}", prefix="gridsvc-export-")
        os.close(handle)
        os.unlink(path)  # GDAL creates the file
        try:
            export.export_chunks(chunks, path, kind=kind)
        except BaseException:  # the store gone or changed mid-export: no half file left behind
            Path(path).unlink(missing_ok=True)  # (GDAL creates it at the first chunk)
            raise
        finally:
            chunks.close()
        return FileResponse(
            path, media_type=media, headers=headers, background=BackgroundTask(os.unlink, path)
        )
    stream = {
        "geojson": export.stream_geojson,
        "geojsonseq": export.stream_geojson_seq,
        "csv": export.stream_csv,
    }[format]
    # The first chunk is read before the response starts: a store that cannot be read, or
    # that changed from under its reader already, answers with an error, not a 200 and a
    # truncated body (a failure after the first byte can only abort the connection).
    first = next(chunks, None)
    content = stream(itertools.chain([] if first is None else [first], chunks), kind=kind)
    return _Download(content, chunks, media_type=media, headers=headers)


class _Download(StreamingResponse):
    """A streamed download that ends its ``chunks`` (their snapshot transaction, their pooled
    connection) when the response ends, however it ends: a client hanging up mid-download
    leaves the generators suspended, and only a later garbage collection, if any, would
    close them (meanwhile a connection is out of the pool and PostgreSQL's REPEATABLE READ
    snapshot holds back vacuum; SQLite's open read transaction holds back WAL checkpoints)."""

    def __init__(
        self, content: Iterator[Any], chunks: Generator[Any, None, None], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self._source = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._source.close)
