"""Helpers shared by the job tests: wait for a job, poll one over HTTP, snapshot the grids,
start a second app on the same store (a restarted service)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.jobs import Job
from gridsvc.store import repo, session_scope


def wait(job: Job) -> Job:
    """Block until ``job`` is done (at most two minutes)."""
    assert job.done.wait(120), f"job {job.id} did not finish"
    return job


def poll(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """GET a job until it leaves queued/running; return its last body."""
    for _ in range(1200):
        body = client.get(url, headers=headers).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} never finished")


def grids_state(engine: Engine, code: str) -> list[tuple[str, int, bytes]]:
    """Every grid of ``code`` as (code, level, WKB), sorted: equal lists mean nothing changed."""
    with session_scope(engine) as session:
        frame = repo.read(session, "grids", community=code)
    return sorted(zip(frame["code"], frame["level"], frame.geometry.to_wkb(), strict=True))


@contextmanager
def restarted(old: TestClient, engine: Engine, store_url: str) -> Iterator[TestClient]:
    """Yield a client of a new app on ``engine``'s store, as after a restart of ``old``'s.

    The new app shares ``old``'s secret key, so tokens ``old`` issued stay valid.
    """
    secret = old.app.state.secret_key  # type: ignore[attr-defined]
    app = create_app(load_settings(database_url=store_url, secret_key=secret))
    app.state.engine.dispose()
    app.state.engine = engine
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client
