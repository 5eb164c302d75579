"""The one table from gridsvc errors to HTTP statuses, answered as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from ..errors import (
    ConfigError,
    GridsvcError,
    InputError,
    LockedError,
    NotFoundError,
    ReadOnlyStoreError,
    StaleError,
    StoreChangedError,
    StoreError,
)
from .retry import mark_disconnect

__all__ = ["RETRY_AFTER", "STATUS", "install_error_handlers", "problem"]

log = logging.getLogger(__name__)

STATUS: dict[type[GridsvcError], tuple[int, str]] = {
    InputError: (422, "invalid-input"),
    ConfigError: (400, "invalid-settings"),
    NotFoundError: (404, "not-found"),
    StaleError: (412, "stale-etag"),
    LockedError: (423, "grid-locked"),
    ReadOnlyStoreError: (403, "store-read-only"),  # not temporary: no Retry-After
    StoreChangedError: (503, "store-changed"),  # temporary: Retry-After
    StoreError: (503, "store-unavailable"),
    GridsvcError: (500, "internal"),
}
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "stale-etag",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    423: "locked",
    428: "precondition-required",
}
PROBLEM = "application/problem+json"
RETRY_AFTER = "5"  # seconds a client should wait when the database is unreachable
CHANGED_RETRY_AFTER = "1"  # a read-only store changed under a read: the next read is consistent


def _status(exc: GridsvcError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500, "internal"


def problem(
    status: int,
    detail: str,
    *,
    instance: str = "",
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Return an RFC 9457 problem response."""
    slug = slug or _SLUGS.get(status, "error")
    body: dict[str, Any] = {
        "type": f"https://gridsvc.dev/problems/{slug}",
        "title": slug.replace("-", " "),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every GridsvcError, HTTP error and request validation error as problem+json."""

    @app.exception_handler(GridsvcError)
    async def _gridsvc(request: Request, exc: GridsvcError) -> JSONResponse:
        status, slug = _status(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, InputError):
            extra["errors"] = [
                {"source": p.source, "feature": p.feature, "field": p.field, "detail": p.message}
                for p in exc.problems
            ]
            validation = getattr(exc, "validation", None)
            if validation is not None:
                extra["validation"] = validation
        if isinstance(exc, LockedError):
            extra["locks"] = exc.locks
        changed = isinstance(exc, StoreChangedError)
        headers = {"Retry-After": CHANGED_RETRY_AFTER} if changed else None
        return problem(
            status, str(exc), instance=str(request.url.path), slug=slug, headers=headers, **extra
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A lost or refused connection (server restarting, network) is temporary: 503 +
        # Retry-After. A connection found dead has been dropped with the rest of the pool:
        # a read is tried once more on a new one (RetryReads drops this answer then).
        if exc.connection_invalidated:
            mark_disconnect(request)
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
            return _unavailable(request, f"the database is unavailable ({_first_line(exc)})")
        log.exception("database error on %s", request.url.path)
        detail = "the database refused the request; the error is logged on the server"
        return problem(500, detail, instance=str(request.url.path), slug="internal")

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection free for %s: %s", request.url.path, exc)
        return _unavailable(request, "every database connection is busy")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=str(request.url.path),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "detail": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors[:10])
        return problem(422, detail, instance=str(request.url.path), errors=errors)


def _unavailable(request: Request, detail: str) -> JSONResponse:
    return problem(
        503,
        f"{detail}; retry in {RETRY_AFTER} seconds",
        instance=str(request.url.path),
        slug="store-unavailable",
        headers={"Retry-After": RETRY_AFTER},
    )


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
