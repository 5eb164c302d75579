"""The run's own LocalCluster workers leave quickly at the end: what a worker printed or logged
is flushed and its engines closed, but the interpreter's teardown is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gridsvc.city.workers import LocalWorkers

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ("sys.exit(3)", 3),
        ("sys.exit()", 0),
        ("sys.exit('bye')", 1),
        ("raise OSError('x')", 1),
        ("import os; sys.stdout.flush(); os.kill(os.getpid(), 9)", -9),  # killed
        ("import os; sys.stdout.flush(); os.kill(os.getpid(), 15)", -15),
    ],
)
def test_teardown_closes_engines_and_leaves_without_the_interpreters_teardown(
    tmp_path: Path, ending: str, status: int
) -> None:
    """The process leaves with the status it was leaving with (it left with 0 whatever it was):
    a worker process that failed is not one that ended well to its nanny."""
    store = tmp_path / "store.sqlite"
    done = _python(f"""
        import atexit, logging, sys
        from sqlalchemy import text
        from gridsvc.city import task
        from gridsvc.city.workers import LocalWorkers

        atexit.register(print, "an earlier atexit handler ran")
        engine = task._engine("sqlite:///{store}")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        logging.basicConfig(stream=sys.stderr)
        logging.getLogger("w").warning("logged before the exit")
        print("printed before the exit", end="")  # a pipe: block-buffered until flushed
        LocalWorkers().teardown(None)
        print("", task._ENGINES, end="")
        {ending}
    """)
    assert done.returncode == status, done.stderr
    assert done.stdout == "printed before the exit {}"  # engines closed, stdout flushed
    assert "an earlier atexit handler ran" not in done.stdout
    if status < 0:
        return  # killed: no exit handler ran (nor flushed the log)
    assert "logged before the exit" in done.stderr
    if ending.startswith("raise"):
        assert done.stderr.rstrip().endswith("OSError: x")  # the traceback, flushed
    if "bye" in ending:
        assert done.stderr.rstrip().endswith("bye")


def test_a_worker_thread_leaving_does_not_set_the_status() -> None:
    """``sys.exit`` in another thread ends only that thread: the process still leaves with 0."""
    done = _python("""
        import sys, threading
        from gridsvc.city.workers import LocalWorkers

        LocalWorkers().teardown(None)
        thread = threading.Thread(target=sys.exit, args=(4,))
        thread.start()
        thread.join()
    """)
    assert done.returncode == 0, done.stderr


def test_the_plugin_pickles_by_reference() -> None:
    """A spawned worker gets it through pickle (its nanny's arguments), not cloudpickle."""
    import pickle

    assert type(pickle.loads(pickle.dumps(LocalWorkers()))) is LocalWorkers
