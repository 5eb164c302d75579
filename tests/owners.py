"""The owner string (:mod:`gridsvc.store.owner`) of a process that has exited, for tests of
what happens to the jobs of a dead process."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["dead_owner"]

_OWNER = "from gridsvc.store.owner import this_process; print(this_process())"


def dead_owner() -> str:
    """Run a Python process that prints its owner string and exits; return that string."""
    done = subprocess.run(
        [sys.executable, "-c", _OWNER],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return done.stdout.strip()
