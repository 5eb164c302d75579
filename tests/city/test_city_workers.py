"""The run's own LocalCluster workers leave quickly at the end: what a worker printed or logged
is flushed and its engines closed, but the interpreter's teardown is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_teardown_closes_engines_and_leaves_without_the_interpreters_teardown(
    tmp_path: Path,
) -> None:
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
        sys.exit(3)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "printed before the exit {}"  # engines closed, stdout flushed
    assert "logged before the exit" in done.stderr
    assert "an earlier atexit handler ran" not in done.stdout


def test_the_plugin_pickles_by_reference() -> None:
    """A spawned worker gets it through pickle (its nanny's arguments), not cloudpickle."""
    import pickle

    assert type(pickle.loads(pickle.dumps(LocalWorkers()))) is LocalWorkers
