"""One exception hierarchy for gridsvc. No HTTP knowledge here (see ``api/errors.py``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "GridsvcError",
    "InfeasibleError",
    "InputError",
    "LockedError",
    "NotFoundError",
    "PartitionError",
    "Problem",
    "StaleError",
    "StoreError",
]


class GridsvcError(Exception):
    """Base of every error gridsvc raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in an input: which file, which feature, which field, and why."""

    message: str
    source: str = ""
    feature: int | str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [p for p in (self.source, _feature(self.feature), _field(self.field)) if p]
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _feature(feature: int | str | None) -> str:
    return "" if feature is None else f"feature {feature}"


def _field(field: str | None) -> str:
    return "" if field is None else f"field '{field}'"


class InputError(GridsvcError):
    """Bad input: names the file, feature index and field, and what to do about it.

    Carries every problem found (not only the first), so a user fixes a file in one pass.
    """

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        shown = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(shown + more)


class ConfigError(GridsvcError):
    """A setting is missing or has an impossible value (e.g. min > max)."""


class NotFoundError(GridsvcError):
    """A requested community, grid, household or worker does not exist."""


class StoreError(GridsvcError):
    """The store cannot be opened or migrated (e.g. SpatiaLite extension missing)."""


class ReadOnlyStoreError(StoreError):
    """A write to a store gridsvc may only read (a read-only file, folder or medium)."""


class StoreChangedError(StoreError):
    """A read-only store changed under a transaction reading it without locks: asking again
    gets one consistent state, so the API's 503 for it says when to (Retry-After)."""


class PartitionError(GridsvcError):
    """The partition engine could not produce a plan."""


class InfeasibleError(PartitionError):
    """The bounds cannot be met in some region; the message says where and why."""


class LockedError(GridsvcError):
    """A grid is locked by someone else; ``locks`` lists each such grid, holder and time."""

    def __init__(self, message: str, locks: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.locks = locks


class StaleError(GridsvcError):
    """The record changed since the caller read it (a stale revision or ETag)."""
