"""Roster import: formats, homes from household ids, and every bad row named."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gridsvc.errors import InputError
from gridsvc.staffing import check_roster, load_model, load_roster

HEADER = "id,name,phone,roles,party_member,police_beat,hours"


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workers.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def households() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["H1", "H2"], "community_code": ["140802001001"] * 2},
        geometry=[shapely.Point(111.0, 35.03), shapely.Point(111.001, 35.031)],
        crs="EPSG:4326",
    )


def test_csv_with_lon_lat_loads_and_maps_chinese_role_names(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        f"{HEADER},lon,lat\nW1,张三,138,楼栋长;志愿者,是,,20,111.0,35.03\n"
        "W2,李四,139,police,否,JW01,176,111.001,35.031\n",
    )
    workers = load_roster(path)
    assert list(workers["id"]) == ["W1", "W2"]
    assert list(workers["roles"]) == ["building_head;volunteer", "police"]
    assert list(workers["party_member"]) == [True, False]
    assert workers.geometry.iloc[1].equals(shapely.Point(111.001, 35.031))


def test_homes_resolve_from_household_ids_without_coordinates(
    tmp_path: Path, households: gpd.GeoDataFrame
) -> None:
    path = _csv(tmp_path, f"{HEADER},household_id\nW1,张三,138,building_head,1,,20,H2\n")
    workers = load_roster(path, households=households)
    assert workers.geometry.iloc[0].equals(shapely.Point(111.001, 35.031))
    assert workers["household_id"].iloc[0] == "H2"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "W1,张三,138,building_head,1,,20,111.0,35.03\nW1,李四,139,volunteer,0,,5,111.0,35.03",
            r"workers\.csv, feature 0, field 'id': duplicate id 'W1' \(features 0, 1\)",
        ),
        (
            "W1,张三,138,wizard,1,,20,111.0,35.03",
            r"feature 0, field 'roles': worker W1 has unknown roles 'wizard'; known: ",
        ),
        (
            "W1,张三,138,building_head,1,,-3,111.0,35.03",
            r"field 'hours': negative hours: -3; give the monthly hours available",
        ),
        (
            "W1,张三,138,police,1,,176,111.0,35.03",
            r"field 'police_beat': police worker W1 has no police_beat",
        ),
        (
            "W1,张三,138,,1,,176,111.0,35.03",
            r"field 'roles': worker W1 has no roles",
        ),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_roster(_csv(tmp_path, f"{HEADER},lon,lat\n{rows}\n"))


def test_worker_without_location_is_an_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"{HEADER},household_id\nW1,张三,138,building_head,1,,20,\n")
    with pytest.raises(
        InputError, match=r"worker W1 \(张三\) has no home location; give lon/lat or a household_id"
    ):
        load_roster(path)


def test_household_id_without_households_or_unknown_is_an_error(
    tmp_path: Path, households: gpd.GeoDataFrame
) -> None:
    path = _csv(tmp_path, f"{HEADER},household_id\nW1,张三,138,building_head,1,,20,H9\n")
    with pytest.raises(InputError, match=r"gives household_id 'H9' but no households"):
        load_roster(path)
    with pytest.raises(InputError, match=r"worker W1 refers to unknown household 'H9'"):
        load_roster(path, households=households)


def test_roles_added_by_a_model_are_accepted(households: gpd.GeoDataFrame) -> None:
    from gridsvc.staffing.model import model_from_dict

    model = model_from_dict(
        {
            "name": "x",
            "roles": {"courier": "快递小哥"},
            "slots": [{"role": "probe", "eligible": ["courier"], "min": 0, "max": 1}],
        }
    )
    frame = gpd.GeoDataFrame(
        {"id": ["W1"], "name": ["王五"], "roles": ["courier"]},
        geometry=[shapely.Point(111.0, 35.03)],
        crs="EPSG:4326",
    )
    assert list(check_roster(frame, model=model)["roles"]) == ["courier"]
    with pytest.raises(InputError, match="unknown roles 'courier'"):
        check_roster(frame, model=load_model("1+1+N"))
