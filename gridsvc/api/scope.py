"""Who sees which rows: community scopes of planners, grid scopes of workers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from ..planning import assign_households
from ..store import repo
from ..store.users import User

__all__ = ["community_mask", "worker_communities", "worker_households"]


def worker_communities(user: User) -> set[str]:
    """Return the communities holding a worker's grids (a grid code starts with its community's)."""
    return {code[:12] for code in user.scope}


def community_mask(user: User, codes: pd.Series) -> pd.Series:
    """Return True where ``user`` may see a row of community ``codes``."""
    codes = codes.fillna("").astype(str)
    if user.role == "admin":
        return pd.Series(True, index=codes.index)
    if user.role == "worker":
        return codes.isin(worker_communities(user))
    return codes.map(user.covers).astype(bool)


def worker_households(session: Session, user: User, households: gpd.GeoDataFrame) -> pd.Series:
    """Return True for households lying in one of the worker's published grids (any level)."""
    keep = pd.Series(False, index=households.index)
    for community in worker_communities(user):
        grids = repo.read(session, "grids", community=community)
        mine = grids[grids["code"].astype(str).isin(user.scope)]
        here = households["community_code"] == community
        for _, level in mine.groupby("level"):
            inside = assign_households(households[here], level.reset_index(drop=True))
            keep.loc[inside.index] |= inside.notna().to_numpy()
    return keep
