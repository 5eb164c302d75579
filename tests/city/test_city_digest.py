"""The input digest of a community: what a rerun compares to skip it (unchanged) or redo it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from city_checks import inputs_of

from gridsvc.city import index_city, read_community
from gridsvc.city.digest import frames_digest

SETTINGS = {"min": 80, "max": 150}


def _digests(folder: Path, settings: dict[str, object] = SETTINGS) -> dict[str, str]:
    inputs = inputs_of(folder)
    jobs, _ = index_city(inputs)
    return {job.code: read_community(inputs, job, settings=settings).digest for job in jobs}


def test_digest_is_the_same_for_the_same_rows_in_any_order_and_file_layout(
    city_dir: Path,
) -> None:
    before = _digests(city_dir)
    households = gpd.read_parquet(city_dir / "households.parquet")
    buildings = gpd.read_parquet(city_dir / "buildings.parquet")
    # rows shuffled across communities, one row group for the whole file, the index written
    households.sample(frac=1.0, random_state=7).to_parquet(city_dir / "households.parquet")
    buildings.sample(frac=1.0, random_state=7).to_parquet(
        city_dir / "buildings.parquet", row_group_size=len(buildings)
    )
    assert _digests(city_dir) == before


def test_digest_changes_with_a_value_a_geometry_a_row_or_the_settings(city_dir: Path) -> None:
    before = _digests(city_dir)
    path = city_dir / "households.parquet"
    households = gpd.read_parquet(path)
    codes = sorted(before)
    first = households.index[households["community_code"] == codes[0]][0]
    second = households.index[households["community_code"] == codes[1]][0]
    third = households.index[households["community_code"] == codes[2]][0]
    changed = households.copy()
    changed.loc[first, "size"] = int(changed.loc[first, "size"]) + 1
    changed.loc[second, "geometry"] = shapely.affinity.translate(
        changed.loc[second, "geometry"], xoff=1e-7
    )
    changed = changed.drop(index=third)
    changed.to_parquet(path)
    after = _digests(city_dir)
    assert {c for c in codes if after[c] != before[c]} == set(codes[:3])
    assert set(_digests(city_dir, {**SETTINGS, "max": 151}).values()).isdisjoint(after.values())


def test_digest_tells_a_missing_value_from_its_text() -> None:
    """pandas hashes None like "None" and NaN like "nan" unless told apart: the digest must not."""

    def digest(phone: list[object]) -> str:
        frame = gpd.GeoDataFrame(
            {"id": ["H1", "H2"], "phone": phone},
            geometry=[shapely.Point(112.9, 35.8)] * 2,
            crs="EPSG:4326",
        )
        return frames_digest({"households": frame}, SETTINGS)

    assert digest([None, "1"]) != digest(["None", "1"])
    assert digest([float("nan"), "1"]) != digest(["nan", "1"])
    assert digest([None, "1"]) == digest([None, "1"])


def test_jobs_come_largest_first_with_their_household_counts(city_dir: Path) -> None:
    inputs = inputs_of(city_dir)
    jobs, counts = index_city(inputs)
    households = gpd.read_parquet(city_dir / "households.parquet")
    assert counts == households["community_code"].astype(str).value_counts().to_dict()
    sizes = [counts[job.code] for job in jobs]
    assert len(set(sizes)) > 1  # the small city has communities of different sizes
    assert [(-n, j.code) for n, j in zip(sizes, jobs, strict=True)] == sorted(
        (-n, j.code) for n, j in zip(sizes, jobs, strict=True)
    )
