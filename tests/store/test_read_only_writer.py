"""A read-only SpatiaLite store that someone else still writes: gridsvc's reader sees every
commit, never a stale or torn state.

A store read-only to gridsvc (file 0444, folder 0555) is not read-only to everybody: a writer
that opened it before it was made read-only keeps its descriptors, root writes anyway, its owner
may chmod it back and update it. SQLite's ``immutable=1`` (no locks, no ``-wal``, a page cache
never invalidated) is only right while nobody does; these tests write beside the reader.

Real files, real permissions, real writers (this process, as root or as the file's owner).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from published import written_store
from shapely.geometry import box
from someone_else import command
from sqlalchemy import Engine

from gridsvc.config import Settings
from gridsvc.errors import StoreError
from gridsvc.store import (
    make_engine,
    migrate,
    open_store,
    session_scope,
    snapshot,
    snapshot_scope,
    upsert,
)
from gridsvc.store.readonly import read_only

A, B = "420111001001", "420111001002"


def _community(code: str, i: int) -> gpd.GeoDataFrame:
    geom = box(114.0 + i * 0.01, 30.0, 114.01 + i * 0.01, 30.01)
    return gpd.GeoDataFrame({"code": [code]}, geometry=[geom], crs="EPSG:4326")


def _count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(snapshot(session)["communities"])


def _beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.fixture(params=["file 0444", "folder 0555"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A gridsvc store (WAL, community A), closed: only the file is in its folder."""
    path = written_store(tmp_path, lambda session: upsert(session, "communities", _community(A, 0)))
    folder = path.parent
    try:
        yield f"sqlite:///{path}", path, request.param
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


def _protect(path: Path, how: str, *, on: bool = True) -> None:
    if how == "file 0444":
        path.chmod(0o444 if on else 0o644)
    else:
        path.parent.chmod(0o555 if on else 0o755)


def test_a_writer_that_opened_the_store_before_it_was_made_read_only_is_seen(
    store: tuple[str, Path, str],
) -> None:
    """A server writing the store has read it (its ``-shm`` and an empty ``-wal`` beside it);
    the store is made read-only; gridsvc opens it read-only; the writer commits: the reader
    sees the commit (with ``immutable=1`` it went on reading the file alone: 1 community)."""
    url, path, how = store
    writer = make_engine(url)
    reader: Engine | None = None
    try:
        assert _count(writer) == 1
        assert _beside(path) == ["store.sqlite", "store.sqlite-shm", "store.sqlite-wal"]
        assert path.with_name("store.sqlite-wal").stat().st_size == 0
        _protect(path, how)
        reader = open_store(Settings(database_url=url))
        assert read_only(reader) is not None
        assert _count(reader) == 1
        with session_scope(writer) as session:
            upsert(session, "communities", _community(B, 1))
        assert _count(reader) == 2
    finally:
        writer.dispose()
        if reader is not None:
            reader.dispose()


@pytest.mark.parametrize("writer_stays", [False, True], ids=["writer closed", "writer open"])
def test_a_store_updated_after_the_reader_opened_it_is_read_afresh(
    store: tuple[str, Path, str], writer_stays: bool
) -> None:
    """Nobody writes the store when gridsvc opens it read-only (``immutable`` is then right);
    later its owner makes it writable, adds a community and makes it read-only again: the
    reader's next request sees two (a pooled immutable connection kept its stale pages)."""
    url, path, how = store
    _protect(path, how)
    reader = open_store(Settings(database_url=url))
    writer: Engine | None = None
    try:
        assert _count(reader) == 1
        _protect(path, how, on=False)
        writer = make_engine(url)
        with session_scope(writer) as session:
            upsert(session, "communities", _community(B, 1))
        if not writer_stays:
            writer.dispose()  # the change checkpointed into the file, -shm and -wal gone
            assert _beside(path) == ["store.sqlite"]
        _protect(path, how)
        assert _count(reader) == 2
    finally:
        reader.dispose()
        if writer is not None:
            writer.dispose()


def test_a_store_changed_in_the_middle_of_a_read_fails_that_read(
    store: tuple[str, Path, str],
) -> None:
    """The store changes under one read transaction of an immutable reader (no locks hold the
    writer off): that transaction fails with a StoreError naming the file instead of returning
    what may mix two states; the next one reads the new state."""
    url, path, how = store
    _protect(path, how)
    reader = open_store(Settings(database_url=url))
    try:
        message = (
            f"the read-only store {path} changed while gridsvc read it without locks "
            r"\(immutable: nobody could write it when it was opened\); the answer may mix two "
            "states: ask again"
        )
        with pytest.raises(StoreError, match=message), snapshot_scope(reader) as session:
            assert snapshot(session)["communities"] == 1
            _protect(path, how, on=False)
            writer = make_engine(url)
            with session_scope(writer) as other:
                upsert(other, "communities", _community(B, 1))
            writer.dispose()
            _protect(path, how)
        assert _count(reader) == 2
    finally:
        reader.dispose()


READER = """
import sys
from gridsvc.config import Settings
from gridsvc.store import open_store, session_scope, snapshot
from gridsvc.store.readonly import read_only

engine = open_store(Settings(database_url=sys.argv[1]))
assert read_only(engine) is not None
for _ in sys.stdin:  # a line: count the communities
    with session_scope(engine) as session:
        print(snapshot(session)["communities"], flush=True)
"""


@pytest.mark.parametrize("writer_open", [False, True], ids=["nobody writes", "a writer open"])
def test_an_unprivileged_server_reads_a_store_in_a_read_only_folder(
    writer_open: bool,
) -> None:
    """gridsvc as another user than the store's writer (root here), the folder 0555: with
    nobody writing, it reads the WAL store (immutable: SQLite could not make a ``-shm``);
    with a writer that has it open, it reads through the writer's ``-shm`` and sees each of
    its commits."""
    top = Path(tempfile.mkdtemp(prefix="gridsvc-ro-"))  # pytest's own is root's alone
    top.chmod(0o755)
    folder = top / "published"
    folder.mkdir()
    path = folder / "store.sqlite"
    url = f"sqlite:///{path}"
    writer = make_engine(url)
    migrate(writer)
    with session_scope(writer) as session:
        upsert(session, "communities", _community(A, 0))
    writer.dispose()
    if writer_open:  # a server that has read the store since it opened: an empty -wal
        assert _count(writer) == 1
    folder.chmod(0o555)
    argv, env = command(READER)
    reader = subprocess.Popen(
        [*argv, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    assert reader.stdin is not None and reader.stdout is not None
    try:
        reader.stdin.write("count\n")
        reader.stdin.flush()
        assert reader.stdout.readline() == "1\n", reader.stderr.read() if reader.stderr else ""
        if writer_open:
            with session_scope(writer) as session:
                upsert(session, "communities", _community(B, 1))
            reader.stdin.write("count\n")
            reader.stdin.flush()
            assert reader.stdout.readline() == "2\n"
            assert _beside(path) == ["store.sqlite", "store.sqlite-shm", "store.sqlite-wal"]
        else:
            assert _beside(path) == ["store.sqlite"]
        reader.stdin.close()
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.wait()
        writer.dispose()
        folder.chmod(0o755)
        shutil.rmtree(top)
