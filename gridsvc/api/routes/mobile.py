"""The grid worker's phone: ``GET /me/assignments`` — his grids, roles, micro-grids and the
households in them, compact, gzip-able and revalidated by ETag (304 when unchanged).

Answers are cached per process, ready to send (body, ETag, gzip), under the version
:func:`gridsvc.api.worker_sync.version` reads from the store: a repeated request or a 304
costs the account, assignments and change-stamp reads and a lookup; any change to the
worker's grids, households, assignments or account builds a new answer.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from ..caching import AnswerCache, answer, prepare
from ..deps import SessionDep, UserDep
from ..worker_sync import body, version

__all__ = ["router"]

router = APIRouter(tags=["mobile"])


@router.get("/me/assignments", response_class=Response)
def my_assignments(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The signed-in grid worker's grids, roles, micro-grids and households (ETag, gzip)."""
    if user.role != "worker":
        raise HTTPException(
            403,
            f"/me/assignments is for grid workers; account {user.username!r} is a {user.role} "
            "(use /grids and /assignments)",
        )
    cache: AnswerCache = request.app.state.assignments_cache
    assignments, current = version(session, user)
    prepared = cache.get(user.username, current)
    if prepared is None:
        prepared = prepare(body(session, user, assignments))
        cache.put(user.username, current, prepared)
    return answer(request, prepared)
