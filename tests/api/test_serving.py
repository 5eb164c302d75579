"""``gridsvc serve``: uvloop and httptools when importable, and ``--workers`` processes that
share one token secret, never serve an answer cached before an edit, and fail the jobs of a
process that died."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from seeded import login_headers
from sqlalchemy.engine import Engine
from staffing_helpers import staff

from gridsvc.api import serving
from gridsvc.api.serving import hand_over, http_stack, worker_app
from gridsvc.config import load_settings
from gridsvc.store import repo, session_scope
from gridsvc.store.jobs import read_job

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/me/assignments"


def test_the_fast_http_stack_is_used_when_importable_and_skipped_when_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert http_stack() == ("uvloop", "httptools")  # both are dependencies
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert http_stack() == ("asyncio", "httptools")
    monkeypatch.setitem(sys.modules, "httptools", None)
    assert http_stack() == ("asyncio", "h11")


@pytest.mark.parametrize(
    ("file", "env_secret"),
    [
        ('secret_key = ""\n', None),  # the file's explicit "" must not give each its own
        ('secret_key = ""\n', "from-the-environment"),  # the file wins in the parent too
        ("token_minutes = 30\n", None),
        ("token_minutes = 30\n", "from-the-environment"),
    ],
)
def test_worker_processes_get_the_parents_secret(
    api_store: Engine,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    env_secret: str | None,
) -> None:
    """What ``gridsvc serve --config FILE --workers 2`` does: the parent reads the settings
    and hands them over (:func:`hand_over`), then each worker process builds its app."""
    config = tmp_path / "gridsvc.toml"
    config.write_text(file, encoding="utf-8")
    for name in ("GRIDSVC_SECRET_KEY", serving.CONFIG_ENV, serving.DB_ENV, serving.SECRET_ENV):
        monkeypatch.delenv(name, raising=False)
    if env_secret is not None:
        monkeypatch.setenv("GRIDSVC_SECRET_KEY", env_secret)
    parent = load_settings(config, database_url=store_url)
    hand_over(parent, config=config, db=store_url)
    apps = [worker_app(), worker_app()]  # as in two processes: nothing else is shared
    try:
        secrets = [app.state.secret_key for app in apps]
        assert [app.state.settings.token_minutes for app in apps] == [parent.token_minutes] * 2
    finally:
        for app in apps:
            app.state.jobs.shutdown()
            app.state.engine.dispose()
    assert secrets[0] == secrets[1] != ""
    # the parent's own secret when it has one (the environment's, unless the file says "")
    assert parent.secret_key == ("" if "secret_key" in file else env_secret or "")
    assert secrets[0] == parent.secret_key or not parent.secret_key


@pytest.fixture
def two_workers(api_store: Engine, store_url: str) -> Iterator[httpx.Client]:
    """``gridsvc serve --workers 2`` on the seeded store, without GRIDSVC_SECRET_KEY; a client
    opening a new connection per request (so the kernel hands requests to either process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "GRIDSVC_SECRET_KEY"}
    command = [sys.executable, "-c", "from gridsvc.cli import app; app()", "serve"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--db", store_url, "--workers", "2"],
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    limits = httpx.Limits(max_keepalive_connections=0)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
            for _ in range(240):  # bounded wait for both processes to answer
                try:
                    if client.get("/api/v1/ogc/conformance").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.25)
            else:
                pytest.fail("gridsvc serve --workers 2 did not start")
            time.sleep(2)  # the second process may start a little later
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_two_worker_processes_share_tokens_and_serve_no_stale_answer(
    two_workers: httpx.Client, api_store: Engine, code: str
) -> None:
    staff(api_store, code, role="grid_member")
    headers = login_headers(two_workers, "worker")  # type: ignore[arg-type]
    answers = [two_workers.get(URL, headers=headers) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20  # a token one process signed
    assert len({a.content for a in answers}) == 1  # both processes have it cached now
    target = answers[0].json()["households"]["rows"][0][0]
    with session_scope(api_store) as session:
        row = repo.read(session, "households", ids=[target])
        repo.upsert(session, "households", row.assign(care_tags="独居老人;edited"))
    for _ in range(20):
        table = two_workers.get(URL, headers=headers).json()["households"]
        rows = [dict(zip(table["columns"], r, strict=True)) for r in table["rows"]]
        assert {r["id"]: r["care_tags"] for r in rows}[target] == "独居老人;edited"


def test_a_dead_worker_process_s_jobs_are_failed_when_uvicorn_replaces_it(
    two_workers: httpx.Client, api_store: Engine, code: str
) -> None:
    """A worker process killed mid-job: the process uvicorn starts in its place marks the job
    failed (interrupted), and the store keeps nothing the job did."""
    before = _grid_count(api_store, code)
    headers = login_headers(two_workers, "planner")  # type: ignore[arg-type]
    response = two_workers.post(
        "/api/v1/jobs/partition", json={"communities": [code]}, headers=headers
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    with session_scope(api_store) as session:
        record = read_job(session, job_id)
    assert record is not None and record["status"] in ("queued", "running")
    owner = int(record["owner"].split(":")[1])
    os.kill(owner, signal.SIGKILL)
    for _ in range(240):  # bounded: uvicorn checks its workers about once a second
        body = two_workers.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if body["status"] not in ("queued", "running"):
            break
        time.sleep(0.25)
    assert body["status"] == "failed"
    assert body["error"].startswith("interrupted by a restart of the service")
    assert _grid_count(api_store, code) == before  # its transaction died with its process


def _grid_count(engine: Engine, code: str) -> int:
    with session_scope(engine) as session:
        return len(repo.read(session, "grids", community=code))
