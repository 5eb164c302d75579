"""Types and constants of the browser harness, importable by tests (conftest.py holds the
fixtures): the live server, the page's log, the seeded accounts' password."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

__all__ = ["PASSWORD", "LiveServer", "PageLog"]

PASSWORD = "correct horse battery"  # every account seeded by tests/api/conftest.py


@dataclass
class LiveServer:
    url: str
    engine: Engine
    code: str


@dataclass
class PageLog:
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.external, f"requests left 127.0.0.1: {self.external}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
