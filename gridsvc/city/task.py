"""One community of a city run, as a Dask task: read, skip if unchanged, compute, write.

The task opens its own engine (one per worker process and URL), reads the community's slice of
the inputs, and skips it when the store says it is done on the same input digest. Otherwise it
partitions (or, with layers and a roster, merges and staffs) and writes households, buildings,
grids, assignments and its ``community_runs`` row in **one transaction**: a worker killed on
the way leaves nothing, and Dask (or a rerun) runs the community again. An error in one
community is recorded as ``failed`` with its message and returned, never raised.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from ..config import Settings
from ..store import make_engine, session_scope
from ..store.assignments import replace_assignments
from ..store.bulk import replace_community
from ..store.runs import DONE, FAILED, RunRecord, record_run, run_of
from .inputs import CityInputs, CommunityInputs, CommunityJob, read_community

__all__ = ["SKIPPED", "Outcome", "close_engines", "run_community", "settings_key"]

log = logging.getLogger(__name__)

SKIPPED = "skipped"
_ENGINES: dict[str, Engine] = {}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one community: done, skipped (unchanged) or failed (with why)."""

    code: str
    status: str
    households: int = 0
    grids: int = 0
    seconds: float = 0.0
    error: str | None = None
    rss_mb: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    # CPU seconds of the worker process during the task (its threads included): on a shared
    # machine this, not ``seconds``, is the community's cost
    cpu_seconds: float = 0.0
    stage_cpu: dict[str, float] = field(default_factory=dict)  # ``stages`` in CPU seconds


class _Clock:
    """Wall and CPU seconds of each stage of one task, from the task's start or a mark."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._at = (time.perf_counter(), time.process_time())

    def mark(self) -> None:
        """Start the next stage here."""
        self._at = (time.perf_counter(), time.process_time())

    def stage(self, name: str) -> None:
        """End stage ``name`` here (it began at the last mark or stage)."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[name], self.cpu[name] = wall - self._at[0], cpu - self._at[1]
        self._at = (wall, cpu)


def settings_key(settings: Settings, staffed: bool) -> dict[str, Any]:
    """Return what of ``settings`` changes a community's result (it enters the digest)."""
    return {
        "min": settings.min_households,
        "max": settings.max_households,
        "micro_max": settings.micro_max_households,
        "seed": settings.seed,
        "dedicated": settings.dedicated_grids,
        "budget": settings.partition_budget,  # deterministic work: it decides the plan too
        "staffed": staffed,
    }


# A community's commit does not wait for its WAL to reach the disk (PostgreSQL's asynchronous
# commit, for the city workers' connections only). Safe for resumable runs: a commit is still
# all or nothing and visible to readers at once; a server crash can lose the last ~0.6 s of
# commits, whole, ``community_runs`` row included, so a rerun recomputes those communities
# (the run's report may have called them done). A killed worker loses nothing committed.
_SERVER_OPTIONS = ("-c synchronous_commit=off",)


def _engine(url: str) -> Engine:
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url, server_options=_SERVER_OPTIONS)
    return _ENGINES[url]


def close_engines() -> None:
    """Close this process's engines and their connections (a worker that is closing)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _compute(
    data: CommunityInputs, settings: Settings, clock: _Clock | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """Return the community's grids (every level) and, when staffed, its assignments."""
    from ..workflows import engine_options

    clock = clock or _Clock()
    options = engine_options(settings)
    clock.mark()
    if data.layers is None or data.roster is None:
        from ..partition import partition

        result = partition(
            data.community, data.households, buildings=data.buildings,
            barriers=data.barriers, **options,
        )  # fmt: skip
        clock.stage("partition")
        grids = pd.concat([result.grids, result.microgrids], ignore_index=True)
        return gpd.GeoDataFrame(grids, geometry="geometry", crs=result.grids.crs), None
    from ..merge import merge
    from ..staffing import assign

    merged = merge(
        data.community, data.households, data.layers, buildings=data.buildings,
        barriers=data.barriers, **options,
    )  # fmt: skip
    clock.stage("merge")
    staffed = assign(
        merged.unified, data.roster, model="1+1+N", households=data.households,
        layers=data.layers,
    )  # fmt: skip
    clock.stage("staff")
    return merged.unified, staffed.assignments


def _write(
    engine: Engine,
    code: str,
    data: CommunityInputs,
    grids: gpd.GeoDataFrame,
    assignments: pd.DataFrame | None,
    seconds: float,
) -> int:
    """Write everything of ``code`` and its done row in one transaction; return base grids."""
    base = int((grids["level"] == 1).sum()) if "level" in grids else len(grids)
    rows = {"households": data.households, "buildings": data.buildings, "grids": grids}
    with session_scope(engine) as session:
        replace_community(session, code, {k: v for k, v in rows.items() if v is not None})
        if assignments is not None:
            replace_assignments(session, code, assignments)
        record_run(
            session,
            RunRecord(code, data.digest, DONE, None, len(data.households), base, seconds),
        )
    return base


def _failed(engine: Engine, code: str, digest: str, started: float, exc: Exception) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"
    log.warning("community %s failed: %s", code, error)
    seconds = time.perf_counter() - started
    with session_scope(engine) as session:
        record_run(session, RunRecord(code, digest, FAILED, error, seconds=seconds))
    return Outcome(code, FAILED, seconds=seconds, error=error, rss_mb=_rss_mb())


def run_community(
    job: CommunityJob, inputs: CityInputs, settings: Settings, store_url: str
) -> Outcome:
    """Run one community end to end; return its outcome (failures included, not raised)."""
    started, cpu = time.perf_counter(), time.process_time()
    clock = _Clock()
    engine = _engine(store_url)
    digest = ""
    try:
        data = read_community(inputs, job, settings=settings_key(settings, inputs.staffed))
        digest = data.digest
        clock.stage("read")
        with session_scope(engine) as session:
            previous = run_of(session, job.code)
        if previous is not None and previous.status == DONE and previous.input_digest == digest:
            return Outcome(job.code, SKIPPED, len(data.households), previous.grids or 0,
                           rss_mb=_rss_mb(), stages=clock.wall, stage_cpu=clock.cpu)  # fmt: skip
        grids, assignments = _compute(data, settings, clock)
        base = _write(engine, job.code, data, grids, assignments, time.perf_counter() - started)
        clock.stage("write")
    except Exception as exc:  # one community's failure is reported, the others go on
        return _failed(engine, job.code, digest, started, exc)
    return Outcome(job.code, DONE, len(data.households), base,
                   time.perf_counter() - started, rss_mb=_rss_mb(), stages=clock.wall,
                   cpu_seconds=time.process_time() - cpu, stage_cpu=clock.cpu)  # fmt: skip
