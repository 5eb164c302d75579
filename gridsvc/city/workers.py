"""The workers of a run's own LocalCluster: quick to leave at the end of the run.

When the run is over and a worker closes, it closes its database connections and leaves without
the interpreter's teardown: freeing every object of a process about to vanish took 1–4 s (the
nanny waits up to 4 s, then kills it), while the run's report waited. Workers of a cluster given
by address are not the run's to tune and get no plugin.

(Importing the task's modules when a worker starts, rather than in its first task, was measured
and left out: the start then took 4 → 12 s on a loaded machine, the imports' CPU is the same,
and a worker busy importing in its event loop misses heartbeats.)
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Any

from distributed import WorkerPlugin

from .task import close_engines

__all__ = ["LocalWorkers"]


def _quick_exit() -> None:
    """Leave the process now: logs and output flushed, the interpreter's teardown skipped."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class LocalWorkers(WorkerPlugin):  # type: ignore[misc]
    """Given to a run's LocalCluster workers as they start: a quick exit at teardown."""

    name = "gridsvc-local-workers"

    def teardown(self, worker: Any) -> None:
        close_engines()
        atexit.register(_quick_exit)  # atexit runs last in, first out: this comes first
