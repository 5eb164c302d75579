"""Run the API under uvicorn: uvloop and httptools when importable, one or more processes.

With ``workers > 1`` uvicorn starts that many processes on one socket; each builds its app with
:func:`worker_app` from the settings the parent read (handed over in the environment). Every
process keeps its own answer cache; the store's change stamps invalidate a cached answer in
every process once its community changes (see :mod:`gridsvc.api.caching`). The processes share:

- one token secret, the parent's (without ``secret_key`` it draws one for all of them), or a
  token signed by one process would be refused by the next;
- one recovery of interrupted jobs, done by the parent before the workers start. A worker
  that uvicorn restarts after a crash fails only the jobs whose owner process is dead (each
  job records its process, :mod:`gridsvc.store.owner`), never those its siblings are running.
"""

from __future__ import annotations

import importlib
import os
import secrets
from pathlib import Path
from typing import Literal

from fastapi import FastAPI

from ..config import Settings, load_settings

__all__ = ["hand_over", "http_stack", "run", "worker_app"]

CONFIG_ENV = "GRIDSVC_SERVE_CONFIG"  # the parent's --config, for the worker processes
DB_ENV = "GRIDSVC_SERVE_DB"  # the parent's --db
SECRET_ENV = "GRIDSVC_SERVE_SECRET"  # the parent's token secret


def http_stack() -> tuple[Literal["uvloop", "asyncio"], Literal["httptools", "h11"]]:
    """Return uvicorn's ``loop`` and ``http``: uvloop and httptools when importable, else the
    pure-Python asyncio loop and h11."""
    loop: Literal["uvloop", "asyncio"] = "uvloop" if _importable("uvloop") else "asyncio"
    http: Literal["httptools", "h11"] = "httptools" if _importable("httptools") else "h11"
    return loop, http


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def run(
    settings: Settings,
    *,
    config: Path | None,
    db: str | None,
    host: str,
    port: int,
    workers: int = 1,
) -> None:
    """Serve ``settings``' API on ``host:port`` with ``workers`` processes (``config`` and
    ``db`` are what ``settings`` was read from, for the worker processes to read again)."""
    import uvicorn

    from . import create_app

    loop, http = http_stack()
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, loop=loop, http=http)
        return
    from ..jobs import fail_interrupted
    from ..store import open_store

    engine = open_store(settings)  # migrates once, before the workers race to
    fail_interrupted(engine)
    engine.dispose()
    hand_over(settings, config=config, db=db)
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=http,
    )


def hand_over(settings: Settings, *, config: Path | None, db: str | None) -> None:
    """Put into the environment what :func:`worker_app` reads: ``config`` and ``db`` (what
    ``settings`` was read from) and the token secret, ``settings``' or one drawn here."""
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    if db is not None:
        os.environ[DB_ENV] = db
    os.environ[SECRET_ENV] = settings.secret_key or secrets.token_urlsafe(32)


def worker_app() -> FastAPI:
    """Build one worker process's app from the settings :func:`run` handed over; the parent's
    secret wins over the settings file's (which may say ``secret_key = ""``)."""
    from . import create_app

    config = os.environ.get(CONFIG_ENV)
    settings = load_settings(
        Path(config) if config else None,
        database_url=os.environ.get(DB_ENV),
        secret_key=os.environ.get(SECRET_ENV),
    )
    return create_app(settings, recover_jobs=False)
