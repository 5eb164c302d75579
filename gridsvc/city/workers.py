"""The workers of a run's own LocalCluster: quick to leave at the end of the run.

When the run is over and a worker closes, it closes its database connections and leaves without
the interpreter's teardown: freeing every object of a process about to vanish took 1–4 s (the
nanny waits up to 4 s, then kills it), while the run's report waited. It leaves with the status
it was leaving with, not always 0: 1 when the worker's process failed past what Dask catches
(the nanny then logs "Worker process N exited with status 1"). Dask catches a failing plugin
or preload teardown itself (status 0 with or without this plugin), a killed worker never runs
this exit (its status is the signal's), and a failing community is reported by its task's
result, whatever the status. Workers of a cluster given by address are not the run's to tune
and get no plugin.

(Importing the task's modules when a worker starts, rather than in its first task, was measured
and left out: the start then took 4 → 12 s on a loaded machine, the imports' CPU is the same,
and a worker busy importing in its event loop misses heartbeats.)
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from distributed import WorkerPlugin

from .task import close_engines

__all__ = ["LocalWorkers"]


class _Status:
    """``sys.exit`` that remembers the status the main thread leaves with (a spawned worker's
    process ends with ``sys.exit(exitcode)``: 1 after an error, 0 else)."""

    def __init__(self, exit_: Callable[..., NoReturn]) -> None:
        self.exit = exit_
        self.code = 0

    def __call__(self, status: object = None) -> NoReturn:
        if threading.current_thread() is threading.main_thread():
            self.code = _code(status)
        self.exit(status)


def _code(status: object) -> int:
    """The process status ``sys.exit(status)`` leaves with (a message: printed, then 1)."""
    if status is None:
        return 0
    return status if isinstance(status, int) else 1


def _quick_exit(status: _Status) -> None:
    """Leave the process now with its status: logs and output flushed, the interpreter's
    teardown skipped. An exception nobody caught leaves with 1, as Python would."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if getattr(sys, "last_value", None) is not None else status.code)


class LocalWorkers(WorkerPlugin):  # type: ignore[misc]
    """Given to a run's LocalCluster workers as they start: a quick exit at teardown."""

    name = "gridsvc-local-workers"

    def teardown(self, worker: Any) -> None:
        close_engines()
        status = _Status(sys.exit)
        sys.exit = status
        atexit.register(_quick_exit, status)  # atexit runs last in, first out: this comes first
