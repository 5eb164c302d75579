"""Staffing fixtures: 禹都花园 partitioned, with police beats, households placed, a roster."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pytest

from gridsvc.partition import partition
from gridsvc.staffing import attach_beats, generate_roster
from gridsvc.synth import generate_layers, generate_yudu


@dataclass(frozen=True)
class Yudu:
    grids: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    workers: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame


@pytest.fixture(scope="session")
def yudu() -> Yudu:
    """Return 禹都花园 with its grids (beats attached), households (grid_code) and a roster."""
    data = generate_yudu(0)
    result = partition(
        data.community, data.households, buildings=data.buildings, barriers=data.barriers
    )
    grids = attach_beats(result.grids, generate_layers(data, seed=0))
    codes = result.assignment.set_index("household_id")["grid_code"]
    households = data.households.assign(grid_code=data.households["id"].map(codes))
    workers = generate_roster(grids, households, seed=0)
    return Yudu(grids, households, workers, data.buildings)
