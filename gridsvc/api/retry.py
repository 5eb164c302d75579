"""One more try for a read whose database connection turned out dead, as plain ASGI middleware.

The pool does not ping a connection before lending it (that cost a round trip per request).
After a database restart the pooled connections are dead: the first statement on one fails
as a disconnect, SQLAlchemy drops it and every other pooled connection from before, and the
error handler (:mod:`gridsvc.api.errors`) answers 503 and marks the request with
:func:`mark_disconnect`. For a GET or HEAD (a read: running it again changes nothing) this
middleware drops that 503 unsent and runs the request once more, on a new connection. A
second failure (the database is still down) is answered as it is: a 503 with Retry-After,
counted by the client like any other error. Every retry is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request

__all__ = ["RetryReads", "mark_disconnect"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
_MARK = "gridsvc.disconnect"  # set in a request's scope by the error handler
_READS = ("GET", "HEAD")


def mark_disconnect(request: Request) -> None:
    """Say that ``request`` failed because its database connection was found dead."""
    request.scope[_MARK] = True


class RetryReads:
    """Run a GET or HEAD once more when its first run's connection was found dead."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        first = dict(scope)  # routing adds keys to the scope it is given: keep the original
        received: list[Any] = []
        dropped = False

        async def recording() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message)
            return message

        async def holding(message: Any) -> None:
            nonlocal dropped
            if message["type"] == "http.response.start" and first.get(_MARK):
                dropped = True
            if not dropped:
                await send(message)

        await self.app(first, recording, holding)
        if not dropped:
            return
        log.warning("%s %s: database connection lost; trying once more", scope["method"],
                    scope["path"])  # fmt: skip
        replay = list(received)

        async def replaying() -> Any:
            return replay.pop(0) if replay else await receive()

        await self.app(dict(scope), replaying, send)
