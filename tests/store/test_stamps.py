"""Change stamps (migration 0005_s9): every committed write to a community's grids, households
or assignments moves its stamp, through any write path, on SpatiaLite and PostGIS; a rolled
back write and a write elsewhere do not."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from gridsvc import frames
from gridsvc.store import make_engine, migrate, repo, session_scope
from gridsvc.store.assignments import replace_assignments
from gridsvc.store.bulk import replace_community, write_rows
from gridsvc.store.stamps import read_stamps

A, B, C = "420111001001", "420111001002", "420111001003"


def _stamps(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return dict(read_stamps(session, [A, B, C]))


def _households(ids: list[str], community: str, tag: str = "") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"id": ids, "community_code": [community] * len(ids), "care_tags": [tag] * len(ids)},
        geometry=[Point(114.001 + i / 1e4, 30.001) for i in range(len(ids))],
        crs="EPSG:4326",
    )
    return frames.conform("households", frame)


def _grid(code: str, community: str, residents: int = 0) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"code": [code], "community_code": [community], "residents": [residents]},
        geometry=[box(114.0, 30.0, 114.01, 30.01)],
        crs="EPSG:4326",
    )
    return frames.conform("grids", frame)


def _moved(before: dict[str, int], after: dict[str, int]) -> set[str]:
    assert all(after[c] >= before[c] for c in before), (before, after)  # never go back
    return {c for c in before if after[c] != before[c]}


def test_a_store_starts_with_every_stamp_at_zero(store: Engine) -> None:
    assert _stamps(store) == {A: 0, B: 0, C: 0}
    with session_scope(store) as session:
        assert read_stamps(session, []) == ()


def test_every_write_path_moves_the_stamp_of_its_community_only(store: Engine) -> None:
    writes = [
        ("upsert households", lambda s: repo.upsert(s, "households", _households(["h1"], A))),
        ("update a household", lambda s: repo.upsert(s, "households", _households(["h1"], A, "x"))),
        ("bulk write", lambda s: write_rows(s, "households", _households(["h2", "h3"], B))),
        ("upsert a grid", lambda s: repo.upsert(s, "grids", _grid(f"{A}001", A))),
        ("update a grid", lambda s: repo.upsert(s, "grids", _grid(f"{A}001", A, residents=9))),
        ("delete grids", lambda s: repo.delete(s, "grids", community=A)),
        (  # the city run's write: one delete of all kinds (PostGIS), then the COPYs
            "replace a community",
            lambda s: replace_community(
                s, B, {"households": _households(["h4"], B), "grids": _grid(f"{B}001", B)}
            ),
        ),
        (  # nothing new: only the deletes of households and grids move the stamp
            "empty a community",
            lambda s: replace_community(
                s, B, {"households": _households([], B), "grids": _grid(f"{B}001", B).iloc[:0]}
            ),
        ),
        (
            "staffing",
            lambda s: replace_assignments(
                s, C, pd.DataFrame({"grid_code": [f"{C}001"], "worker_id": ["W"], "role": ["r"]})
            ),
        ),
    ]
    expected = [{A}, {A}, {B}, {A}, {A}, {A}, {B}, {B}, {C}]
    for (name, write), want in zip(writes, expected, strict=True):
        before = _stamps(store)
        with session_scope(store) as session:
            write(session)
        assert _moved(before, _stamps(store)) == want, name


def test_moving_a_row_between_communities_moves_both_stamps(store: Engine) -> None:
    with session_scope(store) as session:
        repo.upsert(session, "households", _households(["h1"], A))
    before = _stamps(store)
    with session_scope(store) as session:
        session.execute(text("UPDATE households SET community_code = :b"), {"b": B})
    assert _moved(before, _stamps(store)) == {A, B}


def test_a_rolled_back_write_leaves_the_stamps(store: Engine) -> None:
    before = _stamps(store)
    with pytest.raises(RuntimeError), session_scope(store) as session:
        repo.upsert(session, "households", _households(["h1"], A))
        raise RuntimeError("abort")
    assert _stamps(store) == before


def test_a_store_upgraded_with_rows_gets_stamps_that_a_truncate_moves(store_url: str) -> None:
    """Rows written before the stamps existed (revision 0005_dup_locks) get a stamp on upgrade,
    so emptying the table afterwards moves it (TRUNCATE on PostGIS, DELETE on SpatiaLite)."""
    engine = make_engine(store_url)
    try:
        migrate(engine, revision="0005_dup_locks")
        with session_scope(engine) as session:
            repo.upsert(session, "households", _households(["h1"], A))
        migrate(engine)
        seeded = _stamps(engine)
        assert seeded == {A: 1, B: 0, C: 0}
        empty = "TRUNCATE households" if engine.dialect.name == "postgresql" else None
        with session_scope(engine) as session:
            session.execute(text(empty or "DELETE FROM households"))
        assert _moved(seeded, _stamps(engine)) == {A}
    finally:
        engine.dispose()
