"""The app factory."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import Settings
from ..store import open_store
from .errors import install_error_handlers
from .routes import communities

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Build the API for ``settings``: open (and migrate) the store, mount the routers."""
    app = FastAPI(title="gridsvc", version="0.1.0", docs_url="/docs")
    app.state.settings = settings
    app.state.engine = open_store(settings)
    install_error_handlers(app)
    app.include_router(communities.router, prefix="/api/v1")
    return app
