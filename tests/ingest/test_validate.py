"""validate without a store: CRS rules, swapped axes away from China, value parsing."""

from __future__ import annotations

import re
import sys

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from gridsvc import geo
from gridsvc.errors import InputError
from gridsvc.ingest import validate
from gridsvc.ingest.validate import SPACES, effective_crs


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


@pytest.mark.parametrize("storage", [object, "str"])
def test_text_is_stripped_of_python_whitespace_and_checked(storage: object) -> None:
    """Text columns (object or Arrow strings) lose the whitespace str.strip() removes — also
    U+001C..U+001F, which Unicode's White_Space and str.strip() disagree on — and blank
    optional values become missing; codes and choices are checked after stripping (a code's
    digits are ASCII: full-width ones are refused)."""
    ids = [" H1", "H2\u3000", "\x1cH3\x1f", "H4", "H5"]
    codes = ["140802001001 ", "\t140802001001", None, "1408020010", "１４０８０２００１００１"]
    cadence = ["weekly ", "", "  ", "none", "yearly"]
    frame = gpd.GeoDataFrame(
        {
            "id": pd.Series(ids, dtype=storage),
            "community_code": pd.Series(codes, dtype=storage),
            "visit_cadence": pd.Series(cadence, dtype=storage),
            "phone": pd.Series([" 1 ", "", None, "\u00a0", "2"], dtype=storage),
        },
        geometry=[Point(112.9, 35.8)] * 5,
        crs="EPSG:4326",
    )
    with pytest.raises(InputError) as caught:
        validate(frame, kind="households", source="h.parquet")
    assert [(p.feature, p.field, p.message) for p in caught.value.problems] == [
        (3, "community_code", "code '1408020010' is not a 12-digit division code"),
        (4, "community_code", "code '１４０８０２００１００１' is not a 12-digit division code"),
        (4, "visit_cadence", "unknown value 'yearly'; expected one of "
         "daily, monthly, none, weekly"),
    ]  # fmt: skip
    ok = validate(frame.iloc[:3], kind="households", source="h.parquet").frame
    assert ok["id"].tolist() == ["H1", "H2", "H3"]
    assert ok["community_code"].tolist()[:2] == ["140802001001", "140802001001"]
    assert ok["visit_cadence"].tolist() == ["weekly", "", ""]
    assert ok["phone"].isna().tolist() == [False, True, True]
    assert ok["phone"][0] == "1"


def test_spaces_are_exactly_what_str_strip_removes() -> None:
    """Arrow text is stripped with utf8_trim on SPACES: it must be Python's whitespace set."""
    python = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert python == SPACES


_PADDING = st.text(alphabet=SPACES + "x", max_size=2)
_CODES = st.one_of(
    st.text(alphabet="0123456789", min_size=11, max_size=13),
    st.text(alphabet="0123456789１٣\n", min_size=12, max_size=12),
    st.just(""),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_PADDING, _CODES, _PADDING), min_size=1, max_size=6))
def test_arrow_text_validates_like_python_text(parts: list[tuple[str, str, str]]) -> None:
    """Arrow-backed text gets exactly the problems and values str.strip() and a 12-ASCII-digit
    rule give each value (the same as an object column of the same values)."""
    codes = [a + code + b for a, code, b in parts]
    expected = [
        (i, f"code {c.strip()!r} is not a 12-digit division code")
        for i, c in enumerate(codes)
        if c.strip() and not re.fullmatch(r"[0-9]{12}", c.strip())
    ]

    def outcome(storage: object) -> tuple[list[tuple[int | None, str]], list[object]]:
        frame = gpd.GeoDataFrame(
            {
                "id": [f"H{i}" for i in range(len(codes))],
                "community_code": pd.Series(codes, dtype=storage),
            },
            geometry=[Point(112.9, 35.8)] * len(codes),
            crs="EPSG:4326",
        )
        try:
            out = validate(frame, kind="households", source="h.parquet").frame
        except InputError as exc:
            return [(p.feature, p.message) for p in exc.problems], []
        return [], [None if pd.isna(v) else v for v in out["community_code"]]

    problems, values = outcome("str")
    assert problems == expected
    if not expected:
        assert values == [c.strip() or None for c in codes]
    assert outcome(object) == (problems, values)
