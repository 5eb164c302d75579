"""Micro-grids follow barriers inside a base grid that had to cross one."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from partition_drawings import UTM, grid_of_buildings, square_community, to_wgs

from gridsvc.partition import Bounds, check_partition, partition

LEVELS = (Bounds(30, 50), Bounds(1, 15))


def test_micro_grids_stay_on_one_side_of_the_road_their_base_grid_crosses() -> None:
    """7 households west of a road, 33 east: too few for a grid west, so one grid of 40 crosses.

    ::

        +--------|--------+
        |  W (7) | E (33) |     road at x = 150
        +--------|--------+

    Its micro-grids (≤ 15) need not cross: the west 7 make one, the east 33 make the rest.
    """
    west_b, west = grid_of_buildings(1, 1, 1, units=7, spacing=150, prefix="W")
    east_b, east = grid_of_buildings(
        1, 1, 3, units=11, spacing=150, offset=(150.0, 0.0), prefix="E"
    )
    buildings = gpd.GeoDataFrame(pd.concat([west_b, east_b], ignore_index=True), crs=west_b.crs)
    households = gpd.GeoDataFrame(pd.concat([west, east], ignore_index=True), crs=west.crs)
    road = to_wgs([shapely.LineString([(150, -5), (150, 305)])], kind=["road"])
    community = square_community()
    result = partition(community, households, buildings=buildings, barriers=road)
    assert check_partition(community, households, result, LEVELS) == []
    assert len(result.grids) == 1 and "barrier_crossing" in result.grids["flags"].iloc[0]
    side = households.to_crs(UTM).geometry.x.to_numpy() - 500_000.0 < 150.0
    micro = result.assignment.set_index("household_id").loc[households["id"], "microgrid_code"]
    sides_per_micro = pd.Series(side).groupby(micro.to_numpy()).nunique()
    assert (sides_per_micro == 1).all()
    assert len(sides_per_micro) >= 3
