"""Fixtures for the partition tests."""

from __future__ import annotations

import geopandas as gpd
import pytest
from partition_drawings import grid_of_buildings, square_community


@pytest.fixture
def lattice() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 300 m square with 3×3 one-unit buildings of 15 households (135 households).

    ::

        +-----+-----+-----+
        | B02 | B12 | B22 |
        | B01 | B11 | B21 |
        | B00 | B10 | B20 |
        +-----+-----+-----+
    """
    buildings, households = grid_of_buildings(3, 3, 15)
    return square_community(), buildings, households
