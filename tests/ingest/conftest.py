"""A 2×2 block of communities near 高平 (112.9°E, 35.8°N), with buildings and households.

35.82 +---------+---------+
      | ..0003  | ..0004  |      each community is 0.01° × 0.01° (about 0.9 km × 1.1 km);
35.81 +---------+---------+      two buildings per community, three households per building
      | ..0001  | ..0002  |      (units 1–3 on floor 1–3).
35.80 +---------+---------+
    112.90    112.91    112.92
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, box

from gridsvc import frames

X0, Y0, STEP = 112.90, 35.80, 0.01
CODES = ["140581100001", "140581100002", "140581100003", "140581100004"]


def communities() -> gpd.GeoDataFrame:
    """Return the 2×2 community block."""
    rows = []
    for n, code in enumerate(CODES):
        x, y = X0 + STEP * (n % 2), Y0 + STEP * (n // 2)
        rows.append(
            {
                "code": code,
                "name": f"社区{n + 1}",
                "level": "community",
                "parent_code": "140581100000",
                "geometry": box(x, y, x + STEP, y + STEP),
            }
        )
    return frames.conform("communities", gpd.GeoDataFrame(rows, crs="EPSG:4326"))


def buildings() -> gpd.GeoDataFrame:
    """Return two buildings per community (no community_code: assigned by location)."""
    rows = []
    for n, code in enumerate(CODES):
        x, y = X0 + STEP * (n % 2), Y0 + STEP * (n // 2)
        for b in range(2):
            bx, by = x + 0.002 + 0.004 * b, y + 0.004
            rows.append(
                {
                    "id": f"B{code[-1]}{b}",
                    "name": f"{b + 1}号楼",
                    "floors": 6,
                    "units": 3,
                    "use": "residential",
                    "compound": f"小区{n}",
                    "geometry": box(bx, by, bx + 0.0012123456, by + 0.0003),
                }
            )
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def households() -> gpd.GeoDataFrame:
    """Return three households in each building."""
    rows = []
    b = buildings()
    for bid, c in zip(b["id"], shapely.centroid(b.geometry.values), strict=True):
        for u in range(3):
            rows.append(
                {
                    "id": f"H-{bid}-{u}",
                    "building_id": bid,
                    "unit": u + 1,
                    "floor": u + 1,
                    "room": f"{u + 1}0{u + 1}",
                    "size": u + 1,
                    "care_tags": "独居老人" if u == 0 else "",
                    "visit_cadence": "weekly" if u == 0 else "none",
                    "geometry": Point(c.x + 0.0003 * (u - 1), c.y),
                }
            )
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def layer_grids() -> gpd.GeoDataFrame:
    """Return a police layer of two beats (west and east halves of the block)."""
    return gpd.GeoDataFrame(
        {
            "layer": ["police"] * 2,
            "department": ["公安"] * 2,
            "policy": ["hard"] * 2,
            "grid_id": ["JW-1", "JW-2"],
            "name": ["西警格", "东警格"],
        },
        geometry=[
            box(X0, Y0, X0 + STEP, Y0 + 2 * STEP),
            box(X0 + STEP, Y0, X0 + 2 * STEP, Y0 + 2 * STEP),
        ],
        crs="EPSG:4326",
    )


def grids() -> gpd.GeoDataFrame:
    """Return two base grids splitting community …0001, one stacked grid with floor bounds."""
    return gpd.GeoDataFrame(
        {
            "code": ["140581100001001", "140581100001002", "14058110000100201"],
            "community_code": [CODES[0]] * 3,
            "level": [1, 1, 2],
            "kind": ["community", "dedicated", "community"],
            "parent_code": [None, None, "140581100001002"],
            "households": [31, 0, 12],
            "residents": [80, 0, 30],
            "floor_lo": [None, None, 1],
            "floor_hi": [None, None, 3],
            "version": [1, 2, 1],
        },
        geometry=[
            box(X0, Y0, X0 + STEP / 2, Y0 + STEP),
            box(X0 + STEP / 2, Y0, X0 + STEP, Y0 + STEP),
            box(X0 + STEP / 2, Y0, X0 + STEP, Y0 + STEP),
        ],
        crs="EPSG:4326",
    )


def workers() -> gpd.GeoDataFrame:
    """Return three workers, one without a home location."""
    return gpd.GeoDataFrame(
        {
            "id": ["W1", "W2", "W3"],
            "name": ["张三", "李四", "王五"],
            "phone": ["13800000001", "", "13800000003"],
            "roles": ["grid_leader;police", "grid_worker", "volunteer"],
            "party_member": [True, False, True],
            "police_beat": ["JW-1", "", ""],
            "hours": [40.0, 20.5, 4.0],
        },
        geometry=[Point(112.905, 35.805), None, Point(112.915, 35.815)],
        crs="EPSG:4326",
    )


SAMPLES: dict[str, Callable[[], gpd.GeoDataFrame]] = {
    "communities": communities,
    "buildings": buildings,
    "households": households,
    "layer_grids": layer_grids,
    "grids": grids,
    "workers": workers,
}


@pytest.fixture
def sample() -> dict[str, gpd.GeoDataFrame]:
    """Return fresh copies of the sample frames, keyed by kind."""
    return {k: f() for k, f in SAMPLES.items()}


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a frame to tmp_path as GeoJSON (or the suffix given) and return its path."""

    def _write(frame: gpd.GeoDataFrame, name: str = "input.geojson", **kw: object) -> Path:
        path = tmp_path / name
        if path.suffix == ".csv":
            table = frame.drop(columns="geometry")
            table["lon"], table["lat"] = frame.geometry.x, frame.geometry.y
            table.to_csv(path, index=False, **kw)  # type: ignore[call-overload]
        else:
            with warnings.catch_warnings():  # a CRS-less file is what some tests want
                warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
                frame.to_file(path, engine="pyogrio", **kw)
        return path

    return _write
