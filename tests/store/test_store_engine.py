"""Opening, migrating and transactions of the store, on SpatiaLite and PostGIS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from alembic.script import ScriptDirectory
from shapely.geometry import MultiPoint, Point, box
from sqlalchemy import Engine, inspect, text

from gridsvc.config import Settings
from gridsvc.errors import StoreError
from gridsvc.store import (
    make_engine,
    migrate,
    open_store,
    read,
    session_scope,
    snapshot,
    upsert,
)
from gridsvc.store.engine import alembic_config

TABLES = {"communities", "buildings", "households", "layers", "layer_grids", "grids", "workers"}


def _communities(*codes: str) -> gpd.GeoDataFrame:
    geoms = [box(114.0 + i * 0.01, 30.0, 114.01 + i * 0.01, 30.01) for i in range(len(codes))]
    return gpd.GeoDataFrame({"code": list(codes)}, geometry=geoms, crs="EPSG:4326")


def test_migrate_creates_every_table_once(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate(engine)
    migrate(engine)  # idempotent: the second run finds the schema at head
    names = set(inspect(engine).get_table_names())
    assert names >= TABLES | {"alembic_version"}
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and head >= "0002"
    assert versions == [head]
    engine.dispose()


def test_migrate_keeps_rows(store: Engine) -> None:
    with session_scope(store) as session:
        upsert(session, "communities", _communities("420111001001"))
    migrate(store)
    with session_scope(store) as session:
        assert snapshot(session)["communities"] == 1


def test_geometry_columns_have_spatial_indexes(store: Engine) -> None:
    with store.connect() as conn:
        if store.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT f_table_name FROM geometry_columns WHERE spatial_index_enabled = 1")
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT tablename FROM pg_indexes WHERE (indexdef LIKE '%USING gist%' "
                    "OR indexdef LIKE '%USING spgist%') AND schemaname = current_schema()"
                )
            )
        indexed = {r[0] for r in rows}
    assert indexed == (TABLES - {"layers"}) | {"plan_grids", "grid_history"}


def test_open_store_migrates(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/gridsvc.sqlite")
    engine = open_store(settings)
    with session_scope(engine) as session:
        assert snapshot(session) == dict.fromkeys(sorted(TABLES), 0)
    engine.dispose()


def test_failed_transaction_leaves_store_unchanged(store: Engine) -> None:
    with session_scope(store) as session:
        upsert(session, "communities", _communities("420111001001"))
        before = snapshot(session)
    with pytest.raises(RuntimeError, match="boom"), session_scope(store) as session:
        upsert(session, "communities", _communities("420111001001", "420111001002"))
        assert snapshot(session)["communities"] == 2
        raise RuntimeError("boom")
    with session_scope(store) as session:
        assert snapshot(session) == before
        assert read(session, "communities")["code"].tolist() == ["420111001001"]


def test_database_error_mid_import_rolls_back_everything(store: Engine) -> None:
    with session_scope(store) as session:
        before = snapshot(session)
    households = gpd.GeoDataFrame(
        {"id": ["h1", "h2"]},
        geometry=[Point(114.001, 30.001), MultiPoint([(114.0, 30.0), (114.1, 30.1)])],
        crs="EPSG:4326",
    )
    with (
        pytest.raises(StoreError, match=r"cannot store households: .*(Geometry|geom)"),
        session_scope(store) as session,
    ):
        upsert(session, "communities", _communities("420111001001"))
        upsert(session, "households", households)  # a MultiPoint in a POINT column
    with session_scope(store) as session:
        assert snapshot(session) == before


def test_missing_spatialite_names_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.sqlite"
    with pytest.raises(StoreError, match=r"apt-get install libsqlite3-mod-spatialite"):
        make_engine(url, spatialite_path="no_such_spatialite_module")


def test_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"folder .*nowhere does not exist"):
        make_engine(f"sqlite:///{tmp_path}/nowhere/x.sqlite")


def test_unsupported_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"unsupported database URL 'mysql://u@h/db'"):
        make_engine("mysql://u@h/db")


def test_unreachable_postgres_is_a_store_error() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(StoreError, match=r"cannot migrate the store at postgresql\+psycopg://"):
        migrate(engine)


def test_downgrade_then_upgrade_restores_the_schema(store: Engine) -> None:
    from alembic import command

    from gridsvc.store.engine import alembic_config

    config = alembic_config()
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not set(inspect(store).get_table_names()) & TABLES
    migrate(store)
    with session_scope(store) as session:
        upsert(session, "communities", _communities("420111001001"))
        assert snapshot(session)["communities"] == 1


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_a_postgis_engine_keeps_its_connections_for_the_next_burst(store_url: str) -> None:
    """Connections returned after a burst of concurrent use are reused by the next burst, not
    closed and opened again (each new one is a server process that loads PostGIS). SQLite
    connections are files, not server processes: no SpatiaLite case."""
    engine = make_engine(store_url)
    burst = 16  # more than SQLAlchemy's default pool of 5 keeps

    def backends() -> set[int]:
        conns = [engine.connect() for _ in range(burst)]
        try:
            return {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in conns}
        finally:
            for c in conns:
                c.close()

    try:
        first = backends()
        assert len(first) == burst
        assert backends() == first
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_a_postgis_engine_runs_without_jit(store_url: str) -> None:
    """gridsvc's statements are short: PostgreSQL's JIT, triggered by PostGIS' costly spatial
    functions, spent ~190 ms compiling a bbox COUNT that ran in ~15 ms (2026-11-22)."""
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_a_postgis_url_keeps_its_own_server_options(store_url: str) -> None:
    """``options`` in the URL (a search_path, a statement timeout) still reach the server beside
    jit=off, and a ``-c jit=on`` there is the operator's to give."""
    sep = "&" if "?" in store_url else "?"
    for given, jit in (("-c%20statement_timeout%3D4321", "off"), ("-c%20jit%3Don", "on")):
        engine = make_engine(f"{store_url}{sep}options={given}")
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SHOW jit")).scalar_one() == jit
                if "timeout" in given:
                    timeout = conn.execute(text("SHOW statement_timeout")).scalar_one()
                    assert timeout == "4321ms"
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_server_options_reach_every_connection_and_the_url_wins(store_url: str) -> None:
    """``server_options`` (the city workers' asynchronous commit) are set on each connection;
    the same setting in the URL's ``options`` is the operator's and wins."""
    sep = "&" if "?" in store_url else "?"
    for url, want in (
        (store_url, "local"),
        (f"{store_url}{sep}options=-c%20synchronous_commit%3Don", "on"),
    ):
        engine = make_engine(url, server_options=("-c synchronous_commit=local",))
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == want
                assert conn.execute(text("SHOW jit")).scalar_one() == "off"
        finally:
            engine.dispose()
