"""JSON answers for phones: a strong ETag over the body, 304 on If-None-Match, gzip on request."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

from fastapi import Request, Response

__all__ = ["cached_json", "etag_of"]

_MIN_GZIP = 1024
_GZ = "-gzip"


def etag_of(body: bytes) -> str:
    """Return the strong ETag of a response body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/").replace(_GZ, "") for t in header.split(",")]
    return "*" in tags or etag in tags


def cached_json(request: Request, payload: Any) -> Response:
    """Answer ``payload`` as compact JSON with its ETag; 304 when the client already has it.

    The body is gzipped when the client accepts gzip and it is worth it; that representation's
    ETag ends in ``-gzip"``, and either tag matches in If-None-Match.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept-Encoding",
    }
    gzipped = "gzip" in request.headers.get("accept-encoding", "") and len(body) >= _MIN_GZIP
    if gzipped:
        headers["ETag"] = etag[:-1] + _GZ + '"'
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
