"""Which process this is, in a form another process on the same machine can check for life.

An owner is ``"<machine>:<pid>:<start time>"``: the kernel's boot id and the inode of the
process-id namespace (``/proc``: containers on one host share the boot id but not their
pids), the process id, and the process's start time in clock ticks since boot. A pid is
reused once its process has died, but never with the same start time in the same boot, so an
owner names one process. Where ``/proc`` is missing (not Linux) the machine is a digest of the
host name (an owner fits the column's 96 characters) and the start time a token drawn per
process: a dead owner is then told only by its pid being gone.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from functools import cache
from pathlib import Path

__all__ = ["is_alive", "this_process"]

_PROC = Path("/proc")


def _boot_id() -> str:
    """Return this machine and pid namespace: where a pid names the same process."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.stat(_PROC / 'self/ns/pid').st_ino}"
    except OSError:
        return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:32]


def _start_time(pid: int) -> str | None:
    """Return ``pid``'s start time (clock ticks since boot) from /proc, or None when gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # field 22, counted after the command name


@cache
def _this(pid: int) -> str:
    start = _start_time(pid) if _PROC.is_dir() else None
    return f"{_boot_id()}:{pid}:{start or uuid.uuid4().hex}"


def this_process() -> str:
    """Return the owner string of the calling process (a forked child gets its own)."""
    return _this(os.getpid())


def is_alive(owner: str) -> bool | None:
    """Return whether process ``owner`` is still running; None when that cannot be told from
    here (another machine or boot, or an owner string this module did not write)."""
    boot, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if boot != _boot_id() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if _PROC.is_dir():
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
