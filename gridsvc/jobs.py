"""Background jobs in a thread pool inside the process: partition, merge (多格合一), assign.

A job runs in one store transaction: it commits only when its function returns and no one has
cancelled it, so a failed or cancelled job leaves the store as it was. Its record (status,
report, error, who, when) is kept in the store's ``jobs`` table too: written when it is
queued and started, in the job's own transaction when it succeeds (so "succeeded" and its
writes land together), and after the rollback when it fails. Live progress is held in memory;
the store has the progress of the last record written. Each record names the process that
owns it (pid, start time and boot id, :mod:`gridsvc.store.owner`). When a service starts,
``fail_interrupted`` marks the jobs an earlier process left unfinished as failed; when one
more process of a running service starts (a worker uvicorn restarted after a crash), it fails
only the jobs of owners that are dead.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .config import Settings
from .errors import GridsvcError, InputError, Problem, StoreError
from .store import audit, session_scope
from .store import jobs as stored_jobs
from .store.owner import this_process

__all__ = [
    "Job",
    "JobCancelled",
    "JobRunner",
    "assign_job",
    "community_layers",
    "fail_interrupted",
    "load_job",
    "merge_job",
    "partition_job",
]

log = logging.getLogger(__name__)

Say = Callable[[str, float], None]
JobFn = Callable[[Session, Say], dict[str, Any]]
INTERRUPTED = (
    "interrupted by a restart of the service before it finished; nothing it did was kept "
    "(its transaction rolled back); start it again"
)


class JobCancelled(GridsvcError):
    """The job was cancelled; its transaction is rolled back."""


@dataclass
class Job:
    """One background job: what, for whom, how far, and how it ended."""

    id: str
    kind: str
    communities: list[str]
    user: str | None
    status: str = "queued"  # queued, running, succeeded, failed, cancelled
    progress: float = 0.0
    message: str = ""
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    owner: str | None = None  # the process running it (store.owner)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def record(self) -> dict[str, Any]:
        """Return the job as a store record (datetimes as they are)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "communities": self.communities,
            "user": self.user,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "report": self.report,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "owner": self.owner,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        """Return a finished-looking job from a store record (no thread behind it)."""
        job = cls(**record)
        job.done.set()
        return job

    def as_dict(self) -> dict[str, Any]:
        """Return the job as the API shows it (the owner process is the service's business)."""
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in self.record().items()
            if k != "owner"
        }


def load_job(session: Session, job_id: str) -> Job | None:
    """Return job ``job_id`` as stored (by this or an earlier process), or None."""
    record = stored_jobs.read_job(session, job_id)
    return None if record is None else Job.from_record(record)


def fail_interrupted(engine: Engine, *, orphans_only: bool = False) -> list[str]:
    """Mark the jobs an earlier process left queued or running as failed; return their ids.

    Call it when a service starts on ``engine`` and, with ``orphans_only``, when one more
    process of a running service starts: then only jobs whose owner process is dead are
    failed (see :func:`gridsvc.store.jobs.fail_unfinished`). Each such job rolled back when
    its process died, so the store holds nothing it did.
    """
    with session_scope(engine) as session:
        ids = stored_jobs.fail_unfinished(session, error=INTERRUPTED, orphans_only=orphans_only)
    if ids:
        log.warning("%d jobs were interrupted by a restart: %s", len(ids), ", ".join(ids))
    return ids


class JobRunner:
    """Run jobs on ``workers`` threads, each in one transaction on the engine it is given."""

    def __init__(self, *, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gridsvc-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(
        self, kind: str, fn: JobFn, *, engine: Engine, communities: Sequence[str], user: str | None
    ) -> Job:
        """Queue ``fn`` (to run on ``engine``) and return its job at once."""
        job = Job(uuid.uuid4().hex, kind, list(communities), user, owner=this_process())
        with session_scope(engine) as session:
            stored_jobs.save_job(session, job.record())
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, fn, engine)
        return job

    def get(self, job_id: str) -> Job | None:
        """Return job ``job_id`` or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Ask job ``job_id`` to stop; it rolls back at its next progress report or at the end."""
        job = self.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.cancel.set()
        return job

    def shutdown(self) -> None:
        """Cancel every unfinished job and wait for the threads."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, fn: JobFn, engine: Engine) -> None:
        def say(message: str, fraction: float) -> None:
            if job.cancel.is_set():
                raise JobCancelled(f"job {job.id} was cancelled")
            job.message, job.progress = message, max(0.0, min(1.0, fraction))

        try:
            if job.cancel.is_set():
                raise JobCancelled(f"job {job.id} was cancelled before it started")
            job.status, job.started_at = "running", datetime.now(UTC)
            self._persist(job, engine)
            with session_scope(engine) as session:
                report = fn(session, say)
                if job.cancel.is_set():
                    raise JobCancelled(f"job {job.id} was cancelled; nothing was changed")
                audit.record(
                    session,
                    user=job.user,
                    action=f"job.{job.kind}",
                    target=f"job/{job.id}",
                    after={"communities": job.communities},
                )
                done = job.record() | {
                    "status": "succeeded",
                    "progress": 1.0,
                    "report": report,
                    "finished_at": datetime.now(UTC),
                }
                if not stored_jobs.save_job(session, done, expect=stored_jobs.UNFINISHED):
                    raise JobCancelled(
                        f"job {job.id} was marked interrupted by a restart of another service "
                        "process; nothing was changed"
                    )
            job.report, job.status, job.progress = report, "succeeded", 1.0
            job.finished_at = done["finished_at"]
        except JobCancelled as exc:
            self._finish(job, engine, "cancelled", str(exc))
        except GridsvcError as exc:
            self._finish(job, engine, "failed", str(exc))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self._finish(job, engine, "failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            job.done.set()

    def _finish(self, job: Job, engine: Engine, status: str, error: str) -> None:
        """Record how a job that rolled back ended, in memory and in the store."""
        job.status, job.error, job.finished_at = status, error, datetime.now(UTC)
        self._persist(job, engine)

    @staticmethod
    def _persist(job: Job, engine: Engine) -> None:
        """Write the job's record in its own transaction; a store error is logged, not raised.

        Only a record still queued or running is updated: one a restart marked interrupted
        keeps saying so. A record that cannot be written stays unfinished in the store, and
        the next start marks it failed.
        """
        try:
            with session_scope(engine) as session:
                stored_jobs.save_job(session, job.record(), expect=stored_jobs.UNFINISHED)
        except (SQLAlchemyError, StoreError):
            log.exception("cannot store the record of job %s (%s)", job.id, job.status)


def _each_community(
    communities: Sequence[str], verb: str, step: Callable[[Session, str, Say], Any]
) -> JobFn:
    """Return a job running ``step(session, code, say)`` on each community in turn; its report
    maps each code to what ``step`` returned. ``step`` says its progress within the community
    (0 to 1); the job's progress is that share of the whole."""

    def run(session: Session, say: Say) -> dict[str, Any]:
        report: dict[str, Any] = {}
        for i, code in enumerate(communities):
            say(f"{verb} {code}", i / len(communities))

            def within(message: str, fraction: float, i: int = i) -> None:
                say(message, (i + fraction) / len(communities))

            report[code] = step(session, code, within)
        say("done", 1.0)
        return report

    return run


def partition_job(communities: Sequence[str], *, settings: Settings) -> JobFn:
    """Return a job partitioning each community and publishing the result (history kept)."""

    def step(session: Session, code: str, say: Say) -> Any:
        from .store import plans
        from .workflows import partition_community

        result = partition_community(session, code, settings=settings)
        plans.sync_history(session, code)
        return result.report.get("totals", {})

    return _each_community(communities, "partition", step)


def community_layers(
    community: gpd.GeoDataFrame, layer_grids: gpd.GeoDataFrame, layers: Sequence[str] | None = None
) -> gpd.GeoDataFrame:
    """Return the departmental grids overlapping ``community`` (by area), of ``layers`` if given.

    Raise InputError naming the community when none are left (merge needs at least one layer).
    """
    code = str(community["code"].iloc[0])
    outline = shapely.union_all(community.geometry.to_numpy())
    overlap = shapely.area(shapely.intersection(layer_grids.geometry.to_numpy(), outline))
    keep = overlap > 1e-12 * max(shapely.area(outline), 1e-12)  # not just touching the edge
    if layers is not None:
        keep &= layer_grids["layer"].astype(str).isin(list(layers)).to_numpy()
    out = layer_grids[keep]
    hard_first = (out["policy"].astype(str) != "hard").to_numpy()
    out = out.iloc[np.lexsort((out["layer"].astype(str).to_numpy(), hard_first))]
    out = out.reset_index(drop=True)
    if out.empty:
        wanted = "" if layers is None else f" among layers {', '.join(layers)}"
        raise InputError(
            Problem(
                f"community {code} has no departmental layers{wanted} to merge; import them first "
                "(kind layer_grids, with department and policy hard|soft)",
                source=code,
                field="layers",
            )
        )
    return out


def merge_job(
    communities: Sequence[str], *, settings: Settings, layers: Sequence[str] | None = None
) -> JobFn:
    """Return a job merging each community's departmental layers into its base grids (一张网).

    The unified grids replace the community's base grids, its micro-grids are drawn again
    inside each unified grid, staffing assignments of grids that no longer exist are cleared,
    and its grid history is brought in step.
    """

    def step(session: Session, code: str, say: Say) -> dict[str, Any]:
        from . import frames
        from .merge import merge
        from .microgrids import redraw_microgrids
        from .planning import assign_households
        from .store import plans, repo
        from .store.assignments import clear_assignments
        from .workflows import engine_options, partition_levels, read_community_bundle

        bundle = read_community_bundle(session, code)
        chosen = community_layers(bundle.community, bundle.layer_grids, layers)
        result = merge(
            bundle.community,
            bundle.households,
            chosen,
            buildings=bundle.buildings if len(bundle.buildings) else None,
            **engine_options(settings),
        )
        say(f"draw the micro-grids of {code}", 0.7)
        unified = frames.conform("grids", result.unified.assign(level=1, parent_code=None))
        homes = assign_households(bundle.households, unified)
        ids = bundle.households["id"].astype(str)
        micro = redraw_microgrids(
            unified,
            bundle.households,
            {str(c): frozenset(g) for c, g in ids.groupby(homes.to_numpy())},
            levels=partition_levels(settings),
            community=code,
            buildings=bundle.buildings if len(bundle.buildings) else None,
            seed=settings.seed,
        )  # fmt: skip
        say(f"store the unified grids of {code}", 0.9)
        repo.delete(session, "grids", community=code)
        repo.upsert(session, "grids", unified)
        repo.upsert(session, "grids", micro.grids)
        plans.sync_history(session, code)
        live = [*unified["code"].astype(str), *micro.grids["code"].astype(str)]
        cleared = clear_assignments(session, code, keep=live)
        layer_policies = chosen.drop_duplicates("layer").set_index("layer")["policy"]
        return {
            **result.report["measures"],
            "layers": {str(k): str(v) for k, v in layer_policies.items()},
            "base_grids_replaced": len(bundle.grids),
            "microgrids_replaced": len(bundle.microgrids),
            "microgrids": len(micro.grids),
            "microgrid_notes": micro.notes,
            "partition_budget": result.report["unified"]["partition_budget"],
            "assignments_cleared": cleared,
            "note": (
                f"{cleared} staffing assignments of grids that no longer exist were "
                "cleared; run an assign job to staff the unified grids"
                if cleared
                else ""
            ),
        }

    return _each_community(communities, "merge", step)


def _workers(session: Session, codes: Sequence[str]) -> gpd.GeoDataFrame:
    """Return the stored workers living in ``codes`` or in no community, with community_code."""
    from .store import repo

    workers = repo.read(session, "workers")
    home = repo.communities_containing(session, workers.geometry)
    workers["community_code"] = home.to_numpy()
    keep = home.isna() | home.isin(list(codes))
    return workers[keep.to_numpy()].reset_index(drop=True)


def assign_job(communities: Sequence[str], *, settings: Settings, model: str = "1+1+N") -> JobFn:
    """Return a job staffing the base grids of the communities and storing the assignments.

    Workers come from the store (their community is where their home lies; those living in no
    community serve the nearest); police beats from the hard layers; stored assignments are
    kept where still valid. One solve covers every community of the job, so a worker's
    capacity holds across them.
    """

    def run(session: Session, say: Say) -> dict[str, Any]:
        from .planning import assign_households
        from .staffing import assign, load_model
        from .store.assignments import read_assignments, replace_assignments
        from .workflows import read_community_bundle

        staffing_model = load_model(model)
        grids, homes, beats, previous = [], [], [], []
        for i, code in enumerate(communities):
            say(f"read {code}", 0.3 * i / len(communities))
            bundle = read_community_bundle(session, code)
            if bundle.grids.empty:
                raise InputError(
                    Problem(
                        f"community {code} has no base grids to staff; partition or merge it first",
                        source=code,
                        field="grids",
                    )
                )
            grids.append(bundle.grids)
            hh = bundle.households.copy()
            hh["grid_code"] = assign_households(hh, bundle.grids).to_numpy()
            homes.append(hh)
            layer = bundle.layer_grids
            beats.append(layer[layer["policy"].astype(str) == "hard"])
            previous.append(read_assignments(session, community=code))
        workers = _workers(session, communities)
        say(f"staff {len(communities)} communities under {staffing_model.name}", 0.3)
        result = assign(
            _concat(grids), workers, model=staffing_model, households=_concat(homes),
            layers=_concat(beats).drop_duplicates(["layer", "grid_id"]),
            previous=pd.concat(previous, ignore_index=True),
        )  # fmt: skip
        say("store the assignments", 0.9)
        plan = result.assignments
        grid_comm = _concat(grids).set_index("code")["community_code"].astype(str)
        plan_comm = grid_comm.reindex(plan["grid_code"].astype(str)).to_numpy()
        report: dict[str, Any] = {
            "model": staffing_model.name,
            "summary": result.report.get("summary", {}),
            "communities": {},
        }
        for code in communities:
            mine = plan[plan_comm == code]
            stored = replace_assignments(session, code, mine)
            report["communities"][code] = {
                "assignments": stored,
                "kept": int(mine["kept"].fillna(False).astype(bool).sum()),
                "grids": int((grid_comm == code).sum()),
            }
        say("done", 1.0)
        return report

    return run


def _concat(parts: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs
    )
