"""Map views as HTML pages: a community's layers, and the city overview, drawn for the caller.

Planners and admins see households, care households and workers' phone numbers; a worker sees
households and care households of his own grids only, and no phone numbers. Leaflet comes from
gridsvc's own ``/static/vendor`` route, never a CDN.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from ...render import FULL, MapAccess, page_html
from ...render.views import city_view, community_view
from ...store.users import User
from ..deps import SessionDep, SettingsDep, UserDep, require_community
from ..scope import community_mask, worker_households

__all__ = ["access_of", "router"]

router = APIRouter(tags=["maps"])
TilesQuery = Annotated[
    Literal["none", "osm", "amap", "tianditu"],
    Query(description="tiles: none (offline), osm, amap (GCJ-02), tianditu (needs a key)"),
]


def access_of(user: User) -> MapAccess:
    """What personal data ``user``'s maps show (workers: their grids' households, no phones)."""
    if user.role in ("admin", "planner"):
        return FULL
    return MapAccess(households=True, care=True, phones=False)


@router.get("/communities/{code}/map", response_class=HTMLResponse)
def community_map_page(
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    code: Annotated[str, Path(pattern=r"^\d{12}$", description="community code")],
    tiles: TilesQuery = "none",
) -> HTMLResponse:
    """The community's map view (HTML): grids against the bounds, layers, teams, a legend."""
    require_community(user, code)
    households = partial(worker_households, session, user) if user.role == "worker" else None
    fmap = community_view(
        session, code, settings=settings, tiles=tiles, access=access_of(user),
        households=households,
    )  # fmt: skip
    return HTMLResponse(page_html(fmap, assets="served"))


@router.get("/maps/city", response_class=HTMLResponse)
def city_map_page(
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    prefix: Annotated[
        str, Query(pattern=r"^\d{0,12}$", description="community codes starting with this")
    ] = "",
    tiles: TilesQuery = "none",
) -> HTMLResponse:
    """The city overview (HTML): each community the caller may see, by share within bounds."""
    fmap = city_view(
        session, settings=settings, prefix=prefix, tiles=tiles,
        visible=partial(community_mask, user),
    )  # fmt: skip
    return HTMLResponse(page_html(fmap, assets="served"))
