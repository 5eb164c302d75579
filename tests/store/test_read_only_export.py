"""A streamed download from a read-only SpatiaLite store read without locks (immutable) that
someone changes: it fails before its first byte if the store changed before the first chunk
was handed out (503, the store's CHANGED error), and if it changes mid-stream the connection
is aborted before anything read after the change is sent: no body a client could take for a
whole file (an unfinished chunked body; the GeoJSON left open).

A real uvicorn server on 127.0.0.1, a real HTTP client, a real writer changing the file at a
chosen statement of the download's transaction (the reader's own event: no mock).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pytest
from fastapi import FastAPI
from published import written_store
from served import served
from shapely.geometry import box
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.api.app import create_app
from gridsvc.api.routes import exports
from gridsvc.config import Settings
from gridsvc.errors import StoreChangedError
from gridsvc.export import export_kind
from gridsvc.store import make_engine, session_scope, upsert
from gridsvc.store.users import add_user

A, B = "420111001001", "420111001002"
GRIDS = [f"{A}00{i}" for i in range(1, 4)]
CHANGED = (
    "the read-only store {path} changed while gridsvc read it without locks (immutable: "
    "nobody could write it when it was opened); the answer may mix two states: ask again"
)


def _communities(*codes: str) -> gpd.GeoDataFrame:
    geoms = [box(114.0 + i * 0.01, 30.0, 114.01 + i * 0.01, 30.01) for i in range(len(codes))]
    return gpd.GeoDataFrame({"code": list(codes)}, geometry=geoms, crs="EPSG:4326")


def _grids() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"code": GRIDS, "community_code": [A] * 3, "level": [1] * 3, "residents": [5, 6, 7]},
        geometry=[box(114.0 + i * 0.003, 30.0, 114.003 + i * 0.003, 30.01) for i in range(3)],
        crs="EPSG:4326",
    )
    return frames.conform("grids", frame)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A published store (WAL, closed) of community A with three grids, the file 0444."""

    def fill(session: Session) -> None:
        upsert(session, "communities", _communities(A))
        upsert(session, "grids", _grids())
        add_user(session, username="admin", password="correct horse", role="admin")

    path = written_store(tmp_path, fill)
    path.chmod(0o444)
    try:
        yield path
    finally:
        path.chmod(0o644)


def _change(path: Path) -> None:
    """What the store's owner does: make it writable, add a community, make it read-only."""
    path.chmod(0o644)
    writer = make_engine(f"sqlite:///{path}")
    with session_scope(writer) as session:
        upsert(session, "communities", _communities(A, B).iloc[[1]])
    writer.dispose()
    path.chmod(0o444)


def _change_before_grid_read(engine: Engine, path: Path, nth: int) -> None:
    """Change the store just before ``engine``'s ``nth`` read of grids (one per chunk)."""
    reads = 0

    def _before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal reads
        if statement.lstrip().startswith("SELECT") and "FROM grids" in statement:
            reads += 1
            if reads == nth:
                _change(path)

    event.listen(engine, "before_cursor_execute", _before)


def _download(client: httpx.Client, format: str) -> tuple[httpx.Response, bytes, bool]:
    """GET the grids as ``format``; return the response, the body received and whether the
    body ended as HTTP says a body ends (not aborted)."""
    received = b""
    with client.stream("GET", "/api/v1/exports/grids", params={"format": format}) as response:
        try:
            for part in response.iter_raw():
                received += part
        except httpx.RemoteProtocolError as exc:
            assert "incomplete chunked read" in str(exc)
            return response, received, False
    return response, received, True


@pytest.fixture
def app(store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setattr(exports, "CHUNK", 1)  # one grid a chunk: a read per grid
    app = create_app(Settings(database_url=f"sqlite:///{store}", secret_key="x" * 40))
    yield app
    app.state.engine.dispose()


@pytest.mark.parametrize("format", ["geojson", "csv"])
def test_an_unchanged_read_only_store_streams_whole(app: FastAPI, format: str) -> None:
    with served(app, "admin", "correct horse") as client:
        response, body, complete = _download(client, format)
    assert response.status_code == 200 and complete
    text = body.decode()
    if format == "geojson":
        assert [f["id"] for f in json.loads(text)["features"]] == GRIDS
    else:
        assert [line.split(",")[0] for line in text.splitlines()[1:]] == GRIDS


@pytest.mark.parametrize("format", ["geojson", "csv"])
def test_a_store_changed_before_the_first_chunk_answers_503_before_any_byte(
    app: FastAPI, store: Path, format: str
) -> None:
    """The store changes after the download's connection was checked out, before its first
    read: the answer is the 503 problem naming the file, not a 200 and a cut body."""
    _change_before_grid_read(app.state.engine, store, 1)
    with served(app, "admin", "correct horse") as client:
        response, body, complete = _download(client, format)
        assert response.status_code == 503 and complete
        assert response.headers["content-type"] == "application/problem+json"
        assert json.loads(body)["detail"] == CHANGED.format(path=store)
        assert response.headers["retry-after"] == "1"
        again, body, complete = _download(client, format)  # asked again: the new state
    assert again.status_code == 200 and complete


@pytest.mark.parametrize("format", ["geojson", "csv"])
def test_a_store_changed_mid_stream_aborts_the_download_before_the_next_chunk(
    app: FastAPI, store: Path, format: str
) -> None:
    """The store changes after the first chunk was sent: the second (read after the change)
    is never sent, and the body is cut without the chunked end (and the GeoJSON open)."""
    _change_before_grid_read(app.state.engine, store, 2)
    with served(app, "admin", "correct horse") as client:
        response, body, complete = _download(client, format)
    assert response.status_code == 200 and not complete
    text = body.decode()
    assert GRIDS[0] in text and GRIDS[1] not in text and GRIDS[2] not in text
    if format == "geojson":
        assert text.startswith('{"type":"FeatureCollection"') and not text.rstrip().endswith("]}")
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_a_file_export_the_store_changed_under_leaves_the_old_file_and_no_partial_one(
    store: Path, tmp_path: Path, suffix: str
) -> None:
    """``export_kind`` (``gridsvc export``) on the read-only store: a change under its read
    fails at commit with CHANGED, and the file already at the path is left as it was (the
    export went to a partial file beside it, removed); unchanged, the export replaces it."""
    out = tmp_path / "out" / f"grids{suffix}"
    out.parent.mkdir()
    out.write_bytes(b"the earlier export")
    reader = make_engine(f"sqlite:///{store}")
    _change_before_grid_read(reader, store, 1)
    try:
        with pytest.raises(StoreChangedError) as caught, Session(reader) as session:
            export_kind(session, out, kind="grids", chunk_size=1)
        assert str(caught.value) == CHANGED.format(path=store)
        assert out.read_bytes() == b"the earlier export"
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
        with Session(reader) as session:  # asked again: one state, written whole
            assert export_kind(session, out, kind="grids", chunk_size=1) == 3
    finally:
        reader.dispose()
    assert sorted(gpd.read_file(out)["code"]) == GRIDS
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_two_file_exports_to_one_path_at_once_both_write_it_whole(
    store: Path, tmp_path: Path, suffix: str
) -> None:
    """A second ``gridsvc export`` to the same path runs whole while the first is between
    two chunks: each writes its own partial file (one name for both, the second removed the
    first's and the first's rename then failed), and the path ends with every grid."""
    out = tmp_path / "out" / f"grids{suffix}"
    out.parent.mkdir()
    first, second = make_engine(f"sqlite:///{store}"), make_engine(f"sqlite:///{store}")
    rows: list[int] = []
    reads = 0

    def _before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal reads
        if statement.lstrip().startswith("SELECT") and "FROM grids" in statement:
            reads += 1
            if reads == 2:
                with Session(second) as session:
                    rows.append(export_kind(session, out, kind="grids", chunk_size=1))

    event.listen(first, "before_cursor_execute", _before)
    try:
        with Session(first) as session:
            rows.append(export_kind(session, out, kind="grids", chunk_size=1))
    finally:
        first.dispose()
        second.dispose()
    assert rows == [3, 3]
    assert sorted(gpd.read_file(out)["code"]) == GRIDS
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.parametrize("format", ["gpkg", "shp"])
def test_a_file_download_the_store_changed_under_answers_503_and_leaves_no_file(
    app: FastAPI, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    """A GeoPackage or Shapefile download is written to a temporary file before the answer:
    the store changing after its first chunk answers 503, and the file written so far is
    removed (it was left in the temporary folder, one per failed download)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _change_before_grid_read(app.state.engine, store, 2)
    with served(app, "admin", "correct horse") as client:
        response, body, complete = _download(client, format)
        assert response.status_code == 503 and complete
        assert json.loads(body)["detail"] == CHANGED.format(path=store)
        again, _, complete = _download(client, format)  # asked again: the new state, whole
    assert again.status_code == 200 and complete
    assert list(scratch.iterdir()) == []
