"""A SpatiaLite store gridsvc may only read (a published copy: file mode 0444, a read-only
folder, or ``?mode=ro``) opens for serving and exporting; a write is refused with an error
naming the file; the store is left byte for byte as it was, with nothing created beside it.

Real files, real permissions. (Root may write a 0444 file anyway; gridsvc honours the mode.)
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from published import written_store
from shapely.geometry import box
from someone_else import someone_else
from sqlalchemy import event
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gridsvc.api.app import create_app
from gridsvc.cli import app as cli
from gridsvc.config import Settings
from gridsvc.errors import ReadOnlyStoreError
from gridsvc.store import make_engine, migrate, open_store, session_scope, snapshot, upsert
from gridsvc.store.jobs import read_job, save_job
from gridsvc.store.readonly import read_only
from gridsvc.store.users import add_user

A, B = "420111001001", "420111001002"
HOW = ["file 0444", "folder 0555", "mode=ro"]
WHY = {
    "file 0444": r"the file is not writable \(mode -r--r--r--\)",
    "folder 0555": "its folder .* is not writable",
    "mode=ro": "opened with mode=ro",
}


def _communities(*codes: str) -> gpd.GeoDataFrame:
    geoms = [box(114.0 + i * 0.01, 30.0, 114.01 + i * 0.01, 30.01) for i in range(len(codes))]
    return gpd.GeoDataFrame({"code": list(codes)}, geometry=geoms, crs="EPSG:4326")


def _job(status: str) -> dict:
    now = datetime.now(UTC)
    return {
        "id": "j1", "kind": "partition", "communities": [A], "user": None, "status": status,
        "progress": 0.0, "message": "", "report": None, "error": None, "created_at": now,
        "started_at": None, "finished_at": None, "owner": None,
    }  # fmt: skip


@pytest.fixture(params=HOW)
def published(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A store written by gridsvc (WAL mode, one community, one queued job), then made
    read-only one way; yields its URL and file, and makes it writable again afterwards."""

    def fill(session: Session) -> None:
        upsert(session, "communities", _communities(A))
        save_job(session, _job("queued"))
        add_user(session, username="admin", password="correct horse", role="admin")

    path = written_store(tmp_path, fill)
    folder = path.parent
    url = f"sqlite:///{path}"
    if request.param == "file 0444":
        path.chmod(0o444)
    elif request.param == "folder 0555":
        folder.chmod(0o555)
    else:
        url += "?mode=ro"
    try:
        yield url, path
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


def _state(path: Path) -> tuple[str, list[str]]:
    """The store file's digest and what its folder holds."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(
        p.name for p in path.parent.iterdir()
    )


def _how(url: str, path: Path) -> str:
    if url.endswith("mode=ro"):
        return "mode=ro"
    return "file 0444" if not path.stat().st_mode & stat.S_IWUSR else "folder 0555"


def test_a_read_only_store_reads_and_refuses_a_write_naming_the_file(
    published: tuple[str, Path],
) -> None:
    url, path = published
    before = _state(path)
    engine = open_store(Settings(database_url=url))
    try:
        assert read_only(engine) is not None
        with session_scope(engine) as session:
            assert snapshot(session)["communities"] == 1
        message = f"the store {path} is read-only \\({WHY[_how(url, path)]}\\): gridsvc can "
        message += "serve and export it but not change it; open a writable copy of it"
        with pytest.raises(ReadOnlyStoreError, match=message), session_scope(engine) as session:
            upsert(session, "communities", _communities(B))
        with session_scope(engine) as session:
            assert snapshot(session)["communities"] == 1
    finally:
        engine.dispose()
    after = _state(path)
    assert after[0] == before[0]
    if not url.endswith("mode=ro"):  # nothing created beside it (mode=ro: a WAL reader's files)
        assert after[1] == before[1] == ["store.sqlite"]


def test_a_read_only_store_is_served_and_exported_unchanged(
    published: tuple[str, Path], tmp_path: Path
) -> None:
    """``gridsvc serve`` starts on it (leaving the queued job as it is: failing it is a write),
    answers reads and a login, refuses a write with 403 naming the file (not 503: retrying
    will not help); ``gridsvc export`` writes the file."""
    url, path = published
    before = _state(path)
    app = create_app(Settings(database_url=url, secret_key="x" * 40))
    with TestClient(app) as client:
        items = client.get("/api/v1/ogc/collections/communities/items").json()
        assert [f["id"] for f in items["features"]] == [A]
        login = client.post(
            "/api/v1/token", data={"username": "admin", "password": "correct horse"}
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {"username": "planner", "password": "12345678", "role": "planner", "scope": [A]}
        refused = client.post("/api/v1/users", json=body, headers=auth)
        assert refused.status_code == 403 and "Retry-After" not in refused.headers
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"].startswith(f"the store {path} is read-only (")
    engine = app.state.engine
    with session_scope(engine) as session:
        job = read_job(session, "j1")
    assert job is not None and job["status"] == "queued"
    engine.dispose()
    out = tmp_path / "communities.geojson"
    done = CliRunner().invoke(cli, ["export", "communities", str(out), "--db", url])
    assert done.exit_code == 0, done.output
    assert [f["code"] for f in gpd.read_file(out)["code"].to_frame().to_dict("records")] == [A]
    after = _state(path)
    assert after[0] == before[0]
    if not url.endswith("mode=ro"):
        assert after[1] == before[1]


def test_a_read_only_store_behind_the_schema_is_not_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, revision="0001")
    engine.dispose()
    path.chmod(0o444)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with pytest.raises(ReadOnlyStoreError, match=r"its schema is at revision 0001"):
            open_store(Settings(database_url=f"sqlite:///{path}"))
    finally:
        path.chmod(0o644)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_read_only_copy_with_changes_in_its_wal_says_why_it_cannot_be_read() -> None:
    """A copy taken while gridsvc wrote (the file and its -wal holding a change, no -shm) in a
    read-only folder: SQLite cannot read it; the error says so, naming the file and the -wal,
    not that it is no gridsvc store."""
    top = Path(tempfile.mkdtemp(prefix="gridsvc-ro-"))
    top.chmod(0o755)
    live, folder = top / "live", top / "published"
    live.mkdir()
    folder.mkdir()
    engine = make_engine(f"sqlite:///{live / 'store.sqlite'}")
    migrate(engine)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA wal_autocheckpoint=0"))
    engine.dispose()
    try:
        with session_scope(engine) as session:
            upsert(session, "communities", _communities(A))
        with engine.connect():  # the writer still open: its change is in the -wal only
            for name in ("store.sqlite", "store.sqlite-wal"):
                shutil.copy(live / name, folder / name)
        engine.dispose()
        assert (folder / "store.sqlite-wal").stat().st_size > 0
        folder.chmod(0o555)
        path = folder / "store.sqlite"
        done = someone_else(
            "from gridsvc.config import Settings\n"
            "from gridsvc.store import open_store\n"
            "try:\n"
            f"    open_store(Settings(database_url='sqlite:///{path}'))\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"StoreError cannot read the store {path}, read-only ("), (
            done.stdout
        )
        assert "unable to open database file; its store.sqlite-wal holds changes" in done.stdout
        assert sorted(p.name for p in folder.iterdir()) == ["store.sqlite", "store.sqlite-wal"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)
