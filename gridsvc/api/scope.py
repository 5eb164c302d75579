"""Who sees which rows (community scopes of planners, grid scopes of workers) and which
personal fields of them in full (:mod:`gridsvc.privacy`)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from ..planning import assign_households
from ..privacy import PERSONAL, reveals
from ..store import repo
from ..store.assignments import read_assignments
from ..store.users import User

__all__ = [
    "community_mask",
    "household_reveal",
    "roles_by_grid",
    "worker_communities",
    "worker_households",
]


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


def roles_by_grid(session: Session, user: User) -> dict[str, set[str]]:
    """Return the staffing roles of a worker's account, by grid code (empty for others)."""
    if user.role != "worker" or not user.worker_id:
        return {}
    out: dict[str, set[str]] = {}
    rows = read_assignments(session, worker=user.worker_id)
    for grid, role in zip(rows["grid_code"], rows["role"], strict=True):
        out.setdefault(str(grid), set()).add(str(role))
    return out


def household_reveal(
    session: Session,
    user: User,
    households: gpd.GeoDataFrame,
    *,
    grids: pd.Series | None = None,
    roles: dict[str, set[str]] | None = None,
) -> pd.DataFrame:
    """Return, per household and personal field, whether ``user`` may read it unmasked.

    A worker's rights follow his staffing roles in the household's base grid (``grids`` gives
    each household's grid code, ``roles`` the worker's roles by grid, when the caller already
    knows them).
    """
    if user.role != "worker":
        row = reveals(user.role, ())
        return pd.DataFrame(
            {f: [row[f]] * len(households) for f in PERSONAL}, index=households.index
        )
    roles = roles_by_grid(session, user) if roles is None else roles
    if grids is None:
        grids = pd.Series(pd.NA, index=households.index, dtype="string")
        for community, here in households.groupby("community_code").groups.items():
            base = repo.read(session, "grids", community=str(community), level=1)
            grids.loc[here] = assign_households(households.loc[here], base).to_numpy()
    rows = [reveals("worker", roles.get(str(g), ())) for g in grids]
    return pd.DataFrame(rows, index=households.index, columns=list(PERSONAL), dtype=bool)
