"""Per-grid workload from households: counts, residents and visits by cadence."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from staffing_fixtures import COMM, DLAT, DLON, LAT0, LON0, row_grids

from gridsvc.staffing import attach_beats, grid_workload


def _households(cadences: list[str], sizes: list[int], xs: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [f"H{i}" for i in range(len(xs))],
            "community_code": COMM,
            "size": sizes,
            "visit_cadence": cadences,
        },
        geometry=[shapely.Point(LON0 + x * DLON, LAT0 + 50 * DLAT) for x in xs],
        crs="EPSG:4326",
    )


def test_visits_follow_the_cadences_and_households_fall_in_their_grid() -> None:
    grids = row_grids(2)
    households = _households(
        ["daily", "weekly", "none", "monthly"], [1, 2, 3, 4], [10, 20, 150, 160]
    )
    load = grid_workload(grids, households).set_index("grid_code")
    first, second = load.loc[f"{COMM}001"], load.loc[f"{COMM}002"]
    assert (first["households"], first["residents"], first["care_households"]) == (2, 3, 2)
    assert first["visits"] == pytest.approx(30 + 4.3)
    assert (second["households"], second["residents"], second["visits"]) == (2, 7, 1.0)


def test_assignment_table_places_households_when_points_cannot() -> None:
    grids = row_grids(2)
    households = _households(["daily", "daily"], [1, 1], [10, 20])  # both inside grid 001
    table = pd.DataFrame({"household_id": ["H0", "H1"], "grid_code": [f"{COMM}002"] * 2})
    load = grid_workload(grids, households, assignment=table).set_index("grid_code")
    assert load.loc[f"{COMM}002", "visits"] == 60.0
    assert load.loc[f"{COMM}001", "households"] == 40  # untouched: the grid's own column


def test_beats_come_from_the_police_layer() -> None:
    grids = row_grids(3).drop(columns="police_beat")
    west = shapely.box(LON0, LAT0, LON0 + 160 * DLON, LAT0 + 100 * DLAT)
    east = shapely.box(LON0 + 160 * DLON, LAT0, LON0 + 300 * DLON, LAT0 + 100 * DLAT)
    layers = gpd.GeoDataFrame(
        {"layer": ["police", "police", "party"], "grid_id": ["JW01", "JW02", "DJ01"]},
        geometry=[west, east, west],
        crs="EPSG:4326",
    )
    assert list(attach_beats(grids, layers)["police_beat"]) == ["JW01", "JW01", "JW02"]
    far = grids.assign(geometry=grids.geometry.translate(0.01, 0))  # ~900 m east of both
    assert list(attach_beats(far, layers)["police_beat"]) == ["JW02"] * 3
