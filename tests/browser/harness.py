"""Types and constants of the browser harness, importable by tests (conftest.py holds the
fixtures): the live server, the page's log, the seeded accounts' password."""

from __future__ import annotations

from dataclasses import dataclass, field

from seeded import PASSWORD  # every seeded account's (tests/seeded.py)
from sqlalchemy.engine import Engine

__all__ = ["PASSWORD", "LiveServer", "PageLog"]


@dataclass
class LiveServer:
    url: str
    engine: Engine
    code: str


@dataclass
class PageLog:
    """Requests that tried to leave 127.0.0.1 and console errors of one page.

    Chromium logs every HTTP error answer as a console error; a test whose flow expects one (a
    412 on a stale save) says so with ``expect_status(412)``, and only those are let through.
    """

    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def expect_status(self, status: int) -> None:
        self.expected_statuses.add(status)

    def unexpected_errors(self) -> list[str]:
        allowed = tuple(
            f"the server responded with a status of {s} " for s in self.expected_statuses
        )
        return [e for e in self.console_errors if not any(a in e for a in allowed)]

    def assert_clean(self) -> None:
        assert not self.external, f"requests left 127.0.0.1: {self.external}"
        errors = self.unexpected_errors()
        assert not errors, f"console errors: {errors}"
