"""The streaming city generator: the same communities as generate_city, GeoParquet a row group
per community, sizes within bounds, departmental layers and a roster per community."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridsvc.synth import CityFiles, generate_city, iter_city, write_city


def test_iter_city_yields_generate_city_communities_a_row_at_a_time() -> None:
    whole = generate_city(seed=4, households=9_000, sizes=(300, 900))
    rows = list(iter_city(seed=4, households=9_000, sizes=(300, 900)))
    assert len(rows) > 1
    streamed = pd.concat([r.households for r in rows], ignore_index=True)
    per = streamed.groupby("community_code").size()
    pd.testing.assert_series_equal(per, whole.households.groupby("community_code").size())
    assert per.between(300, 900).all()
    assert list(pd.concat([r.community for r in rows])["code"]) == list(whole.community["code"])
    # rows do not overlap: no household of one community lies inside another's boundary
    communities = gpd.GeoDataFrame(pd.concat([r.community for r in rows]), crs=4326)
    joined = gpd.sjoin(gpd.GeoDataFrame(streamed, crs=4326), communities, predicate="within")
    assert (joined["community_code"] == joined["code"]).all()
    assert len(joined) == len(streamed)


def test_default_sizes_are_realistic_communities() -> None:
    rows = list(iter_city(seed=0, households=40_000))
    sizes = pd.concat([r.households for r in rows]).groupby("community_code").size()
    assert sizes.sum() == 40_000 and sizes.between(1_000, 8_000).all()
    villages = [c for c in sizes.index if c[-3] == "2"]
    assert villages and sizes[villages].max() <= 3_000


def test_write_city_parquet_has_a_row_group_per_community(city_files: CityFiles) -> None:
    codes = gpd.read_parquet(city_files.paths["communities"])["code"]
    assert len(codes) == city_files.communities
    households = pq.ParquetFile(city_files.paths["households"])
    assert households.metadata.num_row_groups == city_files.communities
    assert households.metadata.num_rows == city_files.households
    one = gpd.read_parquet(
        city_files.paths["households"], filters=[("community_code", "==", codes[1])]
    )
    assert set(one["community_code"]) == {codes[1]} and one.crs.to_epsg() == 4326
    layers = gpd.read_parquet(city_files.paths["layers"])
    assert set(layers["layer"]) == {"police", "party", "governance"}
    assert set(layers["community_code"]) == set(codes)
    roster = gpd.read_parquet(city_files.paths["roster"])
    assert set(roster["community_code"]) == set(codes) and roster["id"].is_unique


def test_write_city_geopackage(tmp_path: Path) -> None:
    files = write_city(tmp_path, seed=1, households=400, sizes=(100, 250), suffix=".gpkg",
                       roster=False)  # fmt: skip
    households = gpd.read_file(files.paths["households"])
    assert len(households) == 400 and households.crs.to_epsg() == 4326
    assert sorted(files.paths) == ["barriers", "buildings", "communities", "households", "layers"]


def test_sizes_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"sizes must be \(lo, hi\) with 1 <= lo and 2 \* lo <= hi"
    ):
        next(iter_city(seed=0, households=1000, sizes=(300, 400)))
