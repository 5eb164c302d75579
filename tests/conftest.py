"""Shared fixtures. Sections: database (the ``store`` fixture over SpatiaLite and PostGIS); the
seeded village (``seeded_sqlite``, ``login``)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from needs import missing
from seeded import Login, login_headers, seed
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from gridsvc.store import make_engine, migrate

# --- database -------------------------------------------------------------------------------
#
# ``store`` is a migrated, empty Engine, once on SpatiaLite (a fresh file under tmp_path) and
# once on PostGIS. PostGIS comes from GRIDSVC_TEST_POSTGIS_URL (``scripts/postgis.sh start``
# prints one); each test gets its own database cloned from a template that has the postgis
# extension, dropped afterwards, so tests never see each other's rows. Without the variable
# PostGIS tests are skipped, except under CI (env CI set), where they fail (tests/needs.py).

POSTGIS_ENV = "GRIDSVC_TEST_POSTGIS_URL"
BACKENDS = ["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)]


def _postgis_url() -> URL:
    url = os.environ.get(POSTGIS_ENV)
    if not url:
        missing(
            "PostGIS",
            f"{POSTGIS_ENV} is not set; run: export {POSTGIS_ENV}=$(scripts/postgis.sh start)",
        )
    return make_url(url)


def _admin(url: URL) -> Engine:
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgis_template() -> Iterator[URL]:
    """Return the URL of a template database with the postgis extension (made once a run)."""
    url = _postgis_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"gridsvc_template_{worker}_{os.getpid()}"  # concurrent runs share one server
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    template = url.set(database=name)
    setup = create_engine(template)
    with setup.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    setup.dispose()
    yield template
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty, unmigrated database on each back-end."""
    if request.param == "spatialite":
        yield f"sqlite:///{tmp_path}/store.sqlite"
        return
    template: URL = request.getfixturevalue("postgis_template")
    name = f"gridsvc_t_{uuid.uuid4().hex[:12]}"
    admin = _admin(template)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    try:
        yield template.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated, empty SpatiaLite file (made once a run; tests copy it)."""
    path = tmp_path_factory.mktemp("spatialite") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(store_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Yield a migrated, empty store engine (SpatiaLite and PostGIS)."""
    if store_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("spatialite_template")
        shutil.copyfile(template, make_url(store_url).database or "")
    engine = make_engine(store_url)
    migrate(engine)  # a no-op on the SpatiaLite copy; creates the schema on PostGIS
    try:
        yield engine
    finally:
        engine.dispose()


# --- the seeded village -----------------------------------------------------------------------
#
# tests/seeded.py seeds it; the API, render and browser tests copy ``seeded_sqlite``. ``login``
# signs in through whichever ``client`` fixture the requesting test's folder defines.


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SpatiaLite file holding the seeded village (made once a run; tests copy it)."""
    path = tmp_path_factory.mktemp("api") / "seeded.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    seed(engine)
    engine.dispose()
    return path


@pytest.fixture
def login(client: TestClient) -> Login:
    """Return a function giving the Authorization header of a seeded account."""
    return lambda username: login_headers(client, username)
