"""check_partition on every fixture: the generated communities and the Baltimore census blocks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from gridsvc.partition import Bounds, check_partition, partition
from gridsvc.partition.areas import areas_to_households

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEVELS = (Bounds(30, 50), Bounds(1, 15))

# The heuristic leaves a few grids outside 30–50 on communities whose stairwell units hold
# 40–49 households each (urban) or whose census blocks are lumpy (Baltimore); the report says
# so ("infeasibility is not proved"). Strict xfail: the day these pass, drop the marks.
KNOWN_GAP = pytest.mark.xfail(strict=True, reason="heuristic misses bounds on lumpy atoms")


def _community(name: str) -> tuple[gpd.GeoDataFrame, ...]:
    folder = FIXTURES / name
    if not (folder / "households.geojson").exists():
        pytest.skip(f"fixture {name} not generated")
    return tuple(
        gpd.read_file(folder / f"{part}.geojson")
        for part in ("community", "households", "buildings", "barriers")
    )


@pytest.mark.parametrize("name", ["yudu", "village", pytest.param("urban", marks=KNOWN_GAP)])
def test_generated_community_partitions_cleanly(name: str) -> None:
    community, households, buildings, barriers = _community(name)
    result = partition(community, households, buildings=buildings, barriers=barriers)
    assert check_partition(community, households, result, LEVELS) == []
    assert result.report["totals"]["share_within_bounds"] == 1.0


def test_yudu_matches_its_published_totals() -> None:
    community, households, buildings, barriers = _community("yudu")
    result = partition(community, households, buildings=buildings, barriers=barriers)
    # 1,856 households: 38–61 base grids possible; micro-grids ≈ units
    assert 38 <= len(result.grids) <= 61
    assert result.grids["households"].sum() == 1856
    assert result.grids["residents"].sum() == int(households["size"].sum())
    assert result.report["totals"]["barrier_crossings"] == 0


def test_urban_report_admits_what_it_missed() -> None:
    community, households, buildings, barriers = _community("urban")
    result = partition(community, households, buildings=buildings, barriers=barriers)
    problems = check_partition(community, households, result, LEVELS)
    missed = [n for n in result.report["totals"]["infeasible_regions"]
              if "infeasibility is not proved" in n["reason"]]
    flagged = result.grids[result.grids["flags"].str.contains("out_of_bounds")]
    # every grid the checker rejects is flagged and explained in the report
    assert len(problems) == len(flagged[~flagged["flags"].str.contains("exception")])
    assert sum(len(n["reason"].split("([")[1].split(",")) for n in missed) == len(problems)
    assert all(p.endswith("outside 30–50") for p in problems)


def _baltimore() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    path = FIXTURES / "baltimore_pigtown.gpkg"
    if not path.exists():
        pytest.skip("baltimore_pigtown.gpkg missing")
    outline = gpd.read_file(path, layer="csa_outline").assign(code="245100000001")
    return outline, gpd.read_file(path, layer="blocks_2020")


@KNOWN_GAP
def test_baltimore_blocks_partition_cleanly() -> None:
    outline, blocks = _baltimore()
    result = partition(outline, areas=blocks, count_field="housing20")
    households = areas_to_households(blocks, "housing20", "EPSG:32618")
    assert check_partition(outline, households, result, LEVELS) == []


def test_baltimore_blocks_tile_and_keep_every_housing_unit() -> None:
    outline, blocks = _baltimore()
    result = partition(outline, areas=blocks, count_field="housing20")
    households = areas_to_households(blocks, "housing20", "EPSG:32618")
    problems = check_partition(outline, households, result, LEVELS)
    assert result.grids["households"].sum() == int(blocks["housing20"].sum()) == 2894
    # tiling, nesting and assignment hold; only a few bounds are missed (see KNOWN_GAP)
    assert all("outside 30–50" in p for p in problems)
    assert result.report["totals"]["share_within_bounds"] >= 0.9
