"""Run Python as an unprivileged user: root reads and writes whatever the modes say."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gridsvc

ROOT = Path(gridsvc.__file__).parents[1]  # the gridsvc under test


def someone_else(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` as an unprivileged user (nobody, when this is root)."""
    argv, env = command(code)
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=120)


def command(code: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run Python ``code`` as an unprivileged user."""
    drop: list[str] = []
    if os.getuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no unprivileged user to read as")
        drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [*drop, sys.executable, "-c", code], env
