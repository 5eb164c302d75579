"""run_city on a real LocalCluster into real SpatiaLite and PostGIS: complete, resumable,
one failure reported without stopping the others, bad inputs rejected before any write."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from city_checks import assert_complete_once, inputs_of, stored

from gridsvc.city import run_city
from gridsvc.config import Settings
from gridsvc.errors import InputError
from gridsvc.store import make_engine

SETTINGS = Settings()


def test_city_run_completes_then_skips_unchanged_and_reruns_changed(
    city_dir: Path, store_url: str
) -> None:
    inputs = inputs_of(city_dir)
    households = gpd.read_parquet(inputs.households)
    seen: list[tuple[str, int, int]] = []
    first = run_city(
        inputs, SETTINGS, store_url=store_url, workers=2,
        say=lambda o, done, total: seen.append((o.status, done, total)),
    )  # fmt: skip
    n = households["community_code"].nunique()
    assert first.totals["done"] == n and first.totals["failed"] == 0
    assert [s[1:] for s in seen] == [(i + 1, n) for i in range(n)]
    assert first.workers == 2
    assert all(o.cpu_seconds > 0 for o in first.outcomes)  # each community's CPU cost is measured
    # and split by stage, in wall and CPU seconds; the stages' CPU is part of the task's
    for o in first.outcomes:
        assert set(o.stage_cpu) == set(o.stages) == {"read", "partition", "write"}
        assert 0 < sum(o.stage_cpu.values()) <= o.cpu_seconds
    assert_complete_once(store_url, households)
    grids_before = stored(store_url)[1]["code"].tolist()

    second = run_city(inputs, SETTINGS, store_url=store_url, workers=2)
    assert second.totals["skipped"] == n and second.totals["done"] == 0
    assert stored(store_url)[1]["code"].tolist() == grids_before

    # the same rows in another order are the same input
    households.sample(frac=1.0, random_state=1).to_parquet(inputs.households)
    shuffled = run_city(inputs, SETTINGS, store_url=store_url, workers=2)
    assert shuffled.totals["skipped"] == n

    # one household less in one community: only that community runs again
    changed = str(households["community_code"].iloc[0])
    gone = households.index[households["community_code"] == changed][0]
    households.drop(index=gone).to_parquet(inputs.households)
    third = run_city(inputs, SETTINGS, store_url=store_url, workers=2)
    assert [o.code for o in third.outcomes if o.status == "done"] == [changed]
    assert third.totals["skipped"] == n - 1
    assert_complete_once(store_url, households.drop(index=gone))


def test_failing_community_is_reported_and_others_finish(city_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    inputs = inputs_of(city_dir)
    households = gpd.read_parquet(inputs.households)
    # not the first community of the file: that one is also checked city-wide, before any run
    bad = str(gpd.read_parquet(inputs.communities)["code"].iloc[-1])
    far = households.index[households["community_code"] == bad][3]
    households.loc[far, "geometry"] = shapely.Point(112.5, 36.5)  # ~200 km away
    households.to_parquet(inputs.households)

    report = run_city(inputs, SETTINGS, store_url=url, workers=2)

    assert [o.code for o in report.failed] == [bad]
    assert re.fullmatch(
        rf"InputError: households\.parquet, feature 3, field 'geometry': household "
        rf"{households.loc[far, 'id']} lies 2\d\d\.\d km outside community {bad}; "
        r"check its CRS \(got EPSG:4326\)",
        report.failed[0].error or "",
    )
    runs, grids, homes = stored(url)
    assert runs.set_index("community_code").loc[bad, "status"] == "failed"
    assert bad not in set(grids["community_code"]) and bad not in set(homes["community_code"])
    assert_complete_once_except(url, households, bad)


def assert_complete_once_except(url: str, households: gpd.GeoDataFrame, bad: str) -> None:
    runs, grids, _ = stored(url)
    good = households[households["community_code"] != bad]
    done = runs[runs["status"] == "done"]
    assert sorted(done["community_code"]) == sorted(good["community_code"].unique())
    base = grids[grids["level"] == 1]
    assert base["households"].sum() == len(good)


def _no_tables(url: str) -> None:
    from sqlalchemy import inspect

    engine = make_engine(url)
    try:
        assert "community_runs" not in inspect(engine).get_table_names()
        assert "grids" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_unknown_community_code_is_rejected_before_anything_is_written(
    city_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    inputs = inputs_of(city_dir)
    households = gpd.read_parquet(inputs.households)
    households.loc[households.index[7], "community_code"] = "140802999001"
    households.to_parquet(inputs.households)
    with pytest.raises(
        InputError,
        match=r"households\.parquet, feature 7, field 'community_code': 1 households name "
        r"communities not in communities\.parquet: 140802999001",
    ):
        run_city(inputs, SETTINGS, store_url=url, workers=1)
    _no_tables(url)


def test_missing_file_is_rejected(city_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    inputs = inputs_of(city_dir)
    inputs.buildings.unlink()  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"buildings\.parquet: file not found: .*buildings"):
        run_city(inputs, SETTINGS, store_url=url, workers=1)
    _no_tables(url)


def test_wrong_crs_is_rejected(city_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    inputs = inputs_of(city_dir)
    households = gpd.read_parquet(inputs.households)
    metres = households.to_crs(3857).set_crs(4326, allow_override=True)  # metres labelled lon/lat
    metres.to_parquet(inputs.households)
    with pytest.raises(InputError, match=r"households\.parquet, feature 0"):
        run_city(inputs, SETTINGS, store_url=url, workers=1)
    _no_tables(url)


def test_geopackage_inputs_run_like_geoparquet(tmp_path: Path) -> None:
    from gridsvc.city import CityInputs
    from gridsvc.synth import write_city

    files = write_city(tmp_path / "gpkg", seed=5, households=260, sizes=(100, 250),
                       suffix=".gpkg", layers=False, roster=False)  # fmt: skip
    url = f"sqlite:///{tmp_path}/store.sqlite"
    p = files.paths
    inputs = CityInputs(p["communities"], p["households"], p["buildings"], p["barriers"])
    report = run_city(inputs, SETTINGS, store_url=url, workers=1)
    assert report.totals["done"] == files.communities and report.totals["failed"] == 0
    assert_complete_once(url, gpd.read_file(p["households"]))


def test_layers_and_roster_merge_and_staff_every_community(city_dir: Path, tmp_path: Path) -> None:
    from gridsvc.store import session_scope
    from gridsvc.store.assignments import read_assignments

    url = f"sqlite:///{tmp_path}/store.sqlite"
    inputs = inputs_of(city_dir, staffed=True)
    households = gpd.read_parquet(inputs.households)
    report = run_city(inputs, SETTINGS, store_url=url, workers=2)
    assert report.totals["failed"] == 0, report.failed
    assert all(
        set(o.stages) == set(o.stage_cpu) == {"read", "merge", "staff", "write"}
        for o in report.outcomes
    )
    assert_complete_once(url, households)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            staffed = read_assignments(session)
    finally:
        engine.dispose()
    _, grids, _ = stored(url)
    assert set(staffed["community_code"]) == set(households["community_code"])
    assert set(staffed["grid_code"]) <= set(grids["code"])
    leaders = staffed[staffed["role"].str.contains("leader")]
    assert leaders["grid_code"].nunique() == len(grids)  # every unified grid has its leaders
