"""A chunked export reads one snapshot: rows another connection commits between two of its
chunks (an edit, a city run) are not in it, and rows it deletes still are, on both stores.

The write is made from a second engine, by a hook on the export's first chunk read; the
export's later chunks then run after the commit. On PostgreSQL's default READ COMMITTED (and
SQLite without a read transaction) they would see it: the export would lose the deleted row
and gain the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from seeded import Login
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from gridsvc.api.routes import exports
from gridsvc.export import export_kind
from gridsvc.store import make_engine, repo, session_scope
from gridsvc.store.assignments import read_assignments, replace_assignments

URL = "/api/v1/exports"
CHUNK = 3


def _keys(engine: Engine, dataset: str, code: str) -> list[str]:
    with session_scope(engine) as session:
        if dataset == "assignments":
            rows = read_assignments(session, community=code)
            return list(rows["grid_code"] + "/" + rows["role"] + "/" + rows["worker_id"])
        kind, key = ("grids", "code") if dataset == "grids" else ("households", "id")
        frame = repo.read(session, kind, community=code, level=1 if kind == "grids" else None)
        return [str(k) for k in frame[key]]


def _change(store_url: str, dataset: str, code: str) -> None:
    """Commit, from a connection of its own, a change to rows of ``dataset`` past the first
    chunk: the last row is deleted and a row with a key after every other is added."""
    other = make_engine(store_url)
    try:
        with session_scope(other) as session:
            if dataset == "assignments":
                plan = read_assignments(session, community=code)[["grid_code", "worker_id", "role"]]
                plan = plan[plan["grid_code"] != plan["grid_code"].iloc[-1]]
                extra = plan.iloc[[0]].assign(worker_id="W99")
                replace_assignments(session, code, pd.concat([plan, extra]))
                return
            kind, key = ("grids", "code") if dataset == "grids" else ("households", "id")
            frame = repo.read(session, kind, community=code)
            if kind == "grids":
                frame = frame[frame["level"] == 1]
            last = frame.iloc[[-1]]
            session.execute(text(f"DELETE FROM {kind} WHERE {key} = :k"), {"k": last[key].iloc[0]})
            new_key = f"{code}999" if kind == "grids" else "zzz-new"
            repo.upsert(session, kind, last.assign(**{key: new_key}))
    finally:
        other.dispose()


@contextmanager
def _after_first_chunk(engine: Engine, table: str, write: Callable[[], None]) -> Iterator[None]:
    """Run ``write`` once, right after ``engine`` runs its first chunk read of ``table``."""
    done: list[bool] = []

    def hook(*args: Any) -> None:
        statement = str(args[2])
        if not done and f"FROM {table}" in statement and "LIMIT" in statement:
            done.append(True)
            write()

    event.listen(engine, "after_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine, "after_cursor_execute", hook)
    assert done, f"the export read no chunk of {table}"


def _staff_every_grid(engine: Engine, code: str) -> None:
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=code, level=1)["code"].astype(str)
        plan = pd.DataFrame(
            [(g, w, "grid_member") for g in grids for w in ("W1", "W2")],
            columns=["grid_code", "worker_id", "role"],
        )
        replace_assignments(session, code, plan)


def _downloaded(body: str, dataset: str) -> list[str]:
    frame = pd.read_csv(pd.io.common.StringIO(body), dtype=str)
    if dataset == "assignments":
        return list(frame["grid_code"] + "/" + frame["role"] + "/" + frame["worker_id"])
    return list(frame["code" if dataset == "grids" else "id"])


@pytest.mark.parametrize("dataset", ["grids", "households", "assignments"])
def test_a_download_is_the_store_as_it_was_when_it_began(
    client: TestClient,
    login: Login,
    api_store: Engine,
    store_url: str,
    code: str,
    monkeypatch: pytest.MonkeyPatch,
    dataset: str,
) -> None:
    if dataset == "assignments":
        _staff_every_grid(api_store, code)
    monkeypatch.setattr(exports, "CHUNK", CHUNK)
    before = _keys(api_store, dataset, code)
    assert len(before) > 2 * CHUNK  # the change lands past the first chunk
    with _after_first_chunk(api_store, dataset, lambda: _change(store_url, dataset, code)):
        response = client.get(f"{URL}/{dataset}", params={"format": "csv"}, headers=login("admin"))
    assert response.status_code == 200, response.text
    after = _keys(api_store, dataset, code)
    assert after != before  # the change was committed while the download read
    assert _downloaded(response.text, dataset) == before


def test_export_kind_reads_one_snapshot(
    api_store: Engine, store_url: str, code: str, tmp_path: Path
) -> None:
    before = _keys(api_store, "households", code)
    out = tmp_path / "households.csv"
    session = Session(api_store)
    try:
        with _after_first_chunk(
            api_store, "households", lambda: _change(store_url, "households", code)
        ):
            written = export_kind(session, out, kind="households", chunk_size=CHUNK)
    finally:
        session.close()
    assert _keys(api_store, "households", code) != before
    assert written == len(before)
    assert _downloaded(out.read_text(encoding="utf-8"), "households") == before


def test_a_client_hanging_up_mid_download_ends_its_snapshot(
    client: TestClient, login: Login, api_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's send fails after the first rows (the client went away): the download's
    snapshot transaction ends and its connection is back in the pool at once, not whenever a
    garbage collection happens to finalize the suspended generators."""
    monkeypatch.setattr(exports, "CHUNK", CHUNK)
    headers = [(k.lower().encode(), v.encode()) for k, v in login("admin").items()]
    path = f"{URL}/households"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"format=csv",
        "headers": [*headers, (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) > 2:
            raise OSError("the client hung up")

    async def download() -> None:
        with pytest.raises(ClientDisconnect):  # what Starlette makes of the failed send
            await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(download)
    assert sent[0]["status"] == 200 and len(sent) == 3  # it did stop mid-download
    assert api_store.pool.checkedout() == 0
