"""Alembic migrations of the store; run them with ``gridsvc.store.migrate(engine)``."""
