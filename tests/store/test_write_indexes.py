"""Migration 0008: the indexes a city run keeps up (no households.building_id index; SP-GiST
households and buildings on PostGIS), and the bbox reads and counts they serve, on SpatiaLite
and PostGIS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from alembic import command
from sqlalchemy import Engine, inspect, text

from gridsvc.store import count, read, session_scope
from gridsvc.store.bulk import write_rows
from gridsvc.store.engine import alembic_config, migrate

CODE = "420111001001"


def _spatial_method(store: Engine, table: str) -> str:
    with store.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am am ON am.oid = c.relam WHERE c.relname = :name"
                ),
                {"name": f"idx_{table}_geom"},
            ).scalar_one()
        )


def _indexes(store: Engine, table: str) -> set[str]:
    return {i["name"] for i in inspect(store).get_indexes(table) if i["name"]}


def test_0008_drops_the_building_index_and_downgrades(store: Engine) -> None:
    assert "ix_households_building_id" not in _indexes(store, "households")
    assert "ix_grids_level" in _indexes(store, "grids")  # OGC counts by level read it
    postgis = store.dialect.name == "postgresql"
    if postgis:
        assert _spatial_method(store, "households") == "spgist"
        assert _spatial_method(store, "buildings") == "spgist"
        assert _spatial_method(store, "grids") == "gist"
    config = alembic_config()
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007_serve_job_owner")
    assert "ix_households_building_id" in _indexes(store, "households")
    if postgis:
        assert _spatial_method(store, "households") == "gist"
        assert _spatial_method(store, "buildings") == "gist"
    migrate(store)
    assert "ix_households_building_id" not in _indexes(store, "households")
    if postgis:
        assert _spatial_method(store, "households") == "spgist"


def _points(seed: int) -> gpd.GeoDataFrame:
    """400 households on a 0.01° square, a quarter of them on a 0.001° lattice (so some lie
    exactly on the edges and corners of the lattice-aligned bboxes below)."""
    rng = np.random.default_rng(seed)
    steps = np.vstack([rng.random((300, 2)) * 10, rng.integers(0, 11, (100, 2))]) * 0.001
    xy = np.array([114.0, 30.0]) + steps
    return gpd.GeoDataFrame(
        {"id": [f"h{i:03d}" for i in range(400)], "community_code": CODE},
        geometry=shapely.points(xy),
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_bbox_reads_and_counts_of_households_and_buildings_are_those_intersecting(
    store: Engine, seed: int
) -> None:
    """Under the SP-GiST indexes (PostGIS) as under the R*Trees (SpatiaLite): every bbox — on
    the lattice, so points and building edges lie on its edges; thin; degenerate to a line or a
    point; the whole square — reads and counts exactly the households and buildings shapely
    says intersect it."""
    homes = _points(seed)
    sites = gpd.GeoDataFrame(  # buildings: small boxes around some of the points
        {"id": homes["id"].str.replace("h", "b").iloc[::4], "community_code": CODE},
        geometry=shapely.buffer(homes.geometry.values[::4], 0.0003, cap_style="square"),
        crs="EPSG:4326",
    ).reset_index(drop=True)
    with session_scope(store) as session:
        write_rows(session, "households", homes)
        write_rows(session, "buildings", sites)
    rng = np.random.default_rng(seed + 10)
    boxes = [(114.002, 30.003, 114.007, 30.004), (114.0, 30.0, 114.01, 30.01),
             (114.003, 30.0, 114.003, 30.01), (114.004, 30.005, 114.004, 30.005)]  # fmt: skip
    for _ in range(12):
        x, y = (
            np.sort(114.0 + rng.integers(0, 11, 2) * 0.001),
            np.sort(30.0 + rng.integers(0, 11, 2) * 0.001),
        )
        boxes.append((x[0], y[0], x[1], y[1]))
    with session_scope(store) as session:
        for bbox in boxes:
            frame = shapely.box(*bbox) if bbox[0] < bbox[2] and bbox[1] < bbox[3] else None
            if frame is None:
                frame = shapely.linestrings([bbox[:2], bbox[2:]]) if bbox[:2] != bbox[2:] else (
                    shapely.points(*bbox[:2]))  # fmt: skip
            for kind, rows in (("households", homes), ("buildings", sites)):
                want = sorted(rows["id"][shapely.intersects(rows.geometry.values, frame)])
                assert read(session, kind, bbox=bbox)["id"].tolist() == want, (kind, bbox)
                assert count(session, kind, bbox=bbox) == len(want), (kind, bbox)


def test_postgis_bbox_read_of_households_uses_the_spgist_index(store: Engine) -> None:
    if store.dialect.name != "postgresql":
        pytest.skip("PostGIS index plans")
    with session_scope(store) as session:
        write_rows(session, "households", _points(0))
    with store.connect() as conn:
        conn.execute(text("ANALYZE households"))
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT id FROM households WHERE ST_Intersects(geom, "
                    "ST_MakeEnvelope(114.002, 30.003, 114.007, 30.004, 4326))"
                )
            ).scalars()
        )
    assert "idx_households_geom" in plan and "&&" in plan, plan
