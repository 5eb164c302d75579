"""The input digest of a community: what a rerun compares to skip it (unchanged) or redo it."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely
from city_checks import inputs_of
from hypothesis import given, settings
from hypothesis import strategies as st

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


_ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(["a", "b", "None", "nan", "", "高平"])),
        st.one_of(st.none(), st.integers(-3, 3)),
        st.one_of(st.none(), st.booleans()),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=8,
)


def _frame(rows: list[tuple[object, ...]], polygons: bool) -> gpd.GeoDataFrame:
    """A frame of every column kind the digest hashes: text, Int64, boolean, float, geometry."""
    shapes = [
        shapely.box(i, 0, i + 1, 1) if polygons else shapely.Point(112.9 + i * 1e-6, 35.8)
        for *_, i in rows
    ]
    return gpd.GeoDataFrame(
        {
            "id": [f"R{n}" for n in range(len(rows))],
            "text": pd.Series([r[0] for r in rows], dtype="string"),
            "number": pd.Series([r[1] for r in rows], dtype="Int64"),
            "flag": pd.Series([r[2] for r in rows], dtype="boolean"),
            "ratio": [0.5 * r[3] for r in rows],
        },
        geometry=shapes,
        crs="EPSG:4326",
    )


@settings(max_examples=40, deadline=None)
@given(_ROWS, st.booleans(), st.randoms(use_true_random=False), st.data())
def test_digest_ignores_row_order_and_sees_any_one_changed_cell(
    rows: list[tuple[object, ...]], polygons: bool, rng: random.Random, data: st.DataObject
) -> None:
    frame = _frame(rows, polygons)
    base = frames_digest({"rows": frame}, SETTINGS)
    order = list(range(len(frame)))
    rng.shuffle(order)
    assert frames_digest({"rows": frame.iloc[order]}, SETTINGS) == base
    row = data.draw(st.integers(0, len(frame) - 1))
    column = data.draw(st.sampled_from(["text", "number", "flag", "ratio", "geometry"]))
    changed = frame.copy()
    old = changed.at[row, column]
    if column == "geometry":
        new: object = shapely.affinity.translate(old, xoff=1e-7)
    elif column == "text":
        new = "x" if pd.isna(old) or old != "x" else None  # missing differs from any text
    elif column == "number":
        new = 9 if pd.isna(old) or old != 9 else pd.NA
    elif column == "flag":
        new = True if pd.isna(old) or not old else pd.NA
    else:
        new = old + 0.25
    changed.at[row, column] = new
    assert frames_digest({"rows": changed}, SETTINGS) != base


def test_digest_takes_mixed_and_nested_values_in_any_order() -> None:
    """A frame of no kind (barriers, layers) may hold mixed Python values or lists."""
    frame = gpd.GeoDataFrame(
        {"mixed": [1, "1", None, 2.5], "nested": [[1], [2, 3], None, []]},
        geometry=[shapely.LineString([(0, i), (1, i)]) for i in range(4)],
        crs="EPSG:4326",
    )
    base = frames_digest({"barriers": frame}, SETTINGS)
    assert frames_digest({"barriers": frame.iloc[[3, 1, 0, 2]]}, SETTINGS) == base
    changed = frame.copy()
    changed.at[1, "mixed"] = 1  # the number 1 where the text "1" was
    assert frames_digest({"barriers": changed}, SETTINGS) != base


def test_digest_sees_a_number_and_its_text_trade_rows_in_a_mixed_column() -> None:
    """Mixed Python values are hashed as text: the number 1 and the text "1" swapping rows is a
    change (both rows' values changed type), not the same input."""

    def digest(mixed: list[object]) -> str:
        frame = gpd.GeoDataFrame(
            {"mixed": mixed},
            geometry=[shapely.LineString([(0, i), (1, i)]) for i in range(len(mixed))],
            crs="EPSG:4326",
        )
        return frames_digest({"barriers": frame}, SETTINGS)

    assert digest([1, "1", None]) != digest(["1", 1, None])
    assert digest([1, "x", None]) != digest(["1", "x", None])


_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]  # a NaN of another payload
_TIED = st.lists(
    st.tuples(
        st.sampled_from([0.0, -0.0, 0.5]),
        st.one_of(st.none(), st.sampled_from([(), (1.0,), (1.0, 2.0), (0.0,), (-0.0,)])),
        st.integers(0, 1),
    ),
    min_size=2,
    max_size=8,
)


def _tied(rows: list[tuple[object, ...]]) -> gpd.GeoDataFrame:
    """Rows with no key, drawn from few values: many tie in the sort, equal in value but for
    the sign of a zero or a list (which Arrow cannot sort on)."""
    return gpd.GeoDataFrame(
        {
            "ratio": [r[0] for r in rows],
            "nested": [None if r[1] is None else list(r[1]) for r in rows],
        },
        geometry=[shapely.Point(112.9 + int(r[2]) * 1e-6, 35.8) for r in rows],
        crs="EPSG:4326",
    )


@settings(max_examples=80, deadline=None)
@given(_TIED, st.randoms(use_true_random=False), st.data())
def test_digest_of_rows_that_tie_in_value_ignores_their_order_and_sees_any_one_change(
    rows: list[tuple[object, ...]], rng: random.Random, data: st.DataObject
) -> None:
    """Rows equal in every column Arrow sorts (-0.0 ties 0.0) but for a zero's sign or a
    list: their order must not matter, and a changed zero's sign or list still tells."""
    frame = _tied(rows)
    base = frames_digest({"rows": frame}, SETTINGS)
    order = list(range(len(frame)))
    rng.shuffle(order)
    assert frames_digest({"rows": frame.iloc[order].reset_index(drop=True)}, SETTINGS) == base
    row = data.draw(st.integers(0, len(frame) - 1))
    column = data.draw(st.sampled_from(["ratio", "nested", "geometry"]))
    changed = frame.copy()
    old = changed.at[row, column]
    if column == "ratio":  # -0.0 is another value than 0.0 (see gridsvc.city.digest)
        new: object = {"0.0": -0.0, "-0.0": 0.0, "0.5": 0.0}[str(old)]
    elif column == "nested":
        new = [3.0] if old is None else None
    else:
        new = shapely.affinity.translate(old, xoff=1e-7)
    changed.at[row, column] = new
    assert frames_digest({"rows": changed}, SETTINGS) != base


def test_digest_tells_minus_zero_from_zero_but_not_one_nan_from_another() -> None:
    """-0.0 is a value of its own (it prints, and is written back, as -0.0); NaNs differing
    only in payload bits are one value to pandas and numpy. Either way, in any order."""

    def digest(ratio: list[float], arrow: bool = False) -> str:
        dtype = pd.ArrowDtype(pa.float64()) if arrow else "float64"
        frame = gpd.GeoDataFrame(
            {"ratio": pd.Series(pa.array(ratio) if arrow else ratio, dtype=dtype)},
            geometry=[shapely.Point(112.9, 35.8)] * len(ratio),
            crs="EPSG:4326",
        )
        return frames_digest({"rows": frame}, SETTINGS)

    assert digest([0.0, -0.0, 0.5]) == digest([-0.0, 0.5, 0.0]) == digest([0.5, 0.0, -0.0])
    assert digest([0.0, -0.0]) != digest([0.0, 0.0]) != digest([-0.0, -0.0])
    nans = digest([math.nan, _NAN, 1.0], arrow=True)
    assert nans == digest([_NAN, 1.0, math.nan], arrow=True) == digest([_NAN] * 2 + [1.0], True)
    assert nans != digest([math.nan, 1.0, 1.0], arrow=True)


def test_digest_of_rows_differing_only_in_a_list_ignores_their_order() -> None:
    frame = gpd.GeoDataFrame(
        {"nested": [[1], [2, 3], None, [], [1]]},
        geometry=[shapely.LineString([(0, 0), (1, 0)])] * 5,
        crs="EPSG:4326",
    )
    base = frames_digest({"barriers": frame}, SETTINGS)
    for order in ([4, 3, 2, 1, 0], [2, 0, 3, 1, 4], [1, 2, 3, 4, 0]):
        assert frames_digest({"barriers": frame.iloc[order]}, SETTINGS) == base
    changed = frame.copy()
    changed.at[4, "nested"] = [2, 3]  # the same lists, one [1] now a second [2, 3]
    assert frames_digest({"barriers": changed}, SETTINGS) != base


def test_digest_takes_a_half_float_column_in_any_order() -> None:
    """Arrow sorts no half floats (``float16``): the digest sorts them as the float32 they widen
    to exactly, and still hashes their own two bytes and type."""

    def digest(ratio: list[float], dtype: str = "float16") -> str:
        frame = gpd.GeoDataFrame(
            {"ratio": pd.Series(ratio, dtype=dtype)},
            geometry=[shapely.Point(112.9, 35.8)] * len(ratio),
            crs="EPSG:4326",
        )
        return frames_digest({"rows": frame}, SETTINGS)

    rows = [0.5, -0.0, 0.0, math.nan, 1.5, 0.5]
    base = digest(rows)
    assert digest(rows[::-1]) == digest(rows[2:] + rows[:2]) == base
    assert digest([1.5, -0.0, 0.0, math.nan, 1.5, 0.5]) != base
    assert digest([0.5, 0.0, 0.0, math.nan, 1.5, 0.5]) != base
    assert digest(rows, "float32") != base
