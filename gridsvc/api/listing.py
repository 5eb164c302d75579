"""The query every list route takes (the caller, ``bbox``, ``limit``, ``offset``) as one
dependency, with the read → scope → page steps those routes share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import geopandas as gpd
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ..store import repo
from ..store.users import User
from .deps import SessionDep, UserDep, require_community
from .paging import BboxQuery, LimitQuery, OffsetQuery, page, parse_bbox
from .scope import community_mask

__all__ = ["Listing", "ListingDep"]


@dataclass(frozen=True)
class Listing:
    """One list request: who asks, the raw ``bbox`` (parsed when read) and which page."""

    request: Request
    session: Session
    user: User
    bbox: str | None
    limit: int
    offset: int

    def box(self) -> tuple[float, float, float, float] | None:
        """Return the parsed ``bbox`` (InputError naming it when malformed)."""
        return parse_bbox(self.bbox)

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

    def page(self, frame: gpd.GeoDataFrame, *, id_column: str) -> JSONResponse:
        """Answer this request's page of ``frame`` as GeoJSON with counts and links."""
        return page(frame, self.request, limit=self.limit, offset=self.offset, id_column=id_column)


def _listing(
    request: Request,
    session: SessionDep,
    user: UserDep,
    bbox: BboxQuery = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Listing:
    return Listing(request, session, user, bbox, limit, offset)


ListingDep = Annotated[Listing, Depends(_listing)]
