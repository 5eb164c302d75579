"""What a test needs from the machine: skipped locally when missing, a failure under CI.

``.ci/run`` (and CI services generally) set ``CI``; there every test must run, so a missing
PostGIS server or GDAL program fails the run instead of quietly skipping. Import it by its
plain name (``from needs import missing``; see tests/seeded.py on why not ``tests.needs``).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing", "under_ci"]


def under_ci() -> bool:
    """Return whether the tests run under CI (env ``CI`` set and not ``0``/``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, reason: str) -> NoReturn:
    """Skip the test because ``what`` is missing (``reason`` says how to get it); fail under CI."""
    if under_ci():
        pytest.fail(f"{what} is required under CI: {reason}")
    pytest.skip(reason)
