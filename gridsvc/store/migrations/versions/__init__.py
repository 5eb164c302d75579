"""Alembic revisions of the store schema, applied in order by ``gridsvc.store.migrate``."""
