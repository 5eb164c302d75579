"""SpatiaLite stores gridsvc may read but not change: a file or folder without write permission
(a grid office's published copy, a read-only medium) or a URL that asks for it (``?mode=ro``).

Such a store is opened read-only (SQLite ``mode=ro``): serving and exporting work; a write
fails with :data:`WRITE_REFUSED` (a ReadOnlyStoreError naming the file) and nothing is
written.

A WAL store is read through its ``-shm`` file, which a read-only folder cannot get ("attempt to
write a readonly database" on the first read). When SQLite has none to read through, a
connection is opened ``immutable``: it reads the file alone, without locks, and keeps its page
cache for good. That is right only while nobody writes the store, and "nobody can" is not
proven by permissions (a writer opened before the chmod keeps its descriptors, root writes
anyway, the owner may chmod it back), so it is decided per connection and checked:

- a connection is opened immutable only for a WAL file that no connection holds open (no
  ``-shm``, no rollback journal, an empty or no ``-wal``) and that no one may write by its
  mode (no write bit on the file or its folder, or a read-only file system); a live writer's
  ``-shm`` is read through, with locks, and its commits are seen;
- an immutable connection is given out again only while the store is as it was when the
  connection opened (:func:`_state`); else it is dropped and a new one opened as above;
- a transaction that the store changed under fails at its commit with :data:`CHANGED`
  instead of returning what may mix two states; a reader that hands out what it read before
  its transaction ends (a streamed download, chunk by chunk) checks it before each hand-out
  (:func:`still_unchanged`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import DisconnectionError

from gridsvc.errors import ReadOnlyStoreError, StoreChangedError

__all__ = [
    "CHANGED",
    "WRITE_REFUSED",
    "ReadOnly",
    "immutable_while_unchanged",
    "read_only",
    "read_only_url",
    "refuse_writes",
    "sqlite_url",
    "still_unchanged",
    "store_file",
]

WRITE_REFUSED = (
    "the store {path} is read-only ({why}): gridsvc can serve and export it but not change it; "
    "open a writable copy of it to make changes"
)
CHANGED = (
    "the read-only store {path} changed while gridsvc read it without locks (immutable: nobody "
    "could write it when it was opened); the answer may mix two states: ask again"
)


@dataclass(frozen=True)
class ReadOnly:
    """Why the store at ``path`` is read-only; ``asked`` when the URL said ``mode=ro`` (then
    others may well write it: it is never opened immutable)."""

    path: Path
    why: str
    asked: bool

    def refused(self) -> ReadOnlyStoreError:
        """Return the error a write to this store raises."""
        return ReadOnlyStoreError(WRITE_REFUSED.format(path=self.path, why=self.why))


def read_only_url(url: URL) -> tuple[URL, ReadOnly | None]:
    """Return the URL to open a ``sqlite:///`` store with, and why it is read-only (None when
    gridsvc may write it). ``url`` is a file path, optionally with ``?mode=ro``, or a SQLite
    URI filename (``sqlite:///file:PATH?mode=ro&uri=true``)."""
    path = store_file(url)
    if path is None:
        return url, None
    query = dict(url.query)
    query.pop("uri", None)
    asked = query.pop("mode", None) == "ro"
    why = _why(path, asked=asked)
    if why is None:
        return url.set(database=str(path), query=query), None
    opened = url.set(
        database=f"file:{quote(str(path))}", query={**query, "mode": "ro", "uri": "true"}
    )
    return opened, ReadOnly(path, why, asked)


def store_file(url: URL) -> Path | None:
    """Return the file a ``sqlite:///`` URL names, absolute (None for an in-memory store).

    ``url.database`` is already percent-decoded once (as a URL); a SQLite URI filename
    (``file:PATH`` with ``?uri=true``) is decoded once more, as SQLite decodes it: a folder
    named ``a%20b`` is ``sqlite:////x/a%2520b/s.sqlite`` or
    ``sqlite:///file:/x/a%252520b/s.sqlite?uri=true`` (:func:`sqlite_url` writes the first).
    """
    database = url.database or ""
    if not database or database == ":memory:":
        return None
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = unquote(database.removeprefix("file:").split("?")[0])
    return Path(database).expanduser().resolve()


def sqlite_url(path: Path, **query: str) -> str:
    """Return the ``sqlite:///`` URL of the store file ``path`` (``%``, ``?``, ``#``... in it
    escaped: ``f"sqlite:///{path}"`` opens ``a b`` for a folder named ``a%20b``)."""
    url = URL.create("sqlite", database=str(path), query=query)
    return url.render_as_string(hide_password=False)


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
_OPENED_AS = "gridsvc_immutable_state"  # a connection's info: the store file, its _state then


def immutable_while_unchanged(engine: Engine, store: ReadOnly) -> None:
    """Open ``engine``'s connections to the read-only ``store`` immutable when nobody holds it
    open nor may write it (:func:`_unlocked`), and use each only while the store is unchanged
    (see the module's docstring)."""
    if store.asked:
        return

    @event.listens_for(engine, "do_connect")
    def _open(_dialect: Any, record: Any, cargs: list[Any], _cparams: dict[str, Any]) -> None:
        record.info.pop(_OPENED_AS, None)
        state = _state(store.path)
        if _unlocked(store.path):
            cargs[0] = f"{cargs[0]}&immutable=1"
            record.info[_OPENED_AS] = store.path, state

    @event.listens_for(engine, "checkout")
    def _unchanged(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if _changed(record.info) is not None:
            raise DisconnectionError(f"{store.path} changed since it was opened immutable")

    event.listen(engine, "commit", still_unchanged)


def still_unchanged(connection: Connection) -> None:
    """Raise :data:`CHANGED` if ``connection`` reads its store immutable and the store has
    changed since the connection opened (then what it read may mix two states); else nothing.

    Run at every commit; a transaction's reads handed out before it commits (a streamed
    download's chunks) are checked with it before each is handed out, so none read after a
    change leaves. (A store's state has its ctime, which no write can set back: "unchanged
    now" means unchanged all along.)
    """
    path = _changed(connection.connection.info)
    if path is not None:
        raise StoreChangedError(CHANGED.format(path=path))


def _changed(info: dict[Any, Any]) -> Path | None:
    """Return the store file a connection (``info``, its pool record's) reads immutable if the
    store changed since the connection opened; else None."""
    opened = info.get(_OPENED_AS)
    if opened is not None and opened[1] != _state(opened[0]):
        return Path(opened[0])
    return None


def _state(path: Path) -> tuple[object, ...]:
    """What a write to the store at ``path`` changes: the file (replaced, written, chmod'ed)
    and which of its ``-wal``, ``-shm`` and ``-journal`` lie beside it."""
    try:
        stat_ = path.stat()
    except OSError:  # gone: changed (a connection opened now says why it cannot read it)
        return ()
    beside = tuple(path.with_name(path.name + end).exists() for end in _BESIDE)
    return stat_.st_ino, stat_.st_size, stat_.st_mtime_ns, stat_.st_ctime_ns, *beside


_BESIDE = ("-wal", "-shm", "-journal")


def _unlocked(path: Path) -> bool:
    """Whether SQLite must read the store at ``path`` immutable and may: a WAL file that no
    connection holds open (no ``-shm``, no ``-journal``, no ``-wal`` holding changes) and that
    no one may write by its mode. (A rollback-journal file reads with locks in any folder.)"""
    wal, shm, journal = (path.with_name(path.name + end) for end in _BESIDE)
    try:
        if shm.exists() or journal.exists() or (wal.exists() and wal.stat().st_size):
            return False
        with path.open("rb") as file:
            header = file.read(20)
        return header[18:20] == b"\x02\x02" and _unchangeable(path)
    except OSError:  # gone or unreadable: opened with locks, SQLite says what is wrong
        return False


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
