"""Dedicated (专属) grids: non-residential sites become grids of their own, tiling kept."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from partition_drawings import UTM, grid_of_buildings, square_community, to_wgs
from test_fixtures import _community

from gridsvc.partition import Bounds, check_partition, partition

LEVELS = (Bounds(30, 50), Bounds(1, 15))
SCHOOL = shapely.box(320, 120, 380, 180)  # metres, east of the 3×3 lattice of homes
WALL = shapely.box(305, 105, 395, 195).exterior


def _with_school(use: str = "school", dedicated: bool | None = None) -> tuple:
    """A 400 m square: 3×3 one-unit buildings of 15 households in the west, a school east.

    ::

        +-----+-----+-----+--------+
        | B02 | B12 | B22 |        |
        | B01 | B11 | B21 | school |
        | B00 | B10 | B20 |        |
        +-----+-----+-----+--------+
    """
    homes, households = grid_of_buildings(3, 3, 15)
    homes = homes.assign(use="residential")
    school = to_wgs([SCHOOL], id=["S1"], floors=[4], units=[1], compound=["实验小学"], use=[use])
    buildings = gpd.GeoDataFrame(pd.concat([homes, school], ignore_index=True), crs=homes.crs)
    if dedicated is not None:
        buildings["dedicated"] = [False] * len(homes) + [dedicated]
    return square_community(400.0), buildings, households


def _dedicated(result: object) -> gpd.GeoDataFrame:
    grids = result.grids  # type: ignore[attr-defined]
    return grids[grids["kind"] == "dedicated"].to_crs(UTM)


def test_walled_school_block_becomes_one_dedicated_grid() -> None:
    community, buildings, households = _with_school()
    wall = to_wgs([WALL], kind=["wall"])
    result = partition(community, households, buildings=buildings, barriers=wall, dedicated=True)
    assert check_partition(community, households, result, LEVELS) == []
    site = _dedicated(result)
    assert len(site) == 1 and int(site["households"].iloc[0]) == 0
    assert "dedicated" in site["flags"].iloc[0]
    assert site.geometry.iloc[0].area == pytest.approx(90 * 90, rel=0.01)  # the walled block
    assert result.report["totals"]["dedicated_grids"] == 1
    others = result.grids[result.grids["kind"] != "dedicated"]
    assert others["households"].between(30, 50).all()


def test_school_among_homes_is_cut_out_along_its_footprint() -> None:
    community, buildings, households = _with_school()
    result = partition(community, households, buildings=buildings, dedicated=True)
    assert check_partition(community, households, result, LEVELS) == []
    site = _dedicated(result)
    assert len(site) == 1
    assert site.geometry.iloc[0].area == pytest.approx(60 * 60, rel=0.01)  # the footprint
    assert result.grids["households"].sum() == 135


def test_dedicated_grids_are_off_unless_asked_for() -> None:
    community, buildings, households = _with_school()
    wall = to_wgs([WALL], kind=["wall"])
    result = partition(community, households, buildings=buildings, barriers=wall)
    assert (result.grids["kind"] != "dedicated").all()
    assert result.report["totals"]["dedicated_grids"] == 0
    assert check_partition(community, households, result, LEVELS) == []


@pytest.mark.parametrize(("use", "flag", "expected"), [("office", True, 1), ("office", False, 0)])
def test_a_dedicated_column_flags_other_sites(use: str, flag: bool, expected: int) -> None:
    community, buildings, households = _with_school(use=use, dedicated=flag)
    result = partition(community, households, buildings=buildings, dedicated=True)
    assert result.report["totals"]["dedicated_grids"] == expected


def test_urban_school_and_market_get_dedicated_grids() -> None:
    community, households, buildings, barriers = _community("urban")
    result = partition(
        community, households, buildings=buildings, barriers=barriers, dedicated=True
    )
    # the misses of a lumpy region whose infeasibility is not proved (see test_fixtures)
    problems = check_partition(community, households, result, LEVELS)
    assert all(p.endswith("outside 30–50") for p in problems)
    site = _dedicated(result)
    assert len(site) == 2 and (site["households"] == 0).all()
    footprints = buildings[buildings["use"].isin(["school", "market"])].to_crs(UTM)
    for footprint in footprints.geometry:
        assert site.geometry.contains(footprint.buffer(-0.5)).sum() == 1
