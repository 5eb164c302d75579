"""SpatiaLite stores gridsvc may read but not change: a file or folder without write permission
(a grid office's published copy, a read-only medium) or a URL that asks for it (``?mode=ro``).

Such a store is opened read-only (SQLite ``mode=ro``): serving and exporting work; a write
fails with :data:`WRITE_REFUSED` (a ReadOnlyStoreError naming the file) and nothing is
written. A store in WAL mode
that nobody can change (no write permission on the file or its folder, or a read-only file
system, and no ``-wal`` file holding changes) is opened ``immutable``: SQLite then reads it
without the ``-shm``/``-wal`` files a WAL reader otherwise creates beside it (and could not
create in a read-only folder: "attempt to write a readonly database" on the first read).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, ExceptionContext

from gridsvc.errors import ReadOnlyStoreError

__all__ = ["WRITE_REFUSED", "ReadOnly", "read_only", "read_only_url", "refuse_writes"]

WRITE_REFUSED = (
    "the store {path} is read-only ({why}): gridsvc can serve and export it but not change it; "
    "open a writable copy of it to make changes"
)


@dataclass(frozen=True)
class ReadOnly:
    """Why the store at ``path`` is read-only; ``frozen`` when nobody can change it."""

    path: Path
    why: str
    frozen: bool

    def refused(self) -> ReadOnlyStoreError:
        """Return the error a write to this store raises."""
        return ReadOnlyStoreError(WRITE_REFUSED.format(path=self.path, why=self.why))


def read_only_url(url: URL) -> tuple[URL, ReadOnly | None]:
    """Return the URL to open a ``sqlite:///`` store with, and why it is read-only (None when
    gridsvc may write it). ``url`` is a file path, optionally with ``?mode=ro``, or a SQLite
    URI filename (``sqlite:///file:PATH?mode=ro&uri=true``)."""
    database = url.database or ""
    query = dict(url.query)
    if not database or database == ":memory:":
        return url, None
    uri = query.pop("uri", None) == "true"
    if uri and database.startswith("file:"):
        database = unquote(database.removeprefix("file:").split("?")[0])
    asked = query.pop("mode", None) == "ro"
    path = Path(database).expanduser().resolve()
    why = _why(path, asked=asked)
    if why is None:
        return url.set(database=str(path), query=query), None
    wal = path.with_name(path.name + "-wal")
    frozen = not asked and _unchangeable(path) and not (wal.exists() and wal.stat().st_size)
    options = {**query, "mode": "ro", "uri": "true"}
    if frozen:
        options["immutable"] = "1"
    opened = url.set(database=f"file:{quote(str(path))}", query=options)
    return opened, ReadOnly(path, why, frozen)


def read_only(engine: Engine) -> ReadOnly | None:
    """Return why ``engine``'s store is read-only (None when gridsvc may write it)."""
    return _READ_ONLY.get(engine)


def refuse_writes(engine: Engine, store: ReadOnly) -> None:
    """Mark ``engine`` read-only and turn SQLite's "attempt to write a readonly database"
    on it into :meth:`ReadOnly.refused` (naming the file)."""
    _READ_ONLY[engine] = store

    def _refuse(context: ExceptionContext) -> None:
        code = getattr(context.original_exception, "sqlite_errorname", "")
        if code.startswith("SQLITE_READONLY"):
            raise store.refused() from context.original_exception

    event.listen(engine, "handle_error", _refuse)


_READ_ONLY: WeakKeyDictionary[Engine, ReadOnly] = WeakKeyDictionary()


def _why(path: Path, *, asked: bool) -> str | None:
    """Return why the store file ``path`` is read-only, None when gridsvc may write it."""
    if asked:
        return "opened with mode=ro"
    if not path.exists():
        return None  # a new store: created writable
    if not _writable(path):
        return f"the file is not writable (mode {stat.filemode(path.stat().st_mode)})"
    if not _writable(path.parent):
        return f"its folder {path.parent} is not writable"
    return None


def _writable(path: Path) -> bool:
    """Whether this process may write ``path``: permission granted and some write bit set (a
    published copy chmod'ed read-only is honoured even by root, who could write it anyway)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _unchangeable(path: Path) -> bool:
    """Whether nobody can change the store: a read-only file system, or no write bit at all on
    the file or its folder (a WAL or rollback journal needs the folder)."""
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return True
    return not (path.stat().st_mode & 0o222) or not (path.parent.stat().st_mode & 0o222)
