"""Export formats: an independent RFC 7946 check, Shapefile field names, CSV columns, memory."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from export_rows import layer_grids, peak_bytes
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LinearRing, MultiPolygon, Point, Polygon
from sqlalchemy import Engine

from gridsvc import export, frames
from gridsvc.export import export_frame, export_kind
from gridsvc.ingest import read_any
from gridsvc.store import repo, session_scope

# A clockwise square (RFC 7946 wants counter-clockwise) with a counter-clockwise hole.
CW_WITH_HOLE = Polygon(
    [(112.90, 35.80), (112.90, 35.81), (112.91, 35.81), (112.91, 35.80)],
    [[(112.902, 35.802), (112.904, 35.802), (112.904, 35.804), (112.902, 35.804)]],
)
TWO_PARTS = MultiPolygon(
    [
        Polygon([(112.92, 35.80), (112.92, 35.801), (112.921, 35.801)]),
        Polygon([(112.93, 35.80), (112.931, 35.80), (112.931, 35.801)]),
    ]
)


def rfc7946_problems(doc: dict[str, Any]) -> list[str]:
    """Return every RFC 7946 rule ``doc`` breaks (empty when compliant)."""
    found: list[str] = []
    if "crs" in doc:
        found.append("has a crs member")
    if doc.get("type") != "FeatureCollection":
        found.append("not a FeatureCollection")
    for n, feature in enumerate(doc["features"]):
        if feature.get("type") != "Feature":
            found.append(f"feature {n}: type is not Feature")
        geometry = feature["geometry"]
        if geometry is None:
            continue
        polygons = {
            "Polygon": [geometry["coordinates"]],
            "MultiPolygon": geometry["coordinates"],
        }.get(geometry["type"], [])
        for rings in polygons:
            if not shapely.is_ccw(LinearRing(rings[0])):
                found.append(f"feature {n}: exterior ring is clockwise")
            found += [
                f"feature {n}: hole is counter-clockwise"
                for hole in rings[1:]
                if shapely.is_ccw(LinearRing(hole))
            ]
        flat = np.asarray(_numbers(geometry["coordinates"]), dtype=object).reshape(-1, 2)
        for lon, lat in flat:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                found.append(f"feature {n}: ({lon}, {lat}) out of lon/lat range")
            for v in (lon, lat):
                if len(repr(float(v)).partition(".")[2]) > 7:
                    found.append(f"feature {n}: {v!r} has more than 7 decimals")
    return found


def _numbers(coords: Any) -> list[float]:
    if isinstance(coords, (int, float)):
        return [coords]
    return [x for c in coords for x in _numbers(c)]


def test_checker_catches_violations() -> None:
    bad = {
        "type": "FeatureCollection",
        "crs": {},
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [0, 0]]]},
                "properties": {},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [181.123456789, 0]},
                "properties": {},
            },
        ],
    }
    assert rfc7946_problems(bad) == [
        "has a crs member",
        "feature 0: exterior ring is clockwise",
        "feature 1: (181.123456789, 0) out of lon/lat range",
        "feature 1: 181.123456789 has more than 7 decimals",
    ]


def test_geojson_export_is_rfc7946(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"code": ["140581100001", "140581100002"], "name": ["东城", "西城"]},
        geometry=[CW_WITH_HOLE, TWO_PARTS],
        crs="EPSG:4326",
    )
    frame = frame.set_geometry(shapely.transform(frame.geometry.values, lambda c: c + 1.23e-9))
    path = tmp_path / "c.geojson"
    export_frame(frame, path, kind="communities")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert rfc7946_problems(doc) == []
    assert [f["id"] for f in doc["features"]] == ["140581100001", "140581100002"]
    assert doc["features"][0]["properties"]["name"] == "东城"


def test_geojson_ids_of_composite_keys(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"layer": ["police", "party"], "grid_id": ["1", "1"]},
        geometry=[CW_WITH_HOLE, TWO_PARTS],
        crs="EPSG:4326",
    )
    path = tmp_path / "l.geojson"
    export_frame(frame, path, kind="layer_grids")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [f["id"] for f in doc["features"]] == ["police/1", "party/1"]
    assert rfc7946_problems(doc) == []


def test_geojson_export_reprojects_to_wgs84(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"id": ["H1"]}, geometry=[Point(112.905, 35.805)], crs="EPSG:4326")
    path = tmp_path / "h.geojson"
    export_frame(frame.to_crs("EPSG:32649"), path, kind="households")
    coords = json.loads(path.read_text(encoding="utf-8"))["features"][0]["geometry"]["coordinates"]
    assert coords == pytest.approx([112.905, 35.805], abs=1e-7)


def test_shapefile_fields_fit_ten_characters(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": ["H1"],
            "community_code": ["140581100001"],
            "building_id": ["B1"],
            "visit_cadence": ["daily"],
        },
        geometry=[Point(112.905, 35.805)],
        crs="EPSG:4326",
    )
    path = tmp_path / "h.zip"
    export_frame(frame, path, kind="households")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            f"households.{e}" for e in ("cpg", "dbf", "prj", "shp", "shx")
        ]
    fields = list(pyogrio.read_info(f"/vsizip/{path}/households.shp")["fields"])
    assert max(map(len, fields)) <= 10
    assert {"comm_code", "bldg_id", "visit_cad"} <= set(fields)
    back = read_any(path)
    assert back.loc[0, ["community_code", "building_id", "visit_cadence"]].tolist() == [
        "140581100001",
        "B1",
        "daily",
    ]


def test_csv_has_lon_lat_and_wkt(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"id": ["H1"]}, geometry=[Point(112.123456789, 35.5)], crs="EPSG:4326")
    path = tmp_path / "h.csv"
    export_frame(frame, path, kind="households")
    table = pd.read_csv(path, dtype=str)
    assert table.loc[0, ["lon", "lat", "geometry"]].tolist() == [
        "112.123456789",
        "35.5",
        "POINT (112.123456789 35.5)",
    ]


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported export format '\.kml'; use one of"):
        export_frame(frames.empty("households"), tmp_path / "h.kml", kind="households")


def _households(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(0)
    return frames.conform(
        "households",
        gpd.GeoDataFrame(
            {"id": [f"H{i}" for i in range(n)], "care_tags": ["独居老人"] * n},
            geometry=shapely.points(112.9 + rng.random(n) / 50, 35.8 + rng.random(n) / 50),
            crs="EPSG:4326",
        ),
    )


def test_geojson_streams_with_flat_memory(tmp_path: Path) -> None:
    """Writing 4× the features takes no more memory: the text is built a piece at a time."""
    peaks, sizes = [], []
    for n in (20_000, 80_000):
        frame, path = _households(n), tmp_path / f"{n}.geojson"
        tracemalloc.start()
        export_frame(frame, path, kind="households")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak)
        sizes.append(path.stat().st_size)
        assert len(json.loads(path.read_text(encoding="utf-8"))["features"]) == n
    assert sizes[1] > 20_000_000
    assert peaks[1] < 1.25 * peaks[0], f"peaks {peaks} bytes for 20,000 and 80,000 features"
    assert peaks[1] < sizes[1] / 5, f"peak {peaks[1]} bytes while writing {sizes[1]} bytes"


@pytest.mark.parametrize(
    ("kind", "make"), [("households", _households), ("layer_grids", layer_grids)]
)
def test_store_exports_read_in_chunks_equal_whole_reads(
    store: Engine, tmp_path: Path, kind: str, make: Callable[[int], gpd.GeoDataFrame]
) -> None:
    """GeoParquet and layer-grid exports from the store read ``chunk_size`` rows at a time:
    the file is what a whole read wrote, one Parquet row group per chunk, and exporting 4×
    the rows takes no more memory (a whole read holds every row as Python objects)."""
    rows = make(2_000)
    with session_scope(store) as session:
        repo.upsert(session, kind, rows)
    with session_scope(store) as session:
        whole = repo.read(session, kind)
        export_frame(whole, tmp_path / "whole.parquet", kind=kind)
        assert export_kind(session, tmp_path / "chunks.parquet", kind=kind, chunk_size=300) == 2_000
        export_kind(session, tmp_path / "chunks.geojson", kind=kind, chunk_size=300)
        export_frame(whole, tmp_path / "whole.geojson", kind=kind)
    old, new = (gpd.read_parquet(tmp_path / f"{n}.parquet") for n in ("whole", "chunks"))
    key = list(frames.kind(kind).key)
    assert_geodataframe_equal(
        old.sort_values(key).reset_index(drop=True), new.sort_values(key).reset_index(drop=True)
    )
    geo_meta = [
        json.loads(pq.read_schema(tmp_path / f"{n}.parquet").metadata[b"geo"])
        for n in ("whole", "chunks")
    ]
    assert geo_meta[0] == geo_meta[1]  # bbox and geometry types of all rows, the same CRS
    assert pq.ParquetFile(tmp_path / "chunks.parquet").num_row_groups == 7  # ⌈2,000 / 300⌉
    features = [
        json.loads((tmp_path / f"{n}.geojson").read_text(encoding="utf-8"))["features"]
        for n in ("whole", "chunks")
    ]
    assert sorted(f["id"] for f in features[1]) == sorted(f["id"] for f in features[0])
    assert len({f["id"] for f in features[1]}) == 2_000  # every layer grid once, none repeated

    with session_scope(store) as session:
        small = peak_bytes(
            lambda: export_kind(session, tmp_path / "s.parquet", kind=kind, chunk_size=500)
        )
        repo.upsert(session, kind, make(8_000))
        big = peak_bytes(
            lambda: export_kind(session, tmp_path / "b.parquet", kind=kind, chunk_size=500)
        )
        whole_peak = peak_bytes(lambda: repo.read(session, kind))
    assert len(gpd.read_parquet(tmp_path / "b.parquet")) == 8_000
    assert big < 1.5 * small, f"peaks {small} and {big} bytes for 2,000 and 8,000 rows"
    assert big < whole_peak / 2, f"chunked peak {big} bytes, whole read {whole_peak} bytes"


def test_a_chunked_geoparquet_export_writes_each_row_once(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Parquet writer the export opens gets the 2,000 rows once in all (it used to write
    them to a temporary file, then copy them under the final ``geo`` metadata)."""
    handed: list[int] = []

    class Counting(pq.ParquetWriter):  # type: ignore[misc]
        def write_table(self, table: Any, row_group_size: int | None = None) -> None:
            handed.append(table.num_rows)
            super().write_table(table, row_group_size)

    monkeypatch.setattr(export.pq, "ParquetWriter", Counting)
    out = tmp_path / "out"
    with session_scope(store) as session:
        repo.upsert(session, "layer_grids", layer_grids(2_000))
        assert export_kind(session, out / "g.parquet", kind="layer_grids", chunk_size=300)
    assert sum(handed) == 2_000 and len(handed) == 7
    assert list(out.iterdir()) == [out / "g.parquet"]  # no temporary copy left
    assert len(gpd.read_parquet(out / "g.parquet")) == 2_000


def test_empty_store_exports_an_empty_geoparquet(store: Engine, tmp_path: Path) -> None:
    with session_scope(store) as session:
        assert export_kind(session, tmp_path / "none.parquet", kind="layer_grids") == 0
    back = gpd.read_parquet(tmp_path / "none.parquet")
    assert back.empty and list(back.columns) == list(frames.dtypes("layer_grids").index)
