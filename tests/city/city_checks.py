"""Helpers of the city-run tests: their inputs and what a finished run must have stored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from gridsvc.city import CityInputs
from gridsvc.store import make_engine, read, session_scope
from gridsvc.store.runs import read_runs


def inputs_of(folder: Path, *, staffed: bool = False) -> CityInputs:
    """Return the run inputs of a city folder written by ``write_city``."""
    layers = folder / "layers.parquet"
    return CityInputs(
        communities=folder / "communities.parquet",
        households=folder / "households.parquet",
        buildings=folder / "buildings.parquet",
        barriers=folder / "barriers.parquet",
        layers=(f"police={layers}:hard", f"party={layers}:soft") if staffed else (),
        roster=folder / "roster.parquet" if staffed else None,
    )


def stored(url: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the stored runs, grids and households of the store at ``url``."""
    engine: Engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return read_runs(session), read(session, "grids"), read(session, "households")
    finally:
        engine.dispose()


def assert_complete_once(url: str, households: pd.DataFrame) -> None:
    """Every community done once; its base grids hold each of its households exactly once."""
    runs, grids, homes = stored(url)
    expected = households["community_code"].astype(str).value_counts().sort_index()
    assert list(runs["community_code"]) == list(expected.index)
    assert set(runs["status"]) == {"done"}
    assert not grids["code"].duplicated().any()
    base = grids[grids["level"] == 1]
    per_community = base.groupby("community_code")["households"].sum().sort_index()
    assert {str(k): int(v) for k, v in per_community.items()} == expected.to_dict()
    assert sorted(homes["id"]) == sorted(households["id"].astype(str))
    assert (
        runs.set_index("community_code")["grids"] == base.groupby("community_code").size()
    ).all()
