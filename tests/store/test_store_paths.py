"""A SpatiaLite store whose path holds characters URLs and SQLite URIs escape (``%20``, ``%25``,
a space, ``?``, ``#``) opens exactly that file, in every form of URL gridsvc accepts: a path
(:func:`sqlite_url`), with ``?mode=ro``, read-only by permission (gridsvc then builds a SQLite
URI of it), and a SQLite URI filename (``file:...?uri=true``, the path escaped once as a URI and
once as a URL). Nothing else is opened or created: no store beside it in a folder the path
would name decoded once more or cut at a ``?``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy.engine import URL

from gridsvc.store import make_engine, migrate, session_scope, snapshot, upsert
from gridsvc.store.readonly import read_only, sqlite_url

NAMES = ["a b", "a%20b", "100%25", "100%", "q?y#z"]


def _uri(path: Path, **query: str) -> str:
    """The store as a SQLite URI filename inside a ``sqlite:///`` URL."""
    url = URL.create("sqlite", database=f"file:{quote(str(path))}", query=query)
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=NAMES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A store with one community in a folder named ``request.param``, beside decoys: folders
    named as the name decoded once more, or cut at its ``?``."""
    name = request.param
    for decoy in {name.replace("%20", " ").replace("%25", "%"), name.split("?")[0]} - {name}:
        (tmp_path / decoy).mkdir()
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "store.sqlite"
    engine = make_engine(sqlite_url(path))
    migrate(engine)
    with session_scope(engine) as session:
        frame = gpd.GeoDataFrame({"code": ["420111001001"]}, geometry=[box(0, 0, 1, 1)])
        upsert(session, "communities", frame.set_crs("EPSG:4326"))
    engine.dispose()
    before = _files(tmp_path, path)
    try:
        yield path
    finally:
        folder.chmod(0o755)
    assert _files(tmp_path, path) == before  # nothing opened elsewhere


def _files(top: Path, store: Path) -> list[Path]:
    """Everything under ``top`` but the store's -wal and -shm (a mode=ro reader makes them)."""
    beside = {store.with_name(store.name + end) for end in ("-wal", "-shm")}
    return sorted(p for p in top.rglob("*") if p not in beside)


@pytest.mark.parametrize("how", ["path", "path mode=ro", "folder 0555", "uri", "uri mode=ro"])
def test_a_store_path_with_escaped_characters_opens_that_file(store: Path, how: str) -> None:
    url = {
        "path": sqlite_url(store),
        "path mode=ro": sqlite_url(store, mode="ro"),
        "folder 0555": sqlite_url(store),
        "uri": _uri(store, uri="true"),
        "uri mode=ro": _uri(store, mode="ro", uri="true"),
    }[how]
    if how == "folder 0555":
        store.parent.chmod(0o555)
    engine = make_engine(url)
    try:
        readonly = read_only(engine)
        if how in ("path", "uri"):
            assert readonly is None
        else:
            assert readonly is not None and readonly.path == store
        with session_scope(engine) as session:
            assert snapshot(session)["communities"] == 1
    finally:
        engine.dispose()


def test_the_url_of_a_path_is_the_path_escaped() -> None:
    assert sqlite_url(Path("/x/a%20b/s.sqlite")) == "sqlite:////x/a%2520b/s.sqlite"
    assert sqlite_url(Path("/x/q?y#z/s.sqlite"), mode="ro") == (
        "sqlite:////x/q%3Fy%23z/s.sqlite?mode=ro"
    )
