"""A gridsvc store written and closed, as a grid office publishes it (before making it
read-only): WAL mode, only the file in its folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from gridsvc.store import make_engine, migrate, session_scope


def written_store(tmp_path: Path, fill: Callable[[Session], object]) -> Path:
    """Return ``tmp_path/published/store.sqlite``, migrated and filled by ``fill`` (one
    transaction), its engine closed."""
    folder = tmp_path / "published"
    folder.mkdir()
    path = folder / "store.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with session_scope(engine) as session:
        fill(session)
    engine.dispose()
    assert sorted(p.name for p in folder.iterdir()) == ["store.sqlite"]
    assert path.read_bytes()[18:20] == b"\x02\x02"  # the file says WAL
    return path
