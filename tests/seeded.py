"""The village store the API, render and browser tests start from, and signing in to it.

``seed(engine)`` imports the village fixture, partitions it and adds one account per role
(admin, planner, outsider: a planner of another district, worker), all with ``PASSWORD``. The
fixtures built on it (``seeded_sqlite``, ``login``) are in tests/conftest.py.

Import it by its plain name (``from seeded import CODE``: pytest puts tests/ on the path for
tests/conftest.py), never as ``tests.seeded``: pygeoapi installs a stray top-level ``tests``
package that shadows this folder.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from gridsvc.config import load_settings
from gridsvc.ingest import import_file, load_frame
from gridsvc.store import repo, session_scope, users
from gridsvc.workflows import FIXTURES, partition_community

__all__ = ["CODE", "PASSWORD", "SECRET", "VILLAGE", "Login", "login_headers", "seed"]

VILLAGE = FIXTURES / "village"
CODE = str(load_frame(VILLAGE / "community.geojson", kind="communities")["code"][0])
PASSWORD = "correct horse battery"
SECRET = "test-secret-key-of-sufficient-length-0123456789"

Login = Callable[[str], dict[str, str]]


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


def login_headers(client: TestClient, username: str) -> dict[str, str]:
    """Sign ``username`` in through the API; return its Authorization header."""
    response = client.post("/api/v1/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
