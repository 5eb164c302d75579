"""JSON answers for phones: a strong ETag over the body, 304 on If-None-Match, gzip on request;
and a per-process cache of such answers, ready to send, under a key that names their version."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

__all__ = ["AnswerCache", "Prepared", "answer", "cached_json", "etag_of", "prepare"]

_MIN_GZIP = 1024
_GZ = "-gzip"
# Python objects per cached answer beyond its bytes: the entry, its owner and version keys
# (account, assignment rows, change stamps), the ETag; measured with tracemalloc (see tests).
ENTRY_OVERHEAD = 1_000


def etag_of(body: bytes) -> str:
    """Return the strong ETag of a response body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/").replace(_GZ, "") for t in header.split(",")]
    return "*" in tags or etag in tags


@dataclass(frozen=True, slots=True)
class Prepared:
    """A JSON body with its ETag, kept gzipped when that is worth it (1 kB or more): phones ask
    for gzip, so a cached answer costs its compressed size; others get it decompressed."""

    etag: str
    gzipped: bytes | None
    plain: bytes | None  # the body, when it is not kept gzipped

    @property
    def body(self) -> bytes:
        if self.plain is not None:
            return self.plain
        assert self.gzipped is not None
        return gzip.decompress(self.gzipped)

    @property
    def size(self) -> int:
        """Bytes this answer holds in an :class:`AnswerCache` (its Python objects included)."""
        return ENTRY_OVERHEAD + len(self.gzipped if self.gzipped is not None else self.plain or b"")


def prepare(body: bytes) -> Prepared:
    """Return ``body`` (compact JSON) ready to answer: ETag, and gzip when it is 1 kB or more."""
    if len(body) < _MIN_GZIP:
        return Prepared(etag_of(body), None, body)
    return Prepared(etag_of(body), gzip.compress(body, compresslevel=6, mtime=0), None)


def answer(request: Request, prepared: Prepared) -> Response:
    """Answer ``prepared`` with its ETag; 304 when the client already has it.

    The body is gzipped when the client accepts gzip and it is worth it; that representation's
    ETag ends in ``-gzip"``, and either tag matches in If-None-Match.
    """
    headers = {
        "ETag": prepared.etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept-Encoding",
    }
    gzipped = "gzip" in request.headers.get("accept-encoding", "") and prepared.gzipped
    if gzipped:
        headers["ETag"] = prepared.etag[:-1] + _GZ + '"'
    if _matches(request.headers.get("if-none-match"), prepared.etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(prepared.gzipped, media_type="application/json", headers=headers)
    return Response(prepared.body, media_type="application/json", headers=headers)


def cached_json(request: Request, payload: Any) -> Response:
    """Answer ``payload`` as compact JSON with its ETag (see :func:`answer`)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return answer(request, Prepared(etag_of(body), None, body))  # no gzip to make
    return answer(request, prepare(body))


class AnswerCache:
    """Prepared answers by owner (e.g. an account), each filed under the version it was built
    for; an owner holds one answer, and the least recently used go first past ``max_bytes``.

    ``get`` returns an answer only for the exact version asked: the caller puts in the
    version everything the answer was built from (change stamps, assignments, the account),
    read *before* building it, so a changed store never finds an old answer. Thread-safe.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Hashable, Prepared]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, owner: Hashable, version: Hashable) -> Prepared | None:
        """Return the answer of ``owner`` built for ``version``, or None."""
        with self._lock:
            entry = self._entries.get(owner)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self._entries.move_to_end(owner)
            self.hits += 1
            return entry[1]

    def put(self, owner: Hashable, version: Hashable, prepared: Prepared) -> None:
        """File ``prepared`` as ``owner``'s answer for ``version`` (replacing an older one)."""
        if prepared.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(owner, None)
            if old is not None:
                self._bytes -= old[1].size
            self._entries[owner] = (version, prepared)
            self._bytes += prepared.size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def __len__(self) -> int:
        return len(self._entries)
