"""Open the store: engines for SpatiaLite and PostGIS, Alembic migrations, transactions.

``open_store(settings)`` is the one call an application makes; tests use ``make_engine`` +
``migrate``. ``session_scope`` is one transaction: everything in it lands, or nothing does;
``snapshot_scope`` is one read-only transaction whose statements all see the store as it was
at its first read (a chunked export reads one state, whatever commits beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from gridsvc.errors import ReadOnlyStoreError, StoreError
from gridsvc.store.readonly import (
    ReadOnly,
    immutable_while_unchanged,
    read_only,
    read_only_url,
    refuse_writes,
    store_file,
)

if TYPE_CHECKING:
    from gridsvc.config import Settings

__all__ = [
    "SPATIALITE_FIX",
    "alembic_config",
    "make_engine",
    "migrate",
    "open_store",
    "read_snapshot",
    "session_scope",
    "snapshot_scope",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SPATIALITE_FIX = "apt-get install libsqlite3-mod-spatialite"
_PYSQLITE_FIX = "pip install pysqlite3-binary"
CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server
# PostgreSQL connections kept open between uses, and opened beyond them at peaks (then closed):
# as many as the API's threads (40, anyio's default) in all. A new connection costs a server
# process and, on its first spatial query, loading PostGIS (~50 ms of server CPU, 2026-11-22):
# under load, a pool smaller than the requests in flight opened one for most requests past it.
POOL_SIZE = 20
POOL_OVERFLOW = 20


def make_engine(
    url: str, *, spatialite_path: str = "mod_spatialite", server_options: Sequence[str] = ()
) -> Engine:
    """Return an engine for a ``sqlite:///`` (SpatiaLite) or ``postgresql+psycopg://`` URL.

    SQLite engines load SpatiaLite on every connection and initialise its metadata once on a
    new file; a missing extension raises StoreError at once, with the command that fixes it.
    ``server_options`` (``-c name=value``) set PostgreSQL settings on every connection, before
    the URL's own ``options`` (which win).
    """
    try:
        sa_url = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse database URL {url!r}: {exc}") from exc
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(sa_url, spatialite_path)
    if backend == "postgresql":
        if sa_url.drivername == "postgresql":
            sa_url = sa_url.set(drivername="postgresql+psycopg")
        # connect_timeout: an unreachable server fails the request instead of hanging it.
        # No pre-ping (a round trip per checkout): a connection the server dropped (restart,
        # failover) fails its first statement as a disconnect, which invalidates the whole
        # pool (see _disconnects); the API retries a read once (gridsvc.api.retry).
        # jit=off: PostGIS declares its spatial functions costly, so a short bbox COUNT crossed
        # the JIT threshold and spent ~190 ms compiling what ran in ~15 ms (OGC items' first
        # page over 25k grids, 2026-11-22); gridsvc's statements are all short. The URL's own
        # ``options`` follow (connect_args replace the URL's): the last setting of jit wins.
        given = sa_url.query.get("options", ())
        options = " ".join(
            ["-c jit=off", *server_options, *([given] if isinstance(given, str) else given)]
        )
        engine = create_engine(
            sa_url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            connect_args={"connect_timeout": CONNECT_TIMEOUT, "options": options},
        )
        event.listen(engine, "handle_error", _disconnects)
        return engine
    raise StoreError(
        f"unsupported database URL {sa_url.render_as_string(hide_password=True)!r}; "
        "use sqlite:///path/to/file.sqlite (SpatiaLite) or postgresql+psycopg://user@host/db"
    )


# SQLSTATEs of a connection the server ended: class 08 (connection exception) and the shutdown
# and start-up ones of class 57 (operator intervention).
_GONE = ("57P01", "57P02", "57P03")


def _disconnects(context: ExceptionContext) -> None:
    """Count an error the server sent as it cut the connection (a restart's "terminating
    connection due to administrator command") as a disconnect, whatever state the driver
    left the connection in: SQLAlchemy then drops that connection and every other one the
    pool holds from before (``invalidate_pool_on_disconnect``), and the next checkout opens a
    new one. The error itself still reaches the caller."""
    state = getattr(context.original_exception, "sqlstate", None) or ""
    if state.startswith("08") or state in _GONE:
        context.is_disconnect = True


def _sqlite_module() -> ModuleType:
    """Return a DB-API sqlite3 module that can load extensions (stdlib or pysqlite3)."""
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        raise StoreError(
            "this Python's sqlite3 module cannot load extensions, so SpatiaLite is unusable; "
            f"install a build that can: {_PYSQLITE_FIX}"
        ) from None
    return dbapi2


def _sqlite_engine(url: URL, spatialite_path: str) -> Engine:
    module = _sqlite_module()
    path = store_file(url)
    if path is not None and not path.parent.is_dir():
        raise StoreError(
            f"cannot create SQLite database {url.database!r}: folder {path.parent} does not exist"
        )
    opened, store = read_only_url(url)
    engine = create_engine(opened, module=module)
    if store is not None:
        refuse_writes(engine, store)
        immutable_while_unchanged(engine, store)

    @event.listens_for(engine, "connect")
    def _load_spatialite(dbapi_conn: Any, _record: Any) -> None:
        _load_extension(dbapi_conn, spatialite_path)
        if url.database and url.database != ":memory:" and store is None:
            # WAL: a reader (an export's snapshot) never blocks a writer's commit, nor the
            # writer it; with the default rollback journal a commit waits for every reader.
            # A read-only store is left in whatever mode it is (the pragma is a write).
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
        if store is not None:
            _readable(dbapi_conn, module, store)  # CheckSpatialMetaData hides a failed read
        if dbapi_conn.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
            if store is not None:
                raise StoreError(
                    f"{store.path} is not a gridsvc store (it has no SpatiaLite metadata), "
                    f"and it is read-only ({store.why}), so gridsvc cannot make it one"
                )
            log.info("initialising SpatiaLite metadata in %s", url.database)
            dbapi_conn.execute("SELECT InitSpatialMetaData(1, 'WGS84')")

    try:
        with engine.connect():
            pass
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open SQLite database {url.database!r}: {_cause(exc)}") from exc
    return engine


def _readable(dbapi_conn: Any, module: ModuleType, store: ReadOnly) -> None:
    """Raise StoreError naming the read-only ``store`` when SQLite cannot read it: a ``-wal``
    holding changes is read through a ``-shm`` file, which a read-only folder cannot get."""
    try:
        dbapi_conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except module.Error as exc:
        wal = store.path.with_name(store.path.name + "-wal")
        why = ""
        if wal.exists() and wal.stat().st_size:
            why = (
                f"; its {wal.name} holds changes not yet in the file, which SQLite reads only "
                f"with a {store.path.name}-shm beside it that it cannot create; open it once "
                "where it is writable (the changes then go into the file) before publishing it"
            )
        raise StoreError(
            f"cannot read the store {store.path}, read-only ({store.why}): {exc}{why}"
        ) from exc


def _load_extension(dbapi_conn: Any, spatialite_path: str) -> None:
    dbapi_conn.enable_load_extension(True)
    try:
        dbapi_conn.load_extension(spatialite_path)
    except Exception as exc:
        raise StoreError(
            f"cannot load the SpatiaLite extension {spatialite_path!r} ({exc}); "
            f"install it with: {SPATIALITE_FIX} "
            "(or set GRIDSVC_SPATIALITE_PATH to the mod_spatialite library)"
        ) from exc
    finally:
        dbapi_conn.enable_load_extension(False)


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (``head``); running it again changes nothing.

    A read-only store (:func:`gridsvc.store.readonly.read_only`) is only checked: at
    ``revision`` it is left as it is; else a ReadOnlyStoreError says it cannot be upgraded.
    """
    config = alembic_config()
    store = read_only(engine)
    if store is not None:
        _check_revision(engine, config, revision, store)
        return
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        hint = ""
        if engine.dialect.name == "postgresql" and "postgis" in str(exc).lower():
            hint = "; install PostGIS: apt-get install postgresql-15-postgis-3"
        raise StoreError(f"cannot migrate the store at {where}: {_cause(exc)}{hint}") from exc


def _check_revision(engine: Engine, config: Config, revision: str, store: ReadOnly) -> None:
    """Raise ReadOnlyStoreError unless the read-only ``store`` is at schema ``revision``."""
    scripts = ScriptDirectory.from_config(config)
    want = set(scripts.get_heads()) if revision == "head" else {revision}
    with engine.connect() as connection:
        have = set(MigrationContext.configure(connection).get_current_heads())
    if have != want:
        shown = ", ".join(sorted(have)) or "none (an empty store)"
        raise ReadOnlyStoreError(
            f"{store.refused()} (its schema is at revision {shown}, this gridsvc needs "
            f"{', '.join(sorted(want))}; upgrading it is a change)"
        )


def open_store(settings: Settings) -> Engine:
    """Return an engine for ``settings.database_url`` with the schema migrated to head."""
    engine = make_engine(settings.database_url, spatialite_path=settings.spatialite_path)
    migrate(engine)
    return engine


def read_snapshot(session: Session) -> None:
    """Make ``session``'s transaction one read-only snapshot of the store: call it before the
    transaction's first statement.

    PostGIS: REPEATABLE READ, READ ONLY, so every statement sees the rows committed before its
    first one (READ COMMITTED, the default, takes a new snapshot per statement: the chunks of
    an export could mix two states). SpatiaLite: an explicit ``BEGIN``; the sqlite3 module
    begins no transaction for a SELECT, so each would see the file as of itself. The store's
    WAL journal lets writers commit beside a long read.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    else:
        session.connection().exec_driver_sql("BEGIN")


@contextmanager
def snapshot_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session whose reads all see one snapshot (:func:`read_snapshot`)."""
    with session_scope(engine) as session:
        read_snapshot(session)
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session in one transaction: commit on success, roll back on any exception."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _cause(exc: SQLAlchemyError) -> object:
    """Return the driver's error behind ``exc`` (or ``exc`` itself)."""
    return getattr(exc, "orig", None) or exc
