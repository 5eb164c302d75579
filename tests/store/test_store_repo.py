"""Repository functions over SpatiaLite and PostGIS: upsert, read, filters, delete, lookups.

The tiny community used here (lon/lat, two communities side by side)::

    30.02 +---------+---------+
          |  A  h1  |  B  h3  |     A = 420111001001 (Polygon)
          |    h2   |         |     B = 420111001002 (MultiPolygon: this box + one far east)
    30.00 +---------+---------+
        114.00    114.01    114.02
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.errors import StoreError
from gridsvc.store import (
    UpsertCounts,
    communities_containing,
    count,
    delete,
    read,
    session_scope,
    snapshot,
    upsert,
)
from gridsvc.store.repo import layer_names, read_page

A, B = "420111001001", "420111001002"
WGS84 = "EPSG:4326"


def communities() -> gpd.GeoDataFrame:
    a = box(114.00, 30.00, 114.01, 30.02)
    b = MultiPolygon([box(114.01, 30.00, 114.02, 30.02), box(114.05, 30.00, 114.06, 30.01)])
    frame = gpd.GeoDataFrame(
        {"code": [B, A], "name": ["东园社区", "西园社区"]}, geometry=[b, a], crs=WGS84
    )
    return frames.conform("communities", frame)


def households() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "id": ["h3", "h1", "h2"],
            "community_code": [B, A, A],
            "building_id": ["b2", "b1", "b1"],
            "unit": [1, 1, None],
            "floor": [3, 1, 2],
            "size": [2, 3, 1],
            "care_tags": ["elderly_alone", "", "left_behind_child;disabled"],
        },
        geometry=[Point(114.015, 30.01), Point(114.003, 30.015), Point(114.006, 30.005)],
        crs=WGS84,
    )
    return frames.conform("households", frame)


def layer_grids() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "layer": ["police", "police", "party"],
            "department": ["公安", "公安", "党建"],
            "policy": ["hard", "hard", "soft"],
            "grid_id": ["P1", "P2", "D1"],
            "name": ["警格一", "警格二", "党建一"],
        },
        geometry=[
            box(114.00, 30.00, 114.01, 30.02),
            box(114.01, 30.00, 114.02, 30.02),
            box(114.00, 30.00, 114.02, 30.02),
        ],
        crs=WGS84,
    )
    return frames.conform("layer_grids", frame)


def grids() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "code": [A + "001", A + "002", A + "00101"],
            "community_code": [A, A, A],
            "level": [1, 1, 2],
            "parent_code": [None, None, A + "001"],
            "households": [40, 35, 12],
            "floor_lo": [None, None, 1],
            "floor_hi": [None, None, 4],
        },
        geometry=[
            box(114.00, 30.00, 114.01, 30.01),
            box(114.00, 30.01, 114.01, 30.02),
            box(114.00, 30.00, 114.005, 30.01),
        ],
        crs=WGS84,
    )
    return frames.conform("grids", frame)


def workers() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "id": ["w1", "w2"],
            "name": ["张三", "李四"],
            "roles": ["grid_leader", "police_grid_leader;volunteer"],
            "party_member": [True, False],
            "hours": [40.0, 8.5],
        },
        geometry=[Point(114.004, 30.004), None],
        crs=WGS84,
    )
    return frames.conform("workers", frame)


SAMPLES = {
    "communities": communities,
    "households": households,
    "layer_grids": layer_grids,
    "grids": grids,
    "workers": workers,
}


def assert_same(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, key: list[str]) -> None:
    """Assert equal attributes and byte-identical geometries (type and coordinates)."""
    want = want.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
    )
    assert got.crs == want.crs
    assert list(got.geometry.geom_type) == list(want.geometry.geom_type)
    assert (
        shapely.to_wkb(got.geometry.values).tolist()
        == shapely.to_wkb(want.geometry.values).tolist()
    )


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_round_trips(store: Engine, kind: str) -> None:
    sample = SAMPLES[kind]()
    with session_scope(store) as session:
        assert upsert(session, kind, sample) == UpsertCounts(inserted=len(sample), updated=0)
    with session_scope(store) as session:
        got = read(session, kind)
    assert_same(got, sample, list(frames.kind(kind).key))


def test_upsert_twice_updates_without_duplicates(store: Engine) -> None:
    with session_scope(store) as session:
        upsert(session, "households", households())
    changed = households()
    changed.loc[changed["id"] == "h1", "size"] = 5
    changed.loc[changed["id"] == "h1", "geometry"] = Point(114.0031, 30.0151)
    extra = frames.conform(
        "households",
        gpd.GeoDataFrame({"id": ["h4"]}, geometry=[Point(114.001, 30.001)], crs=WGS84),
    )
    with session_scope(store) as session:
        counts = upsert(session, "households", pd.concat([changed, extra], ignore_index=True))
    assert counts == UpsertCounts(inserted=1, updated=3)
    with session_scope(store) as session:
        got = read(session, "households")
        assert count(session, "households") == 4
    assert got["id"].tolist() == ["h1", "h2", "h3", "h4"]
    assert got.loc[0, "size"] == 5
    assert got.geometry[0].equals_exact(Point(114.0031, 30.0151), tolerance=0)


def test_repeated_key_in_one_frame_keeps_last(store: Engine) -> None:
    frame = pd.concat([households(), households().assign(size=9)], ignore_index=True)
    with session_scope(store) as session:
        assert upsert(session, "households", frame) == UpsertCounts(inserted=3, updated=0)
        assert read(session, "households")["size"].tolist() == [9, 9, 9]


def test_upsert_reprojects_to_wgs84(store: Engine) -> None:
    utm = communities().to_crs("EPSG:32650")
    with session_scope(store) as session:
        upsert(session, "communities", utm)
        got = read(session, "communities")
    assert got.crs == WGS84
    want = communities().sort_values("code").reset_index(drop=True)
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=1e-9).all()


def test_layers_derive_from_layer_grids(store: Engine) -> None:
    with session_scope(store) as session:
        upsert(session, "layer_grids", layer_grids())
        assert count(session, "layers") == 2
        upsert(session, "layer_grids", layer_grids().assign(department="派出所"))
        police = read(session, "layer_grids", layer="police")
        assert count(session, "layers") == 2
    assert police["grid_id"].tolist() == ["P1", "P2"]
    assert set(police["department"]) == {"派出所"}


def _filled(store: Engine) -> None:
    with session_scope(store) as session:
        for kind, sample in SAMPLES.items():
            upsert(session, kind, sample())


def test_read_filters_by_community(store: Engine) -> None:
    _filled(store)
    with session_scope(store) as session:
        assert read(session, "households", community=A)["id"].tolist() == ["h1", "h2"]
        assert read(session, "communities", community=B)["code"].tolist() == [B]
        assert read(session, "grids", community=B).empty
        with pytest.raises(ValueError, match="workers cannot be filtered by community"):
            read(session, "workers", community=A)


@pytest.mark.parametrize(
    ("bbox", "codes"),
    [
        ((114.001, 30.001, 114.002, 30.002), [A]),
        ((114.009, 30.0, 114.011, 30.001), [A, B]),
        ((114.055, 30.005, 114.056, 30.006), [B]),  # only B's far-east part
        ((114.03, 30.0, 114.04, 30.02), []),  # the gap between B's parts
        ((113.0, 29.0, 113.5, 29.5), []),
    ],
)
def test_read_filters_by_bbox(store: Engine, bbox: tuple, codes: list[str]) -> None:
    _filled(store)
    with session_scope(store) as session:
        assert read(session, "communities", bbox=bbox)["code"].tolist() == codes


def test_read_filters_combine(store: Engine) -> None:
    _filled(store)
    with session_scope(store) as session:
        west = (114.0, 30.0, 114.009, 30.02)
        assert read(session, "households", community=A, bbox=west)["id"].tolist() == ["h1", "h2"]
        assert read(session, "households", community=B, bbox=west).empty
        assert read(session, "layer_grids", layer="party", bbox=west)["grid_id"].tolist() == ["D1"]
        assert read(session, "grids", level=2)["code"].tolist() == [A + "00101"]
        assert read(session, "grids", level=1, community=A)["code"].tolist() == [
            A + "001",
            A + "002",
        ]
        with pytest.raises(ValueError, match="only grids can be filtered by level"):
            read(session, "households", level=1)
        with pytest.raises(ValueError, match="only layer_grids can be filtered by layer"):
            read(session, "grids", layer="police")


def _matching(session: Session, kind: str, filters: dict) -> gpd.GeoDataFrame:
    """Return what :func:`read_page` pages through: :func:`read` with ``filters``."""
    level = filters.get("min_level")
    everything = read(session, kind, **{k: v for k, v in filters.items() if k != "min_level"})
    if level is not None:
        everything = everything[everything["level"] >= level].reset_index(drop=True)
    return everything


@pytest.mark.parametrize(
    ("kind", "filters"),
    [
        ("layer_grids", {}),
        ("layer_grids", {"layer": "police"}),
        ("grids", {"min_level": 2}),
        ("grids", {"level": 1, "bbox": (114.0, 30.0, 114.01, 30.005)}),
        ("households", {}),
    ],
)
def test_read_page_is_a_slice_of_read(store: Engine, kind: str, filters: dict) -> None:
    _filled(store)
    key = list(frames.kind(kind).key)
    with session_scope(store) as session:
        everything = _matching(session, kind, filters)
        assert not everything.empty
        assert count(session, kind, **filters) == len(everything)
        for offset in range(len(everything) + 1):
            page = read_page(session, kind, limit=2, offset=offset, **filters)
            want = everything.iloc[offset : offset + 2].reset_index(drop=True)
            assert_same(page, want, key)
            assert page[key].values.tolist() == want[key].values.tolist()  # same order


@pytest.mark.parametrize(
    ("kind", "filters"),
    [
        ("layer_grids", {}),
        ("layer_grids", {"layer": "police"}),
        ("grids", {}),
        ("households", {}),
    ],
)
def test_read_page_after_a_key_is_the_slice_past_it(
    store: Engine, kind: str, filters: dict
) -> None:
    """``after`` (a page's last key, composite for layer grids) starts the next page: the
    rows of :func:`read` past it, whether or not that key is still stored."""
    _filled(store)
    key = list(frames.kind(kind).key)
    with session_scope(store) as session:
        everything = _matching(session, kind, filters)
        assert len(everything) >= 2
        for i in range(len(everything)):
            last = tuple(everything[key].iloc[i])
            page = read_page(session, kind, limit=2, after=last, **filters)
            want = everything.iloc[i + 1 : i + 3].reset_index(drop=True)
            assert page[key].values.tolist() == want[key].values.tolist()
            assert_same(page, want, key)
        first = tuple(everything[key].iloc[0])
        _delete_one(session, kind, key, first)
        page = read_page(session, kind, limit=2, after=first, **filters)
        assert page[key].values.tolist() == everything[key].iloc[1:3].values.tolist()
        with pytest.raises(ValueError, match=f"{kind} has a key of {len(key)} columns, not 3"):
            read_page(session, kind, limit=2, after=("a", "b", "c"))


def _lattice() -> gpd.GeoDataFrame:
    """Base grids on a 5 x 5 lattice of 0.01° cells: squares and triangles (a triangle's box
    can meet a bbox that the triangle itself misses)."""
    geoms, codes = [], []
    for i in range(5):
        for j in range(5):
            x, y = 114.0 + i * 0.01, 30.0 + j * 0.01
            square = box(x, y, x + 0.01, y + 0.01)
            geoms.append(square if (i + j) % 2 else Polygon([(x, y), (x + 0.01, y), (x, y + 0.01)]))
            codes.append(f"{A}{len(codes) + 1:03d}")
    frame = gpd.GeoDataFrame(
        {"code": codes, "community_code": A, "level": 1}, geometry=geoms, crs=WGS84
    )
    return frames.conform("grids", frame)


edge = st.integers(0, 50).map(lambda k: 114.0 + k * 0.001)
north = st.integers(0, 50).map(lambda k: 30.0 + k * 0.001)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(xs=st.tuples(edge, edge), ys=st.tuples(north, north))
def test_count_in_a_bbox_is_the_rows_intersecting_it(
    store: Engine, xs: tuple[float, float], ys: tuple[float, float]
) -> None:
    """:func:`count` with a bbox (PostGIS: boxes inside it counted without the exact test)
    equals the rows :func:`read` returns for it and shapely's intersects, on edges and corners
    too."""
    lattice = _lattice()
    bbox = (min(xs), min(ys), max(xs), max(ys))
    with session_scope(store) as session:
        if count(session, "grids") == 0:
            upsert(session, "grids", lattice)
    with session_scope(store) as session:
        want = int(shapely.intersects(lattice.geometry.values, box(*bbox)).sum())
        assert count(session, "grids", bbox=bbox, level=1) == want
        assert len(read(session, "grids", bbox=bbox)) == want


def test_count_in_a_bbox_leaves_out_a_grid_just_outside_it(store: Engine) -> None:
    """A narrow grid 0.1 m east of the bbox (within a float32 step of its edge, the precision
    of PostGIS's stored boxes) does not intersect it: :func:`count` agrees with :func:`read`."""
    lattice = _lattice().iloc[:1]
    sliver = box(114.0000004, 30.004, 114.0000008, 30.006)
    grids = frames.conform("grids", lattice.assign(geometry=[sliver]))
    bbox = (114.0, 30.0, 114.0000003, 30.01)
    with session_scope(store) as session:
        upsert(session, "grids", grids)
    with session_scope(store) as session:
        assert len(read(session, "grids", bbox=bbox)) == 0
        assert count(session, "grids", bbox=bbox, level=1) == 0
        assert count(session, "grids", bbox=(114.0, 30.0, 114.0000009, 30.01), level=1) == 1


def _delete_one(session: Session, kind: str, key: list[str], values: tuple) -> None:
    """Delete the row of ``kind`` with key ``values``."""
    where = " AND ".join(f"{k} = :{k}" for k in key)
    session.execute(text(f"DELETE FROM {kind} WHERE {where}"), dict(zip(key, values, strict=True)))


def test_layer_names_are_the_stored_layers_sorted(store: Engine) -> None:
    with session_scope(store) as session:
        assert layer_names(session) == []
    _filled(store)
    with session_scope(store) as session:
        assert layer_names(session) == ["party", "police"]
        delete(session, "layer_grids", layer="party")
        assert layer_names(session) == ["police"]


def test_read_empty_store_gives_conformed_empty_frames(store: Engine) -> None:
    with session_scope(store) as session:
        for kind in frames.KINDS:
            got = read(session, kind)
            assert got.empty
            assert list(got.columns) == [*frames.kind(kind).column_names, "geometry"]
            assert got.crs == WGS84


def test_delete_by_filter(store: Engine) -> None:
    _filled(store)
    with session_scope(store) as session:
        assert delete(session, "grids", level=2) == 1
        assert delete(session, "households", community=B) == 1
        assert delete(session, "layer_grids", layer="party") == 1
        counts = snapshot(session)
    assert counts == {
        "buildings": 0,
        "communities": 2,
        "grids": 2,
        "households": 2,
        "layer_grids": 2,
        "layers": 1,
        "workers": 2,
    }
    with session_scope(store) as session:
        assert delete(session, "communities") == 2
        assert count(session, "communities") == 0


def test_communities_containing(store: Engine) -> None:
    _filled(store)
    points = gpd.GeoSeries(
        [
            Point(114.005, 30.01),  # inside A
            Point(114.055, 30.005),  # inside B's far part
            Point(114.01, 30.01),  # on the A|B border: smaller code
            Point(114.03, 30.01),  # between B's parts
            None,
        ],
        index=[10, 11, 12, 13, 14],
        crs=WGS84,
    )
    with session_scope(store) as session:
        got = communities_containing(session, points)
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    assert got.tolist()[:3] == [A, B, A]
    assert got.isna().tolist() == [False, False, False, True, True]


def test_unknown_kind_is_named(store: Engine) -> None:
    with session_scope(store) as session, pytest.raises(ValueError, match="unknown kind 'gird'"):
        count(session, "gird")


coordinate = st.floats(min_value=-179.0, max_value=179.0, allow_nan=False)
latitude = st.floats(min_value=-89.0, max_value=89.0, allow_nan=False)
size = st.floats(min_value=1e-9, max_value=0.5, allow_nan=False)


@st.composite
def polygons(draw: st.DrawFn) -> Polygon:
    x, y, w, h = draw(coordinate), draw(latitude), draw(size), draw(size)
    return Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])


areas = st.one_of(
    polygons(),
    st.lists(polygons(), min_size=1, max_size=3).map(MultiPolygon),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(geoms=st.lists(areas, min_size=1, max_size=4), point=st.tuples(coordinate, latitude))
def test_geometries_round_trip_exactly(
    store: Engine, geoms: list[Polygon | MultiPolygon], point: tuple[float, float]
) -> None:
    codes = [f"4201110010{i:02d}" for i in range(len(geoms))]
    comms = frames.conform(
        "communities", gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=WGS84)
    )
    homes = frames.conform(
        "households", gpd.GeoDataFrame({"id": ["h"]}, geometry=[Point(point)], crs=WGS84)
    )
    with session_scope(store) as session:
        delete(session, "communities")
        delete(session, "households")
        upsert(session, "communities", comms)
        upsert(session, "households", homes)
    with session_scope(store) as session:
        assert_same(read(session, "communities"), comms, ["code"])
        assert_same(read(session, "households"), homes, ["id"])


def test_rows_without_key_are_refused(store: Engine) -> None:
    frame = households()
    frame.loc[1, "id"] = None
    with (
        pytest.raises(StoreError, match=r"households: 1 rows lack a key \(id\), e.g. rows 1"),
        session_scope(store) as session,
    ):
        upsert(session, "households", frame)
    with session_scope(store) as session:
        assert count(session, "households") == 0
