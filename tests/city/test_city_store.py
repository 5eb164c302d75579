"""The store side of city runs: migration 0004c, COPY writes, one transaction per community."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from alembic import command
from sqlalchemy import Engine, inspect

from gridsvc import frames
from gridsvc.errors import StoreError
from gridsvc.store import count, read, session_scope
from gridsvc.store.bulk import copy_text, replace_community, replace_rows
from gridsvc.store.engine import alembic_config, migrate
from gridsvc.store.runs import DONE, FAILED, RunRecord, read_runs, record_run, run_of
from gridsvc.synth import CommunityData, generate_city


@pytest.fixture(scope="module")
def two() -> CommunityData:
    """Two small communities' households and buildings (generated once)."""
    return generate_city(seed=2, households=300, sizes=(100, 250))


def test_0004c_adds_community_runs_and_downgrades_to_0003(store: Engine) -> None:
    assert "community_runs" in inspect(store).get_table_names()
    config = alembic_config()
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    assert "community_runs" not in inspect(store).get_table_names()
    assert "assignments" in inspect(store).get_table_names()
    migrate(store)
    assert "community_runs" in inspect(store).get_table_names()


def test_run_record_is_replaced_not_repeated(store: Engine) -> None:
    with session_scope(store) as session:
        record_run(session, RunRecord("140802001001", "a" * 64, FAILED, "boom"))
        record_run(session, RunRecord("140802001001", "b" * 64, DONE, None, 120, 3, 1.5))
    with session_scope(store) as session:
        assert run_of(session, "140802001001") == RunRecord(
            "140802001001", "b" * 64, DONE, None, 120, 3, 1.5
        )
        assert len(read_runs(session)) == 1


def test_replace_rows_round_trips_and_replaces(store: Engine, two: CommunityData) -> None:
    code = str(two.community["code"].iloc[0])
    mine = two.households[two.households["community_code"] == code]
    with session_scope(store) as session:
        assert replace_rows(session, "households", code, mine) == len(mine)
        assert replace_rows(session, "households", code, mine.iloc[:10]) == 10
    with session_scope(store) as session:
        back = read(session, "households", community=code)
    assert list(back["id"]) == sorted(mine["id"].iloc[:10])
    assert back.geometry.geom_equals_exact(
        mine.set_index("id").loc[back["id"]].geometry.reset_index(drop=True), 1e-12
    ).all()


def test_a_failure_mid_community_leaves_nothing_of_it(store: Engine, two: CommunityData) -> None:
    first, second = (str(c) for c in two.community["code"])
    mine = two.households[two.households["community_code"] == first]
    theirs = two.buildings[two.buildings["community_code"] == second]
    with (
        pytest.raises(
            StoreError,
            match=rf"buildings of community {first}: \d+ rows belong to "
            rf"community {second}; write each community on its own",
        ),  # fmt: skip
        session_scope(store) as session,
    ):
        replace_rows(session, "households", first, mine)
        replace_rows(session, "buildings", first, theirs)
    with session_scope(store) as session:
        assert count(session, "households") == 0 and count(session, "buildings") == 0


def test_replace_community_swaps_every_kind_or_nothing(store: Engine, two: CommunityData) -> None:
    """Households, buildings and grids of a community replaced together (one delete of all on
    PostGIS); a frame with a row of another community refuses the whole call before anything
    is deleted, and the other community is never touched."""
    first, second = (str(c) for c in two.community["code"])
    homes, blds = two.households, two.buildings
    mine = {
        "households": homes[homes["community_code"] == first],
        "buildings": blds[blds["community_code"] == first],
    }
    with session_scope(store) as session:
        replace_community(session, second, {"households": homes[homes["community_code"] == second]})
        assert replace_community(session, first, mine) == {k: len(v) for k, v in mine.items()}
    fewer = {k: v.iloc[:5] for k, v in mine.items()}
    with session_scope(store) as session:
        assert replace_community(session, first, fewer) == {k: len(v) for k, v in fewer.items()}
    wrong = {**mine, "buildings": blds[blds["community_code"] == second]}
    with (
        pytest.raises(StoreError, match=rf"buildings of community {first}: \d+ rows belong"),
        session_scope(store) as session,
    ):
        replace_community(session, first, wrong)
    with session_scope(store) as session:
        assert sorted(read(session, "households", community=first)["id"]) == sorted(
            fewer["households"]["id"]
        )
        assert len(read(session, "buildings", community=first)) == len(fewer["buildings"])
        theirs = read(session, "households", community=second)
        assert len(theirs) == (homes["community_code"] == second).sum()


def test_copy_round_trips_escapes_nulls_and_every_column(store: Engine, two: CommunityData) -> None:
    """The COPY text built column by column stores each value as given: tabs, newlines,
    backslashes, carriage returns and CJK text in strings, missing values as NULL (defaults
    filled as ``conform`` fills them), integers, and each point exactly."""
    code = str(two.community["code"].iloc[0])
    mine = two.households[two.households["community_code"] == code].reset_index(drop=True)
    mine = mine.iloc[:6].copy()
    mine["room"] = ["a\tb", "line\nbreak", "back\\slash", "cr\rhere", "独居 老人", None]
    mine["phone"] = ["\\N", None, "13800000000", "", "tab\t", "\\."]
    mine["unit"] = pd.array([1, None, 3, None, 5, 6], dtype="Int64")
    with session_scope(store) as session:
        assert replace_rows(session, "households", code, mine) == 6
    with session_scope(store) as session:
        back = read(session, "households", community=code)
    expected = frames.conform("households", mine).sort_values("id").reset_index(drop=True)
    assert back.drop(columns="geometry").equals(expected.drop(columns="geometry"))
    assert back.geometry.geom_equals_exact(expected.geometry, 0).all()


def test_copy_text_geometry_is_shapely_hex_ewkb_with_srid_4326() -> None:
    """The EWKB spliced byte by byte is what shapely writes with ``include_srid``, for every
    geometry type (multi-part and with holes too); missing and empty geometries are NULL."""
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2)]])
    geoms = [
        shapely.Point(112.9, 35.8), None, holed, shapely.Polygon(),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
        shapely.LineString([(0, 0), (1, 1)]), shapely.Point(1, 2),
    ]  # fmt: skip
    ids = pd.Series([f"g{i}" for i in range(len(geoms))], dtype="string")
    # the text in two Arrow chunks, as after concatenating frames (grids of every level)
    ids = pd.concat([ids.iloc[:3], ids.iloc[3:]], ignore_index=True)
    assert pa.array(ids).num_chunks == 2
    frame = gpd.GeoDataFrame({"id": ids}, geometry=geoms)
    lines = copy_text(frame, ["id"]).decode().splitlines()
    expected = [
        "\\N" if g is None or g.is_empty
        else shapely.to_wkb(shapely.set_srid(g, 4326), hex=True, include_srid=True)
        for g in geoms
    ]  # fmt: skip
    assert [line.split("\t") for line in lines] == [[f"g{i}", e] for i, e in enumerate(expected)]
    assert copy_text(frame.iloc[:0], ["id"]) == b""
