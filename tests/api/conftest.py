"""API fixtures: a store holding the village fixture, partitioned, with one account per role.

``api_store`` is that store on SpatiaLite (a copy of ``seeded_sqlite``, seeded once a run) and
on PostGIS (seeded per test). ``client`` is a TestClient on it; ``login(name)`` (tests/conftest.py)
returns headers. The seeding and the accounts are in tests/seeded.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from seeded import CODE, SECRET, seed
from sqlalchemy.engine import Engine, make_url

from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.store import make_engine, migrate


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


@pytest.fixture
def code() -> str:
    """Return the village's community code."""
    return CODE
