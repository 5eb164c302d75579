"""The frame contract: conform fills defaults, casts types, drops extras."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Point

from gridsvc import frames


def test_conform_fills_defaults_and_drops_extras() -> None:
    raw = gpd.GeoDataFrame(
        {"id": [1, 2], "size": [3.0, None], "extra": ["x", "y"]},
        geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:4326",
    )
    out = frames.conform("households", raw)
    assert list(out.columns) == [*frames.kind("households").column_names, "geometry"]
    assert out["id"].tolist() == ["1", "2"]
    assert out["size"].tolist() == [3, 1]
    assert out["visit_cadence"].tolist() == ["none", "none"]
    assert out["building_id"].isna().all()


def test_conform_is_idempotent_and_empty_has_every_column() -> None:
    empty = frames.empty("grids")
    assert list(empty.columns) == [*frames.kind("grids").column_names, "geometry"]
    again = frames.conform("grids", empty)
    assert list(again.columns) == list(empty.columns) and len(again) == 0
