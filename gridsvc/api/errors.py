"""The one table from gridsvc errors to HTTP statuses, answered as RFC 9457 problem+json."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import ConfigError, GridsvcError, InputError, NotFoundError, StoreError

__all__ = ["install_error_handlers"]

STATUS: dict[type[GridsvcError], tuple[int, str]] = {
    InputError: (422, "invalid-input"),
    ConfigError: (400, "invalid-settings"),
    NotFoundError: (404, "not-found"),
    StoreError: (503, "store-unavailable"),
    GridsvcError: (500, "internal"),
}


def _status(exc: GridsvcError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500, "internal"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every GridsvcError as application/problem+json."""

    @app.exception_handler(GridsvcError)
    async def _problem(request: Request, exc: GridsvcError) -> JSONResponse:
        status, slug = _status(exc)
        body: dict[str, object] = {
            "type": f"https://gridsvc.dev/problems/{slug}",
            "title": slug.replace("-", " "),
            "status": status,
            "detail": str(exc),
            "instance": str(request.url.path),
        }
        if isinstance(exc, InputError):
            body["errors"] = [
                {"source": p.source, "feature": p.feature, "field": p.field, "detail": p.message}
                for p in exc.problems
            ]
        return JSONResponse(body, status_code=status, media_type="application/problem+json")
