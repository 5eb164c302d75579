"""Background jobs in a thread pool inside the process: partition (merge, assign when built).

A job runs in one store transaction: it commits only when its function returns and no one has
cancelled it, so a failed or cancelled job leaves the store as it was. Status, progress and
report live in memory (they are lost on restart; the store is never half-written).
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

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .config import Settings
from .errors import GridsvcError
from .store import audit, session_scope

__all__ = ["Job", "JobCancelled", "JobRunner", "partition_job"]

log = logging.getLogger(__name__)

Say = Callable[[str, float], None]
JobFn = Callable[[Session, Say], dict[str, Any]]


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
    finished_at: datetime | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "communities": self.communities,
            "user": self.user, "status": self.status, "progress": round(self.progress, 4),
            "message": self.message, "report": self.report, "error": self.error,
            "created_at": self.created_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


class JobRunner:
    """Run jobs on ``workers`` threads, each in one transaction on the engine it is given."""

    def __init__(self, *, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gridsvc-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, fn: JobFn, *, engine: Engine, communities: Sequence[str],
               user: str | None) -> Job:
        """Queue ``fn`` (to run on ``engine``) and return its job at once."""
        job = Job(uuid.uuid4().hex, kind, list(communities), user)
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
            job.status = "running"
            with session_scope(engine) as session:
                report = fn(session, say)
                if job.cancel.is_set():
                    raise JobCancelled(f"job {job.id} was cancelled; nothing was changed")
                audit.record(session, user=job.user, action=f"job.{job.kind}",
                             target=f"job/{job.id}", after={"communities": job.communities})
            job.report, job.status, job.progress = report, "succeeded", 1.0
        except JobCancelled as exc:
            job.status, job.error = "cancelled", str(exc)
        except GridsvcError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:
            log.exception("job %s failed", job.id)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            job.finished_at = datetime.now(UTC)
            job.done.set()


def partition_job(communities: Sequence[str], *, settings: Settings) -> JobFn:
    """Return a job partitioning each community and publishing the result (history kept)."""

    def run(session: Session, say: Say) -> dict[str, Any]:
        from .store import plans
        from .workflows import partition_community

        report: dict[str, Any] = {}
        for i, code in enumerate(communities):
            say(f"partition {code}", i / len(communities))
            result = partition_community(session, code, settings=settings)
            plans.sync_history(session, code)
            report[code] = result.report.get("totals", {})
        say("done", 1.0)
        return report

    return run
