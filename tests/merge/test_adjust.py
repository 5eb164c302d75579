"""The boundary adjustment moves whole units toward the soft layers and breaks no other rule."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from gridsvc.merge import MergeResult, merge

FIX = Path(__file__).resolve().parents[2] / "fixtures"


def _village(*, adjust: bool) -> MergeResult:
    d = FIX / "village"
    return merge(
        gpd.read_file(d / "community.geojson"),
        gpd.read_file(d / "households.geojson"),
        gpd.read_file(d / "layers.geojson"),
        buildings=gpd.read_file(d / "buildings.geojson"),
        adjust=adjust,
    )


@pytest.fixture(scope="module")
def both() -> tuple[MergeResult, MergeResult]:
    return _village(adjust=False), _village(adjust=True)


def test_adjustment_raises_the_soft_shares_and_lowers_none_on_village(
    both: tuple[MergeResult, MergeResult],
) -> None:
    """Measured: party 0.600 → 0.637, governance 0.863 → 0.940 in 30 moves (the plain plan
    changes with the partition engine: it was 0.627 / 0.930 → 0.630 / 0.947 in 6 moves before
    session 6 matched cells across roads and stopped grids holding units that touch only
    through an empty ring)."""
    plain, adjusted = both
    before = plain.report["measures"]["soft_share_unchanged"]
    after = adjusted.report["measures"]["soft_share_unchanged"]
    assert all(after[name] >= before[name] for name in before)
    assert sum(after.values()) > sum(before.values())
    assert after["governance"] >= 0.935
    assert adjusted.report["unified"]["moves_toward_soft_layers"] >= 1
    assert plain.report["unified"]["moves_toward_soft_layers"] == 0


def test_adjustment_keeps_hard_nesting_coverage_bounds_and_units(
    both: tuple[MergeResult, MergeResult],
) -> None:
    _, adjusted = both
    m = adjusted.report["measures"]
    assert (m["hard_crossings"], m["hard_crossings_forced"], m["gaps"], m["overlaps"]) == (
        0,
        0,
        0,
        0,
    )
    assert m["share_within_bounds"] == 1.0
    assert adjusted.report["unified"]["violations"] == []  # check_partition, split units included
    unified = adjusted.unified
    assert unified.geometry.apply(lambda g: g.geom_type == "Polygon").all()
    households = gpd.read_file(FIX / "village" / "households.geojson")
    assert int(unified["households"].sum()) == len(households)


def test_adjustment_moves_whole_units(both: tuple[MergeResult, MergeResult]) -> None:
    """Every stairwell unit whose households changed grid changed grid as a whole."""
    households = gpd.read_file(FIX / "village" / "households.geojson")
    homes = [
        gpd.sjoin(households, r.unified[["code", "geometry"]], predicate="intersects")
        .drop_duplicates("id")
        .set_index("id")["code"]
        .reindex(households["id"])
        .to_numpy()
        for r in both
    ]
    frame = households.assign(before=homes[0], after=homes[1], moved=homes[0] != homes[1])
    assert frame["moved"].any()
    per_unit = frame.groupby(["building_id", "unit"])["moved"].agg(["any", "all"])
    assert (per_unit["any"] == per_unit["all"]).all()
    assert (frame[frame["moved"]].groupby(["building_id", "unit"])["after"].nunique() == 1).all()
