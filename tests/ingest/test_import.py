"""import_file against real SpatiaLite and PostGIS: bad inputs leave the store unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import Engine

from gridsvc import geo
from gridsvc.errors import InputError
from gridsvc.ingest import ImportReport, import_file
from gridsvc.store import repo, session_scope

Write = Callable[..., Path]
Frames = dict[str, gpd.GeoDataFrame]


def _import(engine: Engine, path: Path, **kwargs: Any) -> ImportReport:
    """Import in one transaction, as the CLI and API do."""
    with session_scope(engine) as session:
        return import_file(session, path, **kwargs)


def _read(engine: Engine, kind: str) -> gpd.GeoDataFrame:
    with session_scope(engine) as session:
        return repo.read(session, kind)


def _snapshot(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return repo.snapshot(session)


def _seed(engine: Engine, sample: Frames, write: Write, *kinds: str) -> None:
    for kind in kinds:
        _import(engine, write(sample[kind], f"seed_{kind}.geojson"), kind=kind)


def _metres(a: gpd.GeoSeries, b: gpd.GeoSeries) -> np.ndarray:
    crs = geo.metric_crs(a)
    return np.asarray(a.to_crs(crs).distance(b.to_crs(crs), align=False))


# --- happy paths ----------------------------------------------------------------------------------


def test_import_assigns_communities_and_is_idempotent(
    store: Engine, sample: Frames, write: Write
) -> None:
    _seed(store, sample, write, "communities", "buildings")
    path = write(sample["households"], "households.geojson")
    first = _import(store, path, kind="households")
    again = _import(store, path, kind="households")
    assert (first.inserted, first.updated) == (24, 0)
    assert (again.inserted, again.updated) == (0, 24)
    stored = _read(store, "households")
    assert len(stored) == 24
    # H-B10-* lie in building B10 of community …0001; H-B41-* in …0004
    codes = dict(zip(stored["id"], stored["community_code"], strict=True))
    assert codes["H-B10-0"] == "140581100001"
    assert codes["H-B41-2"] == "140581100004"


@pytest.mark.parametrize(
    ("crs", "forward"), [("gcj02", geo.wgs84_to_gcj02), ("bd09", geo.wgs84_to_bd09)]
)
def test_gcj02_and_bd09_inputs_land_within_a_metre(
    crs: str, forward: Any, store: Engine, sample: Frames, write: Write
) -> None:
    _seed(store, sample, write, "communities", "buildings")
    truth = sample["households"]
    shifted = truth.copy()
    xy = shapely.get_coordinates(truth.geometry.values)
    x, y = forward(xy[:, 0], xy[:, 1])
    shifted["geometry"] = shapely.points(x, y)
    assert _metres(truth.geometry, shifted.geometry).min() > 100  # the shift is real
    report = _import(store, write(shifted, f"h_{crs}.csv"), kind="households", crs=crs)
    assert report.crs == crs.upper()
    stored = _read(store, "households").set_index("id").loc[truth["id"]]
    assert _metres(truth.geometry, stored.geometry.reset_index(drop=True)).max() < 1.0


def test_self_intersection_is_repaired_and_reported(
    store: Engine, sample: Frames, write: Write
) -> None:
    _seed(store, sample, write, "communities")
    bowtie = Polygon([(112.902, 35.802), (112.904, 35.804), (112.904, 35.802), (112.902, 35.804)])
    frame = sample["buildings"].copy()
    frame.loc[0, "geometry"] = bowtie
    report = _import(store, write(frame, "b.geojson"), kind="buildings")
    assert report.inserted == len(frame)
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(
        "b.geojson: feature 0: repaired invalid geometry (Self-intersection"
    )
    stored = _read(store, "buildings").set_index("id").loc["B10", "geometry"]
    assert stored.is_valid and stored.geom_type == "MultiPolygon"
    assert stored.area == pytest.approx(bowtie.buffer(0).area + 0.5 * 0.002 * 0.001, rel=1e-6)


def test_gbk_csv_imports_with_a_warning(store: Engine, sample: Frames, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        'code,name,geometry\n140581100001,东城社区,"POLYGON ((112.9 35.8, '
        '112.91 35.8, 112.91 35.81, 112.9 35.8))"\n'.encode("gbk")
    )
    report = _import(store, path, kind="communities")
    assert report.warnings == (
        "gbk.csv: file is GBK/GB18030-encoded, not UTF-8; decoded it as GB18030",
    )
    assert _read(store, "communities")["name"].tolist() == ["东城社区"]


def test_layer_grids_take_names_from_arguments(store: Engine, sample: Frames, write: Write) -> None:
    grids = sample["communities"][["code", "geometry"]].rename(columns={"code": "grid_id"})
    report = _import(
        store,
        write(grids, "beats.geojson"),
        kind="layer_grids",
        layer="police",
        department="公安",
        policy="hard",
    )
    assert report.inserted == 4
    stored = _read(store, "layer_grids")
    assert set(stored["layer"]) == {"police"}
    assert set(stored["department"]) == {"公安"} and set(stored["policy"]) == {"hard"}


# --- bad inputs: message pinned, store unchanged -----------------------------------------------


def _households(sample: Frames, **changes: Any) -> gpd.GeoDataFrame:
    frame = sample["households"].copy()
    for column, (row, value) in changes.items():
        if column not in frame:
            frame[column] = None
        frame[column] = frame[column].astype(object)
        frame.at[row, column] = value
    return frame


def _swapped(sample: Frames) -> gpd.GeoDataFrame:
    frame = sample["households"].copy()
    frame.loc[3, "geometry"] = Point(35.805, 112.905)
    return frame


def _moved(sample: Frames, dx: float, **extra: Any) -> gpd.GeoDataFrame:
    frame = sample["households"].copy()
    p = frame.geometry[5]
    frame.loc[5, "geometry"] = Point(p.x + dx, p.y)
    for k, v in extra.items():
        frame[k] = v
    return frame


def _gcj_near_edge(sample: Frames) -> gpd.GeoDataFrame:
    frame = sample["households"].iloc[:2].copy()
    x, y = geo.wgs84_to_gcj02([112.9195, 112.9195], [35.805, 35.815])
    frame["geometry"] = shapely.points(x, y)
    return frame


def _community(geometry: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["140581100009"]}, geometry=[geometry], crs="EPSG:4326")


CASES: list[tuple[str, str, Callable[[Frames], gpd.GeoDataFrame], dict[str, Any], str]] = [
    (
        "swapped",
        "households",
        _swapped,
        {},
        r"feature 3, field 'geometry': looks like lat/lon are swapped",
    ),
    (
        "outside",
        "households",
        lambda s: _moved(s, 0.5),
        {},
        r"feature 5, field 'geometry': household H-B11-2 lies outside every community",
    ),
    (
        "far",
        "households",
        lambda s: _moved(s, 0.1, community_code="140581100001"),
        {},
        r"household H-B11-2 lies 8\.\d km outside community 140581100001; check its CRS "
        r"\(got EPSG:4326\)",
    ),
    (
        "gcj hint",
        "households",
        _gcj_near_edge,
        {},
        r"household H-B10-0 lies outside every community, values look like GCJ-02; "
        r"import with crs=gcj02",
    ),
    (
        "unknown community",
        "households",
        lambda s: _households(s, community_code=(2, "140581100099")),
        {},
        r"feature 2, field 'community_code': unknown community '140581100099'",
    ),
    (
        "unknown building",
        "households",
        lambda s: _households(s, building_id=(4, "B99")),
        {},
        r"feature 4, field 'building_id': household H-B11-1 refers to unknown building 'B99'",
    ),
    (
        "floors",
        "buildings",
        lambda s: s["buildings"].assign(floors=[2.5] + [6] * 7),
        {},
        r"feature 0, field 'floors': not an integer: 2\.5",
    ),
    (
        "size",
        "households",
        lambda s: _households(s, size=(1, -2)),
        {},
        r"feature 1, field 'size': negative size: -2",
    ),
    (
        "code",
        "communities",
        lambda s: s["communities"].assign(code=["14058110001", *s["communities"]["code"][1:]]),
        {},
        r"feature 0, field 'code': code '14058110001' is not a 12-digit division code",
    ),
    (
        "cadence",
        "households",
        lambda s: _households(s, visit_cadence=(0, "sometimes")),
        {},
        r"feature 0, field 'visit_cadence': unknown value 'sometimes'; expected one of daily",
    ),
    (
        "duplicate",
        "households",
        lambda s: _households(s, id=(7, "H-B10-0")),
        {},
        r"duplicate id 'H-B10-0' \(features 0, 7\); ids must be unique",
    ),
    (
        "missing column",
        "households",
        lambda s: s["households"].drop(columns="id"),
        {},
        r"field 'id': required column missing",
    ),
    (
        "empty geometry",
        "communities",
        lambda s: pd.concat([s["communities"], _community(Polygon())], ignore_index=True),
        {},
        r"feature 4, field 'geometry': missing or empty geometry",
    ),
    (
        "line community",
        "communities",
        lambda s: pd.concat(
            [s["communities"], _community(LineString([(112.9, 35.8), (113, 36)]))],
            ignore_index=True,
        ),
        {},
        r"feature 4, field 'geometry': LineString geometry where communities need a Polygon",
    ),
    (
        "unrepairable",
        "communities",
        lambda s: pd.concat(
            [
                s["communities"],
                _community(Polygon([(112.5, 35.5), (112.75, 35.75), (113.0, 36.0)])),
            ],
            ignore_index=True,
        ),
        {},
        r"feature 4, field 'geometry': invalid geometry that cannot be repaired",
    ),
    (
        "contradiction",
        "communities",
        lambda s: s["communities"].to_crs("EPSG:32649"),
        {"crs": "gcj02"},
        r"declared CRS gcj02 contradicts the file's own projected CRS EPSG:32649",
    ),
    (
        "projected without crs",
        "households",
        lambda s: s["households"].to_crs("EPSG:32649").set_crs(None, allow_override=True),
        {},
        r"feature 0, field 'geometry': coordinates out of range for WGS 84 after reading them as "
        r"EPSG:4326; declare the file's CRS",
    ),
]


@pytest.mark.parametrize(
    ("kind", "make", "kwargs", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_rejected_and_store_unchanged(
    kind: str,
    make: Callable[[Frames], gpd.GeoDataFrame],
    kwargs: dict[str, Any],
    match: str,
    store: Engine,
    sample: Frames,
    write: Write,
) -> None:
    _seed(store, sample, write, "communities", "buildings")
    before = _snapshot(store)
    frame = make(sample)
    path = write(frame, f"bad_{kind}.gpkg")
    with pytest.raises(InputError, match=match):
        _import(store, path, kind=kind, **kwargs)
    assert _snapshot(store) == before


def test_every_problem_is_collected(store: Engine, sample: Frames, write: Write) -> None:
    _seed(store, sample, write, "communities", "buildings")
    before = _snapshot(store)
    frame = _households(sample, size=(1, -2), floor=(2, 1.5), visit_cadence=(3, "hourly"))
    with pytest.raises(InputError) as caught:
        _import(store, write(frame, "many.geojson"), kind="households")
    assert [(p.feature, p.field) for p in caught.value.problems] == [
        (2, "floor"),
        (1, "size"),
        (3, "visit_cadence"),
    ]
    assert _snapshot(store) == before


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (
            b'{"type": "FeatureCollection", "features": [{"type": "Feat',
            "cut.geojson",
            r"cut\.geojson: invalid JSON at line 1 .*\(the file looks truncated\)",
        ),
        (b"PK\x03\x04\x14\x00\x00\x00", "cut.zip", r"cut\.zip: not a complete zip archive"),
        (
            b"id,lon,lat\n\xff\xfe,112.9,35.8\n",
            "bad.csv",
            r"bad\.csv: file is not UTF-8 .* nor GBK/GB18030; re-save it as UTF-8",
        ),
        (b"id,east,north\nH-1,112.9,35.8\n", "nocoords.csv", r"no coordinate columns"),
    ],
)
def test_unreadable_file_leaves_store_unchanged(
    content: bytes,
    name: str,
    match: str,
    store: Engine,
    sample: Frames,
    write: Write,
    tmp_path: Path,
) -> None:
    _seed(store, sample, write, "communities")
    before = _snapshot(store)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        _import(store, path, kind="households")
    assert _snapshot(store) == before


def test_gpkg_layer_ambiguity_leaves_store_unchanged(
    store: Engine, sample: Frames, tmp_path: Path
) -> None:
    path = tmp_path / "two.gpkg"
    sample["communities"].to_file(path, layer="a", engine="pyogrio")
    sample["communities"].to_file(path, layer="b", engine="pyogrio")
    before = _snapshot(store)
    with pytest.raises(InputError, match=r"2 layers \(a, b\); choose one with layer="):
        _import(store, path, kind="communities")
    assert _snapshot(store) == before
    assert _import(store, path, kind="communities", layer="b").inserted == 4


def test_null_geometry_in_geojson(store: Engine, tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": "140581100001"}, "geometry": None}],
    }
    path = tmp_path / "null.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    before = _snapshot(store)
    with pytest.raises(InputError, match=r"null\.geojson, feature 0, field 'geometry': missing"):
        _import(store, path, kind="communities")
    assert _snapshot(store) == before


def test_unknown_kind(store: Engine, sample: Frames, write: Write) -> None:
    with pytest.raises(InputError, match=r"unknown kind 'roads'; use one of buildings"):
        _import(store, write(sample["communities"]), kind="roads")


def test_prepared_layer_polygon_stays_a_polygon_after_repair() -> None:
    """A departmental grid with a spike: make_valid alone gives a polygon plus a line."""
    from gridsvc.ingest.importer import prepare_frame

    spiked = Polygon([(112.90, 35.80), (112.91, 35.80), (112.92, 35.80), (112.91, 35.80),
                      (112.91, 35.81), (112.90, 35.81)])  # fmt: skip
    assert shapely.make_valid(spiked).geom_type == "GeometryCollection"
    frame = gpd.GeoDataFrame(
        {"grid_id": ["JW02"]}, geometry=[spiked], crs="EPSG:4326"
    )  # fmt: skip
    out = prepare_frame(frame, crs=None, source="layers.parquet")
    fixed = out.geometry.iloc[0]
    assert fixed.geom_type == "Polygon" and fixed.is_valid
    assert fixed.area == pytest.approx(0.01 * 0.01, rel=1e-9)
