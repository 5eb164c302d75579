"""API fixtures: a store holding the village fixture, partitioned, with one account per role.

``api_store`` is that store on SpatiaLite (a copy of a file seeded once a run) and on PostGIS
(seeded per test). ``client`` is a TestClient on it; ``login(client, name)`` returns headers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url

from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.ingest import import_file, load_frame
from gridsvc.store import make_engine, migrate, repo, session_scope, users
from gridsvc.workflows import FIXTURES, partition_community

VILLAGE = FIXTURES / "village"
CODE = str(load_frame(VILLAGE / "community.geojson", kind="communities")["code"][0])
PASSWORD = "correct horse battery"
SECRET = "test-secret-key-of-sufficient-length-0123456789"


def seed(engine: Engine) -> None:
    """Import and partition the village; add admin, planner, outsider (other district), worker."""
    with session_scope(engine) as session:
        for kind, name in (
            ("communities", "community"),
            ("buildings", "buildings"),
            ("households", "households"),
            ("layer_grids", "layers"),
        ):
            import_file(session, VILLAGE / f"{name}.geojson", kind=kind)
        partition_community(session, CODE, settings=load_settings())
        first = str(repo.read(session, "grids", community=CODE, level=1)["code"].iloc[0])
        users.add_user(session, username="admin", password=PASSWORD, role="admin")
        users.add_user(
            session, username="planner", password=PASSWORD, role="planner", scope=(CODE[:6],)
        )
        users.add_user(
            session, username="outsider", password=PASSWORD, role="planner", scope=("110101001001",)
        )
        users.add_user(
            session,
            username="worker",
            password=PASSWORD,
            role="worker",
            scope=(first,),
            worker_id="W1",
        )


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "seeded.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    seed(engine)
    engine.dispose()
    return path


@pytest.fixture
def api_store(store_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if store_url.startswith("sqlite"):
        seeded: Path = request.getfixturevalue("seeded_sqlite")
        shutil.copyfile(seeded, make_url(store_url).database or "")
        engine = make_engine(store_url)
    else:
        engine = make_engine(store_url)
        migrate(engine)
        seed(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def client(api_store: Engine, store_url: str) -> Iterator[TestClient]:
    settings = load_settings(database_url=store_url, secret_key=SECRET, max_request_bytes=200_000)
    app = create_app(settings)
    app.state.engine.dispose()
    app.state.engine = api_store
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


Login = Callable[[str], dict[str, str]]


@pytest.fixture
def login(client: TestClient) -> Login:
    """Return a function giving the Authorization header of a seeded account."""

    def headers(username: str) -> dict[str, str]:
        response = client.post("/api/v1/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return headers


@pytest.fixture
def code() -> str:
    """Return the village's community code."""
    return CODE
