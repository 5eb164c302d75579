"""Helpers shared by the job tests: wait for a job, poll one over HTTP, snapshot the grids."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

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
