"""City-run fixtures: a small synthetic city on disk (a few communities of 100–250 households)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from gridsvc.city import CityInputs
from gridsvc.store import make_engine, read, session_scope
from gridsvc.store.runs import read_runs
from gridsvc.synth import CityFiles, write_city

CITY_HOUSEHOLDS = 520


@pytest.fixture(scope="session")
def city_files(tmp_path_factory: pytest.TempPathFactory) -> CityFiles:
    """Write the small city once a session (GeoParquet, with layers and a roster)."""
    return write_city(
        tmp_path_factory.mktemp("city"), seed=3, households=CITY_HOUSEHOLDS, sizes=(100, 250)
    )


@pytest.fixture
def city_dir(city_files: CityFiles, tmp_path: Path) -> Path:
    """Return a private copy of the small city's folder (tests may edit its files)."""
    return Path(shutil.copytree(city_files.folder, tmp_path / "city"))


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
