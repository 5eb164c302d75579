"""Map views read from the store: what the CLI (``gridsvc map``) and the API both call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import folium
import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import NotFoundError
from ..staffing.model import load_model, shipped_models
from ..store import repo
from ..store.assignments import read_assignments
from .city import city_map
from .maps import FULL, MapAccess, community_map

__all__ = ["city_view", "community_view", "read_roster", "role_labels"]

Mask = Callable[[gpd.GeoDataFrame], pd.Series]


def role_labels() -> dict[str, str]:
    """Label and order of every team position of the shipped staffing models."""
    labels: dict[str, str] = {}
    for name in shipped_models():
        for slot in load_model(name).slots:
            labels.setdefault(slot.role, slot.label or slot.role)
    return labels


def read_roster(session: Session, community: str) -> pd.DataFrame:
    """Return the community's grid teams: grid_code, role, label, name, phone (in role order)."""
    rows = read_assignments(session, community=community)
    workers = repo.read(session, "workers")[["id", "name", "phone"]]
    labels = role_labels()
    order = {role: i for i, role in enumerate(labels)}
    out = rows[["grid_code", "worker_id", "role"]].merge(
        workers.rename(columns={"id": "worker_id"}), on="worker_id", how="left"
    )
    out["label"] = out["role"].map(lambda r: labels.get(str(r), str(r)))
    out["name"] = out["name"].fillna(out["worker_id"])
    out["rank"] = out["role"].map(lambda r: order.get(str(r), len(order)))
    return out.sort_values(["grid_code", "rank", "name"]).reset_index(drop=True)


def community_view(
    session: Session,
    code: str,
    *,
    settings: Settings,
    tiles: str = "none",
    access: MapAccess = FULL,
    households: Mask | None = None,
) -> folium.Map:
    """Draw community ``code`` from the store; ``households`` keeps the ones a user may see."""
    from ..workflows import read_community_bundle

    bundle = read_community_bundle(session, code)
    if households is not None and len(bundle.households):
        keep = households(bundle.households).to_numpy()
        bundle = replace(bundle, households=bundle.households[keep].reset_index(drop=True))
    return community_map(
        bundle,
        bounds=settings.base_bounds,
        tiles=tiles,
        tile_key=settings.tianditu_key,
        roster=read_roster(session, code),
        access=access,
    )


def city_view(
    session: Session,
    *,
    settings: Settings,
    prefix: str = "",
    tiles: str = "none",
    visible: Callable[[pd.Series], pd.Series] | None = None,
) -> folium.Map:
    """Draw every community whose code starts with ``prefix`` (and that ``visible`` keeps)."""
    communities = repo.read(session, "communities")
    communities = communities[communities["code"].astype(str).str.startswith(prefix)]
    if visible is not None:
        communities = communities[visible(communities["code"]).to_numpy()]
    if communities.empty:
        raise NotFoundError(
            f"no community in the store has a code starting with {prefix!r}"
            if prefix
            else "the store holds no community you may see; import one first"
        )
    grids = repo.read(session, "grids", level=1)
    return city_map(
        communities.reset_index(drop=True),
        grids[grids["community_code"].isin(communities["code"])],
        bounds=settings.base_bounds,
        tiles=tiles,
        tile_key=settings.tianditu_key,
    )
