"""Run a whole city on Dask distributed: one task per community, results as they finish.

``run_city`` checks the inputs city-wide (nothing is written when they are bad), migrates the
store, records the communities, then maps :func:`gridsvc.city.task.run_community` over the
communities on a LocalCluster (``workers`` processes, loopback only) or on the cluster at
``scheduler``. Tasks are retried when a worker dies; each reports done, skipped or failed,
and ``say(outcome, done, total)`` is called as each one lands.

A LocalCluster's workers leave without the interpreter's teardown when the run is over
(:mod:`gridsvc.city.workers`). No dashboard: nothing reads it, and Bokeh cost the cluster's
start about 0.7 s. (Starting the cluster in a thread while the driver checks the inputs was
measured and left out: the check then took 2 → 10 s wall and the first task started later.)
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..store import make_engine, migrate, repo, session_scope
from ..store.runs import FAILED
from .inputs import CityInputs, CommunityJob, index_city
from .task import Outcome, run_community

__all__ = ["CityReport", "dask_client", "run_city"]

log = logging.getLogger(__name__)

RETRIES = 3


@dataclass(frozen=True, slots=True)
class CityReport:
    """The outcome of every community and the run's totals."""

    outcomes: list[Outcome]
    seconds: float
    workers: int
    driver_rss_mb: float
    worker_rss_mb: float
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def _worker_path() -> None:
    """Put the folder holding this gridsvc first on PYTHONPATH, so spawned workers import it."""
    root = str(Path(__file__).resolve().parents[2])
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if paths[:1] != [root]:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *(p for p in paths if p and p != root)])


@contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = 2) -> Iterator[Any]:
    """Yield a Dask client: to ``scheduler``, or to a loopback LocalCluster of ``workers``."""
    from distributed import Client

    with _cluster(scheduler, workers) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def _cluster(scheduler: str | None, workers: int) -> Iterator[Any]:
    """Yield ``scheduler``, or a loopback LocalCluster of ``workers`` for this run."""
    if scheduler:
        yield scheduler
        return
    from distributed import LocalCluster

    from .workers import LocalWorkers

    _worker_path()
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
        plugins=(LocalWorkers(),),
    ) as cluster:  # fmt: skip
        yield cluster


def _prepare_store(url: str, inputs: CityInputs) -> None:
    """Migrate the store and upsert the communities (small) before any task runs."""
    from ..ingest import load_frame

    engine = make_engine(url)
    try:
        migrate(engine)
        communities = load_frame(inputs.communities, kind="communities", crs=inputs.crs)
        with session_scope(engine) as session:
            repo.upsert(session, "communities", communities)
    finally:
        engine.dispose()


def run_city(
    inputs: CityInputs,
    settings: Settings,
    *,
    store_url: str,
    scheduler: str | None = None,
    workers: int = 2,
    say: Callable[[Outcome, int, int], Any] | None = None,
    index: Callable[[list[CommunityJob]], Any] | None = None,
) -> CityReport:
    """Run every community of ``inputs`` into the store at ``store_url``; return the report."""
    from distributed import as_completed

    started = time.perf_counter()
    outcomes: list[Outcome] = []
    jobs, _counts = index_city(inputs)
    if index is not None:
        index(jobs)
    _prepare_store(store_url, inputs)
    with dask_client(scheduler, workers=workers) as client:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        futures = [
            client.submit(
                run_community,
                job,
                inputs,
                settings,
                store_url,
                key=f"community-{job.code}",
                retries=RETRIES,
                pure=False,
            )
            for job in jobs
        ]
        for future in as_completed(futures):
            try:
                outcome: Outcome = future.result()
            except Exception as exc:  # e.g. KilledWorker after every retry: report, go on
                code = str(future.key).removeprefix("community-")
                outcome = Outcome(code, FAILED, error=f"{type(exc).__name__}: {exc}")
            outcomes.append(outcome)
            if say is not None:
                say(outcome, len(outcomes), len(jobs))
            future.release()
    totals = {
        status: sum(o.status == status for o in outcomes)
        for status in ("done", "skipped", "failed")
    }
    totals["households"] = sum(o.households for o in outcomes)
    totals["grids"] = sum(o.grids for o in outcomes)
    return CityReport(
        outcomes=sorted(outcomes, key=lambda o: o.code),
        seconds=time.perf_counter() - started,
        workers=n_workers,
        driver_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        worker_rss_mb=max((o.rss_mb for o in outcomes), default=0.0),
        totals=totals,
    )
