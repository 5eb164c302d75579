"""CRS conversions and RFC 7946 GeoJSON."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from gridsvc import geo
from gridsvc.errors import InputError

# Published reference: Tiananmen, WGS 84 (116.391275, 39.906217) is GCJ-02 (116.397519, 39.907617).
TIANANMEN_WGS = (116.391275, 39.906217)
TIANANMEN_GCJ = (116.397519, 39.907617)


def test_gcj02_forward_matches_reference_point() -> None:
    lon, lat = geo.wgs84_to_gcj02(*TIANANMEN_WGS)
    assert lon == pytest.approx(TIANANMEN_GCJ[0], abs=2e-5)
    assert lat == pytest.approx(TIANANMEN_GCJ[1], abs=2e-5)


def test_gcj02_is_identity_outside_china() -> None:
    lon, lat = geo.wgs84_to_gcj02(-76.62, 39.28)  # Baltimore
    assert (float(lon), float(lat)) == (-76.62, 39.28)


@given(
    st.floats(min_value=75.0, max_value=134.0),
    st.floats(min_value=18.0, max_value=53.0),
)
def test_gcj02_and_bd09_round_trip_within_a_centimetre(lon: float, lat: float) -> None:
    for forward, back in (
        (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84),
        (geo.wgs84_to_bd09, geo.bd09_to_wgs84),
    ):
        x, y = back(*forward(lon, lat))
        assert abs(float(x) - lon) < 1e-7 and abs(float(y) - lat) < 1e-7


def test_to_wgs84_converts_declared_gcj02_frame() -> None:
    gx, gy = geo.wgs84_to_gcj02(112.92, 35.80)
    frame = gpd.GeoDataFrame(geometry=[Point(float(gx), float(gy))], crs="EPSG:4326")
    out = geo.to_wgs84(frame, "gcj02")
    assert out.crs.to_epsg() == 4326
    assert out.geometry[0].x == pytest.approx(112.92, abs=1e-8)
    assert out.geometry[0].y == pytest.approx(35.80, abs=1e-8)


def test_to_wgs84_handles_cgcs2000_and_projected_inputs() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(112.92, 35.80)], crs="EPSG:4326")
    utm = frame.to_crs(geo.metric_crs(frame))
    back = geo.to_wgs84(gpd.GeoDataFrame(geometry=utm.geometry.values, crs=None), str(utm.crs))
    assert back.geometry[0].distance(Point(112.92, 35.80)) < 1e-8
    cgcs = geo.to_wgs84(gpd.GeoDataFrame(geometry=[Point(112.92, 35.80)]), "EPSG:4490")
    assert cgcs.geometry[0].distance(Point(112.92, 35.80)) < 1e-6


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wgs84", "EPSG:4326"),
        ("CGCS2000", "EPSG:4490"),
        ("GCJ-02", "GCJ02"),
        ("bd09", "BD09"),
        ("EPSG:32649", "EPSG:32649"),
        (None, "EPSG:4326"),
    ],
)
def test_parse_crs_names(name: str | None, expected: str) -> None:
    assert geo.parse_crs(name) == expected


def test_parse_crs_rejects_unknown_names() -> None:
    with pytest.raises(InputError, match="unknown CRS 'not-a-crs'"):
        geo.parse_crs("not-a-crs")


def test_metric_crs_is_the_utm_zone_of_the_data() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(112.92, 35.80)], crs="EPSG:4326")
    assert geo.metric_crs(frame).to_epsg() == 32649
    south = gpd.GeoDataFrame(geometry=[Point(-47.9, -15.8)], crs="EPSG:4326")
    assert geo.metric_crs(south).to_epsg() == 32723


def test_geojson_is_rfc7946_ccw_rounded_without_crs() -> None:
    clockwise = Polygon([(0, 0), (0, 1.123456789), (1, 1), (1, 0)])
    assert not clockwise.exterior.is_ccw
    frame = gpd.GeoDataFrame(
        {"code": ["a"], "n": [np.int64(3)]}, geometry=[clockwise], crs="EPSG:4326"
    )
    fc = geo.feature_collection(frame, id_column="code")
    assert "crs" not in fc
    feature = fc["features"][0]
    assert feature["id"] == "a" and feature["properties"] == {"code": "a", "n": 3}
    ring = feature["geometry"]["coordinates"][0]
    assert Polygon(ring).exterior.is_ccw
    assert [0.0, 1.1234568] in ring


@given(
    st.lists(
        st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False)),
        min_size=1,
        max_size=50,
    )
)
def test_geojson_coordinates_are_rounded_to_at_most_7_decimals(
    xy: list[tuple[float, float]],
) -> None:
    texts = geo.geometry_texts(shapely.points(np.array(xy)))
    for (x, y), text in zip(xy, texts, strict=True):
        coordinates = json.loads(text)["coordinates"]
        assert abs(coordinates[0] - x) <= 0.5e-7 + 1e-12
        assert abs(coordinates[1] - y) <= 0.5e-7 + 1e-12
        assert all(len(repr(float(v)).partition(".")[2]) <= 7 for v in coordinates)
