"""The workers of a run's own LocalCluster: warm when they start, quick to leave at the end.

A worker imports the task's modules as it starts, while the driver is still checking the inputs
(otherwise its first task would, on the clock). When the run is over and the worker closes, it
closes its database connections and leaves without the interpreter's teardown: freeing every
object of a process about to vanish took 1–4 s, and the nanny waits up to 4 s, then kills it.
Workers of a cluster given by address are not the run's to tune and get no plugin.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
from typing import Any

from distributed import WorkerPlugin

from .task import close_engines

__all__ = ["WARM", "LocalWorkers"]

WARM = ("gridsvc.city.task", "gridsvc.workflows", "gridsvc.partition")  # what a task imports


def _quick_exit() -> None:
    """Leave the process now: logs and output flushed, the interpreter's teardown skipped."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class LocalWorkers(WorkerPlugin):  # type: ignore[misc]
    """Registered on a run's LocalCluster: warm imports at setup, a quick exit at teardown."""

    name = "gridsvc-local-workers"

    def setup(self, worker: Any) -> None:
        for module in WARM:
            importlib.import_module(module)

    def teardown(self, worker: Any) -> None:
        close_engines()
        atexit.register(_quick_exit)  # atexit runs last in, first out: this comes first
