"""A per-community time budget for the optional search: exact solvers and ReCom repair.

The clock is the process's CPU time (``time.process_time``, solver threads included) since the
community's partition started, so a loaded machine does not shrink the budget. Bisection,
boundary moves and the micro-grids always run; the exact methods (HiGHS, CP-SAT) and the ReCom
repair run only while the budget lasts, and each solver call gets at most what is left.
``Budget(None)`` never runs out (the default: fixtures and the API get the full proofs); a city
runner passes a fraction of a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Budget"]


@dataclass(slots=True)
class Budget:
    """Seconds since ``started`` the optional search may run; ``None`` means unlimited."""

    seconds: float | None = None
    started: float = field(default_factory=time.process_time)
    skipped: int = 0  # optional steps skipped because the budget was spent

    def left(self) -> float:
        """Return the seconds left (infinite without a budget)."""
        if self.seconds is None:
            return float("inf")
        return max(0.0, self.seconds - (time.process_time() - self.started))

    def allows(self) -> bool:
        """Return True if optional search may still run; count the step as skipped if not."""
        if self.left() > 0.0:
            return True
        self.skipped += 1
        return False

    def cap(self, seconds: float) -> float:
        """Return ``seconds`` cut to what is left of the budget."""
        return min(seconds, self.left())
