"""Re-partitioning against existing grids: stable codes, locked grids untouched, moves listed."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from partition_drawings import grid_of_buildings, square_community

from gridsvc.errors import InputError
from gridsvc.partition import Bounds, check_partition, partition

LEVELS = (Bounds(30, 50), Bounds(1, 15))


def _existing(result: object) -> gpd.GeoDataFrame:
    frames = [result.grids, result.microgrids]  # type: ignore[attr-defined]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


@pytest.fixture
def town() -> tuple:
    """A 400 m square, 4 × 4 buildings of 2 units × 10 households (320 households)."""
    buildings, households = grid_of_buildings(4, 4, 10, units=2)
    community = square_community(400)
    return community, buildings, households, partition(community, households, buildings=buildings)


def test_unchanged_input_keeps_codes_and_geometry(town: tuple) -> None:
    community, buildings, households, first = town
    again = partition(community, households, buildings=buildings, existing=_existing(first))
    assert again.grids["code"].tolist() == first.grids["code"].tolist()
    assert shapely.equals_exact(
        again.grids.geometry.to_numpy(), first.grids.geometry.to_numpy(), 1e-9
    ).all()
    pd.testing.assert_frame_equal(again.assignment, first.assignment)
    assert again.report["totals"]["moved_households"] == []


def test_edit_keeps_locked_and_untouched_grids_and_appends_serials(town: tuple) -> None:
    community, buildings, households, first = town
    emptied = first.grids["code"].iloc[0]
    locked = first.grids["code"].iloc[-1]
    gone = first.assignment.loc[first.assignment["grid_code"] == emptied, "household_id"]
    fewer = households[~households["id"].isin(gone.iloc[:15])].reset_index(drop=True)
    second = partition(
        community, fewer, buildings=buildings, existing=_existing(first), locked=[locked]
    )
    assert check_partition(community, fewer, second, LEVELS) == []
    before = first.grids.set_index("code")
    after = second.grids.set_index("code")
    assert shapely.equals_exact(before.geometry[locked], after.geometry[locked], 0.0)
    assert emptied not in after.index
    kept = [c for c in after.index if c in before.index]
    assert len(kept) >= len(before) - 3  # only grids next to the emptied one were redrawn
    new = sorted(set(after.index) - set(before.index))
    top = max(int(c[-3:]) for c in before.index)
    assert new and all(int(c[-3:]) > top for c in new)  # appended, never renumbered
    moved = second.report["totals"]["moved_households"]
    assert moved and all(m["from"] != m["to"] for m in moved)
    assert any(f"grid {emptied} held" in m["why"] for m in moved)
    locked_micro = first.microgrids[first.microgrids["parent_code"] == locked]
    assert set(locked_micro["code"]) <= set(second.microgrids["code"])


def test_unknown_locked_code_is_refused(town: tuple) -> None:
    community, _, households, first = town
    with pytest.raises(InputError, match="locked grid 999 is not among the existing grids"):
        partition(community, households, existing=_existing(first), locked=["999"])
