"""The app factory."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..config import Settings
from ..jobs import JobRunner, fail_interrupted
from ..store import open_store
from ..store.readonly import read_only
from .caching import AnswerCache
from .errors import install_error_handlers
from .limits import BodyLimit
from .retry import RetryReads
from .routes import (
    assignments,
    auth,
    communities,
    drafting,
    editing,
    editor,
    exports,
    jobs,
    locate,
    locks,
    maps,
    mobile,
    ogc,
    plans,
    resources,
    static,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)
PREFIX = "/api/v1"


def create_app(settings: Settings, *, recover_jobs: bool = True) -> FastAPI:
    """Build the API for ``settings``: open (and migrate) the store, mount the routers.

    With ``recover_jobs`` (a lone process) startup fails the jobs an earlier process left
    unfinished; a worker process of ``gridsvc serve --workers`` leaves that to its parent and
    fails only the jobs of dead processes (a sibling uvicorn restarted after a crash).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if read_only(app.state.engine) is None:  # a read-only store has no jobs to fail
            fail_interrupted(app.state.engine, orphans_only=not recover_jobs)
        yield
        app.state.jobs.shutdown()

    app = FastAPI(title="gridsvc", version="0.1.0", docs_url="/docs", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = open_store(settings)
    app.state.secret_key = settings.secret_key or secrets.token_urlsafe(32)
    if not settings.secret_key:
        log.warning("GRIDSVC_SECRET_KEY is not set; tokens die when the process restarts")
    app.state.jobs = JobRunner(workers=settings.job_workers)
    app.state.assignments_cache = AnswerCache(settings.answer_cache_mb * 2**20)
    install_error_handlers(app)
    # Routes are matched in the order they are mounted: the phones' hot paths first (each
    # route tried before a match costs about 0.05 ms of CPU per request).
    for module in (locate, mobile):
        app.include_router(module.router, prefix=PREFIX)
    for module in (communities, resources, auth, jobs, plans, editing, drafting, assignments):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(locks.router, prefix=PREFIX)
    for module in (maps, exports, ogc):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(editor.router)
    app.include_router(static.router)
    app.add_middleware(RetryReads)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app
