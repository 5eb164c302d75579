"""City-run fixtures: a small synthetic city on disk (a few communities of 100–250 households)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
