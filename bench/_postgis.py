"""Bench databases on a PostGIS server: created with the postgis extension, dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url


def _admin(server: str) -> Engine:
    return create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_database(server: str, name: str, *, fresh: bool = True) -> str:
    """Create the bench database ``name`` with PostGIS on the server of URL ``server`` (anew
    when ``fresh``, else only when missing); return its URL."""
    admin = _admin(server)
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = make_url(server).set(database=name)
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return target.render_as_string(hide_password=False)


@contextmanager
def postgis_database(server: str, name: str = "gridsvc_bench_serve") -> Iterator[str]:
    """Create (and finally drop) a bench database on the PostGIS server."""
    url = create_database(server, name)
    try:
        yield url
    finally:
        admin = _admin(server)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
