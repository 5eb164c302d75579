"""Grid locks on draft plans: a planner locks a grid so that no one else edits it and "fix
this grid" never changes it. Locks are stored (:mod:`gridsvc.store.locks`), audited like edits
(``plan.lock`` / ``plan.unlock`` on ``plan/<id>``), and checked by :func:`planning.apply_edit`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from .errors import LockedError, NotFoundError, StaleError
from .store import audit, plans
from .store.locks import GridLock, add_lock, read_locks, remove_locks

__all__ = ["GridLock", "lock_grid", "read_locks", "refuse_locked", "unlock_grid"]


def _since(lock: GridLock) -> str:
    return lock.at.strftime("%Y-%m-%d %H:%M:%S UTC")


def refuse_locked(locks: Iterable[GridLock], grids: Iterable[str], *, user: str | None) -> None:
    """Raise LockedError (naming each grid and its holder) when any of ``grids`` is locked by
    someone other than ``user``; ``user`` None exempts no one."""
    wanted = set(grids)
    held = [lock for lock in locks if lock.grid in wanted and lock.user != user]
    if held:
        named = "; ".join(f"grid {h.grid} is locked by {h.user} since {_since(h)}" for h in held)
        raise LockedError(
            f"{named}; ask them to unlock it, or leave it out of this edit",
            [h.as_dict() for h in held],
        )


def _base_grid(session: Session, plan_id: int, grid: str) -> plans.PlanInfo:
    """Return the plan if it is a draft holding base grid ``grid`` (InputError / NotFoundError).

    The plan's row is held to the end of the transaction: an edit running now (which holds
    it from :func:`plans.bump_revision` on) finishes first, and an edit starting now waits and
    then sees the lock, so no edit commits to a grid after its lock was granted.
    """
    plan = plans.get_draft(session, plan_id, hold=True)
    grids, _ = plans.current_grids(session, plan_id)
    if grid not in set(grids.loc[grids["level"] == 1, "code"].astype(str)):
        raise NotFoundError(f"grid {grid} is not a base grid of plan {plan_id}")
    return plan


def lock_grid(session: Session, plan_id: int, grid: str, *, user: str) -> tuple[GridLock, bool]:
    """Lock base grid ``grid`` of draft ``plan_id`` for ``user``; return the lock and whether it
    is new (locking a grid one holds already changes nothing). LockedError when another holds it.
    """
    plan = _base_grid(session, plan_id, grid)
    new = add_lock(session, plan_id, grid, user=user)
    if new is None:
        held = [lock for lock in read_locks(session, plan_id) if lock.grid == grid]
        if not held:  # its holder unlocked it between our insert and this read
            raise StaleError(f"grid {grid} of plan {plan_id} was being unlocked; lock it again")
        refuse_locked(held, [grid], user=user)
        return held[0], False
    audit.record(
        session,
        user=user,
        action="plan.lock",
        target=f"plan/{plan_id}",
        before={"revision": plan.revision},
        after=new.as_dict(),
    )
    return new, True


def unlock_grid(
    session: Session, plan_id: int, grid: str, *, user: str, admin: bool = False
) -> GridLock:
    """Remove the lock on ``grid`` of plan ``plan_id``; only its holder (or an admin) may.

    NotFoundError when the grid is not locked; LockedError naming the holder otherwise.
    """
    plan = plans.get_plan(session, plan_id)
    held = [lock for lock in read_locks(session, plan_id) if lock.grid == grid]
    if not held:
        raise NotFoundError(f"grid {grid} is not locked in plan {plan_id}")
    lock = held[0]
    if lock.user != user and not admin:
        raise LockedError(
            f"grid {grid} is locked by {lock.user} since {_since(lock)}; only {lock.user} or an "
            "admin may unlock it",
            [lock.as_dict()],
        )
    remove_locks(session, plan_id, [grid])
    audit.record(
        session,
        user=user,
        action="plan.unlock",
        target=f"plan/{plan_id}",
        before={"revision": plan.revision, **lock.as_dict()},
    )
    return lock
