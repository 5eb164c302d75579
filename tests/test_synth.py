"""The community generator: determinism, the 禹都花园 totals, geometric and frame invariants."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsvc import frames
from gridsvc.domain import CARE_TAGS, CareTag, VisitCadence, is_division_code
from gridsvc.geo import metric_crs
from gridsvc.synth import (
    YUDU,
    CommunityData,
    generate_city,
    generate_community,
    generate_layers,
    generate_yudu,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def small(seed: int, kind: str = "urban", households: int | None = None) -> CommunityData:
    count = households if households is not None else (300 if kind == "urban" else 60)
    code = "140802003005" if kind == "urban" else "140802003201"
    return generate_community(seed=seed, code=code, name="测试", kind=kind, households=count)


def frames_of(data: CommunityData) -> dict[str, gpd.GeoDataFrame]:
    return {
        "community": data.community,
        "buildings": data.buildings,
        "households": data.households,
        "barriers": data.barriers,
    }


def check_invariants(data: CommunityData) -> None:
    """Assert what every generated community guarantees."""
    community, buildings, households = data.community, data.buildings, data.households
    for kind, frame in (
        ("communities", community),
        ("buildings", buildings),
        ("households", households),
    ):
        assert frame.crs.to_epsg() == 4326
        assert_geodataframe_equal(frames.conform(kind, frame), frame)
        assert frame[frames.kind(kind).key[0]].is_unique
    assert all(is_division_code(c) for c in community["code"])
    assert all(is_division_code(c) for c in community["parent_code"])
    assert set(community["level"]) <= {"community", "village"}
    assert community.geometry.is_valid.all()
    assert (community.geometry.geom_type == "Polygon").all()

    boundary = community.set_index("code").geometry
    assert shapely.contains(
        boundary.loc[buildings["community_code"]].values, buildings.geometry.values
    ).all()
    assert shapely.contains(
        boundary.loc[households["community_code"]].values, households.geometry.values
    ).all()
    left, right = buildings.sindex.query(buildings.geometry, predicate="intersects")
    assert (left == right).all(), "buildings overlap"

    footprint = buildings.set_index("id")
    mine = footprint.loc[households["building_id"]]
    assert shapely.contains(mine.geometry.values, households.geometry.values).all()
    assert ((households["unit"] >= 1) & (households["unit"].values <= mine["units"].values)).all()
    assert (
        (households["floor"] >= 1) & (households["floor"].values <= mine["floors"].values)
    ).all()
    assert (mine["use"] == "residential").all()
    assert households["size"].between(1, 6).all()

    tags = {t for text in households["care_tags"] if text for t in text.split(";")}
    assert tags <= CARE_TAGS
    assert set(households["visit_cadence"]) <= {c.value for c in VisitCadence}
    alone = households["care_tags"].str.contains(CareTag.ELDERLY_ALONE.value)
    assert (households.loc[alone, "size"] == 1).all()
    assert households.loc[alone, "visit_cadence"].isin(["weekly", "daily"]).all()
    tagged = households["care_tags"] != ""
    assert (households.loc[~tagged, "visit_cadence"] == "none").all()

    barriers = data.barriers
    assert list(barriers.columns) == ["id", "kind", "name", "geometry"]
    assert set(barriers["kind"]) <= {"road", "river", "wall"}
    assert (barriers.geometry.geom_type == "LineString").all()
    assert barriers["id"].is_unique


def test_same_seed_gives_identical_frames() -> None:
    for kind in ("urban", "rural"):
        a, b = frames_of(small(7, kind)), frames_of(small(7, kind))
        for name in a:
            assert_geodataframe_equal(a[name], b[name])


def test_different_seeds_give_different_communities() -> None:
    for kind in ("urban", "rural"):
        a, b = small(7, kind), small(8, kind)
        assert not a.buildings.geometry.geom_equals(b.buildings.geometry).all()
        assert a.households["size"].tolist() != b.households["size"].tolist()


def test_yudu_totals_are_exact() -> None:
    data = generate_yudu()
    buildings, households = data.buildings, data.households
    assert len(buildings) == YUDU.buildings == 40
    assert buildings["units"].sum() == YUDU.units == 108
    assert len(households) == YUDU.households == 1856
    assert households["size"].sum() == YUDU.residents == 4860
    assert buildings["compound"].value_counts().tolist() == [10, 10, 10, 10]
    assert data.sites.empty
    full = buildings.set_index("id")
    per_building = households.groupby("building_id").size()
    capacity = full["units"] * full["floors"] * 2  # 一梯两户, no vacant flats
    assert (per_building.reindex(full.index, fill_value=0) == capacity).all()
    assert data.community["code"].tolist() == [YUDU.code]
    check_invariants(data)


def test_yudu_care_rates_are_realistic() -> None:
    households = generate_yudu().households
    rate = {t: households["care_tags"].str.contains(t.value).mean() for t in CareTag}
    assert 0.05 <= rate[CareTag.ELDERLY_ALONE] <= 0.11
    assert 0.005 <= rate[CareTag.LEFT_BEHIND_CHILD] <= 0.04
    assert rate[CareTag.KEY_PERSON] <= 0.02
    assert 2.55 <= households["size"].mean() <= 2.65


def test_urban_community_has_compounds_sites_roads_and_a_river() -> None:
    data = small(3, households=2500)
    check_invariants(data)
    assert len(data.households) == 2500
    assert sorted(data.sites["use"]) == ["market", "school"]
    assert {"road", "river", "wall"} <= set(data.barriers["kind"])
    residential = data.buildings[data.buildings["use"] == "residential"]
    assert residential["floors"].between(3, 33).all()
    assert residential["units"].between(1, 6).all()
    assert 2.4 <= data.households["size"].mean() <= 2.8
    boundary = data.community.geometry.iloc[0]
    assert len(boundary.exterior.coords) > 5, "the boundary is not a plain rectangle"


def test_village_is_houses_with_one_household_each() -> None:
    data = small(4, "rural", households=300)
    check_invariants(data)
    houses = data.buildings[data.buildings["use"] == "residential"]
    assert len(houses) == len(data.households) == 300
    assert houses["floors"].between(1, 3).all()
    assert (houses["units"] == 1).all()
    assert data.households["building_id"].is_unique
    assert set(data.barriers["kind"]) == {"road", "river"}
    assert data.community["level"].tolist() == ["village"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["urban", "rural"]),
    households=st.integers(8, 400),
)
def test_invariants_hold_for_any_seed(seed: int, kind: str, households: int) -> None:
    data = small(seed, kind, households)
    check_invariants(data)
    assert len(data.households) == households


def test_city_splits_households_into_communities() -> None:
    city = generate_city(seed=5, households=20_000)
    check_invariants(city)
    per = city.households.groupby("community_code").size()
    assert per.sum() == 20_000
    assert per.between(1000, 8000).all()
    assert set(city.community["level"]) == {"community", "village"} or len(per) < 5
    crs = metric_crs(city.community)
    outlines = city.community.to_crs(crs)
    left, _ = outlines.sindex.query(outlines.geometry, predicate="overlaps")
    assert len(left) == 0, "communities overlap"
    villages = city.community[city.community["level"] == "village"]
    assert all(int(code[9:]) > 200 for code in villages["code"])


def test_layers_disagree_and_carry_defects() -> None:
    data = generate_yudu()
    layers = generate_layers(data, seed=0)
    assert_geodataframe_equal(frames.conform("layer_grids", layers), layers)
    crs = metric_crs(data.community)
    boundary = data.community.to_crs(crs).geometry.iloc[0]
    metric = layers.to_crs(crs)
    counts = metric.groupby("layer").size()
    assert 2 <= counts["police"] <= 3
    assert 6 <= counts["party"] <= 15 and 6 <= counts["governance"] <= 15
    assert set(metric.loc[metric["layer"] == "police", "policy"]) == {"hard"}

    police = metric[metric["layer"] == "police"].geometry
    assert police.union_all().symmetric_difference(boundary).area < 1.0
    assert police.area.sum() == pytest.approx(boundary.area, rel=1e-6)
    for layer in ("party", "governance"):
        cells = metric[metric["layer"] == layer].geometry
        overlap = cells.area.sum() - cells.union_all().area
        gap = boundary.difference(cells.union_all()).area
        assert overlap > 10.0, f"{layer} has no deliberate overlap"
        assert gap > 10.0, f"{layer} has no deliberate gap"
    governance = metric[metric["layer"] == "governance"].geometry.union_all()
    assert governance.difference(boundary).area > 10.0, "no governance cell sticks out"


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"code '1408' is not a 12-digit division code"):
        generate_community(seed=0, code="1408", name="x")
    with pytest.raises(ValueError, match=r"kind 'town' is not 'urban' or 'rural'"):
        generate_community(seed=0, code="140802003005", name="x", kind="town")
    with pytest.raises(ValueError, match=r"a rural community needs at least 8 households, got 3"):
        generate_community(seed=0, code="140802003201", name="x", kind="rural", households=3)
    with pytest.raises(ValueError, match=r"households must be positive, got 0"):
        generate_city(seed=0, households=0)


def _make_fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixtures_match_the_generator(tmp_path: Path) -> None:
    make = _make_fixtures()
    for name in make.SAMPLES:
        for path in make.write_sample(name, tmp_path):
            committed = FIXTURES / name / path.name
            assert committed.read_bytes() == path.read_bytes(), f"regenerate {committed}"
    if not make.BALTIMORE_SOURCE.exists():
        pytest.skip(f"Baltimore source {make.BALTIMORE_SOURCE} is not here")
    make.copy_baltimore(make.BALTIMORE_SOURCE, tmp_path / "baltimore.gpkg")
    committed = FIXTURES / "baltimore_pigtown.gpkg"
    assert committed.read_bytes() == (tmp_path / "baltimore.gpkg").read_bytes()


def test_committed_fixtures_read_back_with_their_invariants() -> None:
    for name in ("yudu", "urban", "village"):
        folder = FIXTURES / name
        data = CommunityData(
            *(
                gpd.read_file(folder / f"{part}.geojson")
                for part in ("community", "buildings", "households", "barriers")
            )
        )
        boundary = data.community.geometry.iloc[0]
        assert shapely.contains(boundary, data.households.geometry.values).all()
        footprint = data.buildings.set_index("id").geometry
        inside = shapely.contains(
            footprint.loc[data.households["building_id"]].values, data.households.geometry.values
        )
        assert inside.all()
        assert np.isclose(len(data.households), {"yudu": 1856, "urban": 2500, "village": 300}[name])


def test_baltimore_extract_has_the_used_layers_valid() -> None:
    path = FIXTURES / "baltimore_pigtown.gpkg"
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert names == set(_make_fixtures().BALTIMORE_LAYERS)
    blocks = gpd.read_file(path, layer="blocks_2020")
    assert {"housing20", "pop20"} <= set(blocks.columns)
    assert blocks["housing20"].sum() == 2894
    for name in names:
        assert gpd.read_file(path, layer=name).geometry.is_valid.all()
