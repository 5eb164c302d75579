"""Job owners (migration 0007_serve_job_owner): a job records the process running it, and a
recovery fails the jobs of a dead owner but never those of a live one, on both stores."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from alembic import command
from owners import dead_owner
from sqlalchemy import Engine, inspect

from gridsvc.store import migrate, session_scope
from gridsvc.store.engine import alembic_config
from gridsvc.store.jobs import fail_unfinished, read_job, save_job
from gridsvc.store.owner import is_alive, this_process


def test_an_owner_names_one_live_process() -> None:
    me = this_process()
    assert me.split(":")[1] == str(os.getpid())
    assert is_alive(me) is True
    dead = dead_owner()
    assert dead != me
    assert is_alive(dead) is False
    boot, pid, start = me.split(":")
    assert is_alive(f"{boot}:{pid}:{int(start) + 1}") is False  # the pid reused by another
    assert is_alive(f"another-machine:{pid}:{start}") is None  # cannot be told from here
    boot_id, _, namespace = boot.partition("/")
    assert namespace.isdigit()  # a container on this host: same boot id, its own pids
    assert is_alive(f"{boot_id}/{int(namespace) + 1}:{pid}:{start}") is None
    assert is_alive("not an owner") is None
    assert len(me) <= 96  # the column's width


def _job(job_id: str, owner: str | None, status: str = "running") -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": job_id, "kind": "partition", "communities": ["420111001001"], "user": "planner",
        "status": status, "progress": 0.5, "message": "", "report": None, "error": None,
        "created_at": now, "started_at": now, "finished_at": None, "owner": owner,
    }  # fmt: skip


@pytest.mark.parametrize("orphans_only", [True, False])
def test_recovery_fails_dead_owners_jobs_and_never_a_live_ones(
    store: Engine, orphans_only: bool
) -> None:
    dead, alive = dead_owner(), this_process()
    jobs = {
        "dead": dead, "alive": alive, "foreign": "another-machine:12:34", "none": None,
    }  # fmt: skip
    with session_scope(store) as session:
        for job_id, owner in jobs.items():
            save_job(session, _job(job_id, owner))
        save_job(session, _job("finished", dead, status="succeeded"))
    with session_scope(store) as session:
        failed = fail_unfinished(session, error="interrupted", orphans_only=orphans_only)
    # a worker process restarted beside live siblings fails only what is known dead; a
    # service start fails everything but a live owner's
    assert failed == (["dead"] if orphans_only else ["dead", "foreign", "none"])
    with session_scope(store) as session:
        status = {job_id: read_job(session, job_id) for job_id in [*jobs, "finished"]}
    assert {k: v["status"] for k, v in status.items() if v} == {
        "dead": "failed",
        "alive": "running",
        "foreign": "running" if orphans_only else "failed",
        "none": "running" if orphans_only else "failed",
        "finished": "succeeded",
    }
    assert status["dead"] is not None and status["dead"]["error"] == "interrupted"
    assert status["alive"] is not None and status["alive"]["owner"] == alive


def test_the_owner_column_comes_and_goes_with_its_migration_keeping_the_jobs(
    store: Engine,
) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in inspect(store).get_columns("jobs")}

    with session_scope(store) as session:
        save_job(session, _job("kept", this_process()))
    config = alembic_config()
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_seed_stamps")
    assert "owner" not in columns()
    migrate(store)
    assert "owner" in columns()
    with session_scope(store) as session:
        job = read_job(session, "kept")
    assert job is not None and job["status"] == "running" and job["owner"] is None
