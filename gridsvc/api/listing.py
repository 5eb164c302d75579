"""The query every list route takes (``bbox``, ``limit``, ``offset``; the caller, for the
routes that need a login) as one dependency, with the read → scope → page steps those routes
share, and key-ordered pages read in the database (``cursor``) for the public OGC items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import geopandas as gpd
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from .. import frames
from ..store import repo
from ..store.users import User
from .deps import SessionDep, UserDep, require_community
from .paging import (
    MAX_LIMIT,
    BboxQuery,
    CursorQuery,
    LimitQuery,
    OffsetQuery,
    collection,
    make_cursor,
    page,
    parse_bbox,
    read_cursor,
)
from .scope import community_mask

__all__ = ["CappedLimitQuery", "Listing", "ListingDep", "PublicListingDep", "ScopedListing"]

CappedLimitQuery = Annotated[
    int, Query(ge=1, le=2_147_483_647, description=f"features per page (capped at {MAX_LIMIT})")
]


@dataclass(frozen=True)
class Listing:
    """One list request: the raw ``bbox`` (parsed when read), which page (``offset``, or
    ``cursor``: past the key a ``next`` link gave) and how long."""

    request: Request
    session: Session
    bbox: str | None
    limit: int
    offset: int
    cursor: str | None

    def box(self) -> tuple[float, float, float, float] | None:
        """Return the parsed ``bbox`` (InputError naming it when malformed)."""
        return parse_bbox(self.bbox)

    def page(self, frame: gpd.GeoDataFrame, *, id_column: str) -> JSONResponse:
        """Answer this request's page of ``frame`` as GeoJSON with counts and links."""
        return page(frame, self.request, limit=self.limit, offset=self.offset, id_column=id_column)

    def keyed(self, kind: str, *, id_column: str, **filters: int | str | None) -> JSONResponse:
        """Answer this request's page of ``kind`` (matching ``bbox`` and ``filters``, see
        :func:`repo.read_page`), read in the database in key order: past the ``cursor``'s key
        (skipping ``offset`` rows when there is no cursor). The ``next`` link holds the cursor
        of the page after, so however deep a client pages, each page is one index range scan.

        ``numberMatched`` (optional in OGC API Features Part 1) is exact when
        given: on a page asked for without a cursor (the first one), from the page itself
        when it reaches the end, else from a COUNT. A cursor page leaves it out: a COUNT
        reads every match, which would make each page of a deep walk as slow as a whole count
        (a client that wants it has it from the first page).
        """
        query = f"{self.request.url.path}|{self.bbox}|{sorted(filters.items())}"
        key = frames.kind(kind).key
        after = None
        if self.cursor is not None:
            if self.offset:
                raise HTTPException(400, "give cursor or offset, not both")
            after = read_cursor(self.cursor, query, len(key))
        box = self.box()
        rows = repo.read_page(
            self.session, kind, limit=self.limit + 1, offset=self.offset, after=after,
            bbox=box, **filters,  # type: ignore[arg-type]
        )  # fmt: skip
        following = None
        more = len(rows) > self.limit  # one row more than the page: there is a next page
        if more:
            rows = rows.iloc[: self.limit]
            last = rows.iloc[-1]
            cursor = make_cursor(query, [last[k] for k in key])
            following = {"cursor": cursor, "limit": self.limit}
        total: int | None = None
        if after is None and not more and (len(rows) or not self.offset):
            total = self.offset + len(rows)  # this page reaches the last match
        elif after is None:
            total = repo.count(self.session, kind, bbox=box, **filters)  # type: ignore[arg-type]
        return collection(rows, self.request, id_column=id_column, total=total, following=following)


@dataclass(frozen=True)
class ScopedListing(Listing):
    """A list request of a logged-in ``user``, who sees only the rows of their scope."""

    user: User

    def scoped(
        self, kind: str, community: str | None = None, **filters: int | str | None
    ) -> gpd.GeoDataFrame:
        """Read ``kind`` in the bbox (of ``community``: 403 outside the caller's scope) and
        keep the rows of communities the caller may see."""
        box = self.box()
        if community is not None:
            require_community(self.user, community)
        frame = repo.read(self.session, kind, community=community, bbox=box, **filters)  # type: ignore[arg-type]
        column = "code" if kind == "communities" else "community_code"
        return frame[community_mask(self.user, frame[column]).to_numpy()]


def _listing(
    request: Request,
    session: SessionDep,
    user: UserDep,
    bbox: BboxQuery = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> ScopedListing:
    return ScopedListing(request, session, bbox, limit, offset, None, user)


def _public_listing(
    request: Request,
    session: SessionDep,
    bbox: BboxQuery = None,
    limit: CappedLimitQuery = 100,
    offset: OffsetQuery = 0,
    cursor: CursorQuery = None,
) -> Listing:
    """No login; ``limit`` above :data:`MAX_LIMIT` is capped (OGC 17-069r4
    /req/core/fc-limit-response-1), never refused."""
    return Listing(request, session, bbox, min(limit, MAX_LIMIT), offset, cursor)


ListingDep = Annotated[ScopedListing, Depends(_listing)]
PublicListingDep = Annotated[Listing, Depends(_public_listing)]
