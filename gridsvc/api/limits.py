"""A request body size limit, as plain ASGI middleware (counts streamed bodies too)."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException

__all__ = ["BodyLimit"]

Scope = dict[str, Any]


class _TooLarge(HTTPException):
    """Raised while reading a body that grew past the limit (FastAPI re-raises HTTP errors)."""


class BodyLimit:
    """Answer 413 problem+json when a request body exceeds ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        seen = 0
        started = False

        async def counting() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(413, _detail(self.max_bytes))
            return message

        async def tracking(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except _TooLarge:
            if not started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Any) -> None:
        body = json.dumps(
            {
                "type": "https://gridsvc.dev/problems/payload-too-large",
                "title": "payload too large",
                "status": 413,
                "detail": _detail(self.max_bytes),
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _detail(limit: int) -> str:
    return (
        f"the request body exceeds {limit} bytes; send less (split the upload) "
        "or raise GRIDSVC_MAX_REQUEST_BYTES"
    )
