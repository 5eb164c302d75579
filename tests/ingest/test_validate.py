"""validate without a store: CRS rules, swapped axes away from China, value parsing."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyproj import CRS
from shapely.geometry import Point, box

from gridsvc import geo
from gridsvc.errors import InputError
from gridsvc.ingest import validate
from gridsvc.ingest.validate import effective_crs


def test_effective_crs_rules() -> None:
    utm = CRS.from_epsg(32649)
    assert effective_crs(None, None) == "EPSG:4326"
    assert effective_crs(None, utm) == "EPSG:32649"
    assert effective_crs("EPSG:32649", utm) == "EPSG:32649"
    assert effective_crs("cgcs2000", CRS.from_epsg(4326)) == "EPSG:4490"
    assert effective_crs("gcj02", CRS.from_epsg(4326)) == geo.GCJ02
    with pytest.raises(InputError, match=r"declared CRS EPSG:4547 contradicts .* EPSG:32649"):
        effective_crs("EPSG:4547", utm, "x.gpkg")
    with pytest.raises(InputError, match=r"unknown CRS 'wgs85'"):
        effective_crs("wgs85", None)


def test_swapped_outside_china_uses_the_communities_bbox() -> None:
    communities = gpd.GeoDataFrame(
        {"code": ["276000000001"]}, geometry=[box(10, 50, 10.1, 50.1)], crs="EPSG:4326"
    )
    frame = gpd.GeoDataFrame(
        {"id": ["H1", "H2"]}, geometry=[Point(10.05, 50.05), Point(50.05, 10.05)], crs="EPSG:4326"
    )
    with pytest.raises(
        InputError,
        match=r"feature 1, field 'geometry': looks like lat/lon are "
        r"swapped \(got x=50\.050000, y=10\.050000\)",
    ) as caught:
        validate(frame, kind="households", source="h.csv", communities=communities)
    assert len(caught.value.problems) == 1


def test_projected_input_is_converted() -> None:
    truth = gpd.GeoDataFrame({"id": ["H1"]}, geometry=[Point(112.905, 35.805)], crs="EPSG:4326")
    checked = validate(truth.to_crs("EPSG:4547"), kind="households", source="h.gpkg")
    assert checked.crs == "EPSG:4547"
    p = checked.frame.geometry[0]
    assert (p.x, p.y) == pytest.approx((112.905, 35.805), abs=1e-8)


def test_yes_no_values_are_parsed() -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": ["W1", "W2", "W3"],
            "name": ["a", "b", "c"],
            "party_member": ["是", "False", "maybe"],
        },
        geometry=[None, None, None],
        crs="EPSG:4326",
    )
    with pytest.raises(InputError, match=r"feature 2, field 'party_member': not a yes/no value"):
        validate(frame, kind="workers", source="w.csv")
    ok = validate(frame.iloc[:2], kind="workers", source="w.csv").frame
    assert ok["party_member"].tolist() == [True, False]
