"""Alembic environment: run migrations on the connection handed over by ``store.migrate``.

``gridsvc.store.migrate(engine)`` builds the Alembic config programmatically and passes an open
connection in ``config.attributes["connection"]``; there is no alembic.ini. For
``alembic revision --autogenerate`` during development, call
``gridsvc.store.engine.alembic_config(url)`` and use ``alembic.command`` with it.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from gridsvc.store.tables import Base


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        render_as_batch=False,
    )


def run_online() -> None:
    """Run the migrations on the given connection (or one made from ``sqlalchemy.url``)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection or sqlalchemy.url given; use gridsvc.store.migrate")
    from gridsvc.store.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; the DDL is dialect-specific")
run_online()
