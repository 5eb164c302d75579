"""Render fixtures: the seeded village store (tests/seeded.py), staffed under 1+1+N (workers
with names and phones, assignments stored), and a TestClient on it (``login``: tests/conftest.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from seeded import CODE, SECRET
from sqlalchemy.engine import Engine

from gridsvc import frames
from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.jobs import assign_job
from gridsvc.staffing import generate_roster
from gridsvc.store import make_engine, repo, session_scope


def staff(engine: Engine, code: str) -> None:
    """Give ``code`` a generated roster of workers and a 1+1+N plan, stored like the API does."""
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=code, level=1)
        homes = repo.read(session, "households", community=code)
        roster = generate_roster(grids, homes, seed=0)
        repo.upsert(session, "workers", frames.conform("workers", roster))
    with session_scope(engine) as session:
        assign_job([code], settings=load_settings())(session, lambda *_: None)


@pytest.fixture(scope="session")
def staffed_sqlite(seeded_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded village store, staffed once a run."""
    path = tmp_path_factory.mktemp("render") / "staffed.sqlite"
    shutil.copyfile(seeded_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    staff(engine, CODE)
    engine.dispose()
    return path


@pytest.fixture
def store_url(staffed_sqlite: Path, tmp_path: Path) -> str:
    """A fresh copy of the staffed store."""
    path = tmp_path / "store.sqlite"
    shutil.copyfile(staffed_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    app = create_app(load_settings(database_url=store_url, secret_key=SECRET))
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
    app.state.engine.dispose()
