"""Readers: every format, layer choice, encodings, truncated files (no store needed)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest

from gridsvc.errors import InputError
from gridsvc.export import export_frame
from gridsvc.ingest import read_any

Write = Callable[..., Path]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".csv", ".parquet"])
def test_reads_every_export_format(
    suffix: str, tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]
) -> None:
    path = tmp_path / f"households{suffix}"
    export_frame(sample["households"], path, kind="households")
    frame = read_any(path)
    assert len(frame) == len(sample["households"])
    assert set(frame["id"]) == set(sample["households"]["id"])
    assert "building_id" in frame.columns  # shapefile short name 'bldg_id' mapped back


def test_reads_plain_shp(tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]) -> None:
    path = tmp_path / "b.shp"
    sample["buildings"].to_file(path, engine="pyogrio")
    assert read_any(path)["id"].tolist() == sample["buildings"]["id"].tolist()


@pytest.mark.parametrize(
    ("columns", "expected"),
    [(("longitude", "latitude"), "longitude"), (("X", "Y"), "X"), (("lng", "lat"), "lng")],
)
def test_csv_accepts_other_coordinate_names(
    columns: tuple[str, str], expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(f"id,{columns[0]},{columns[1]}\nH-1,112.905,35.805\n", encoding="utf-8")
    frame = read_any(path)
    assert (frame.geometry.x[0], frame.geometry.y[0]) == (112.905, 35.805)
    assert expected not in frame.columns


def test_csv_custom_coordinate_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,经度,纬度\nH-1,112.905,35.805\n", encoding="utf-8")
    frame = read_any(path, lon="经度", lat="纬度")
    assert frame.geometry.x[0] == 112.905


def test_csv_without_coordinates_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,east,north\nH-1,112.9,35.8\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"h\.csv: no coordinate columns: expected lon/lat"):
        read_any(path)


def test_csv_non_numeric_coordinate_is_located(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,lon,lat\nH-1,112.9,35.8\nH-2,112.9E,35.8\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"feature 1, field 'lon': not a number: '112.9E'"):
        read_any(path)


def test_gbk_csv_is_decoded_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("id,name,lon,lat\nB-1,幸福小区1号楼,112.905,35.805\n".encode("gbk"))
    frame = read_any(path)
    assert frame["name"][0] == "幸福小区1号楼"
    assert frame.attrs["warnings"] == [
        "gbk.csv: file is GBK/GB18030-encoded, not UTF-8; decoded it as GB18030"
    ]


def test_gbk_geojson_is_decoded(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "140581100001", "name": "东城社区"},
                "geometry": {"type": "Point", "coordinates": [112.9, 35.8]},
            }
        ],
    }
    path = tmp_path / "gbk.geojson"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("gb18030"))
    assert read_any(path)["name"][0] == "东城社区"


def test_undecodable_bytes_name_the_encodings(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,lon,lat\n\xff\xfe,112.9,35.8\n")
    with pytest.raises(InputError, match=r"bad\.csv: file is not UTF-8 .* nor GBK/GB18030"):
        read_any(path)


def test_truncated_geojson(tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]) -> None:
    path = tmp_path / "cut.geojson"
    export_frame(sample["communities"], path, kind="communities")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(InputError, match=r"cut\.geojson: invalid JSON at line 1 .*truncated"):
        read_any(path)


def test_truncated_zip(tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]) -> None:
    path = tmp_path / "cut.zip"
    export_frame(sample["buildings"], path, kind="buildings")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.zip: not a complete zip archive"):
        read_any(path)


def test_zip_without_shapefile(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "nothing here")
    with pytest.raises(InputError, match=r"the zip archive holds no \.shp file"):
        read_any(path)


def test_gpkg_with_two_layers_needs_a_choice(
    tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]
) -> None:
    path = tmp_path / "two.gpkg"
    sample["communities"].to_file(path, layer="communities", engine="pyogrio")
    sample["buildings"].to_file(path, layer="buildings", engine="pyogrio")
    with pytest.raises(
        InputError, match=r"the file has 2 layers \(communities, buildings\); choose one"
    ):
        read_any(path)
    with pytest.raises(InputError, match=r"no layer 'roads'; the file has layers: communities"):
        read_any(path, layer="roads")
    assert len(read_any(path, layer="buildings")) == len(sample["buildings"])


def test_truncated_parquet(tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]) -> None:
    path = tmp_path / "cut.parquet"
    export_frame(sample["households"], path, kind="households")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match=r"cut\.parquet: cannot read GeoParquet"):
        read_any(path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.kml"
    path.write_text("<kml/>", encoding="utf-8")
    with pytest.raises(InputError, match=r"unsupported file type '\.kml'"):
        read_any(path)


@pytest.mark.parametrize("folder", ["in.zip", "a%20b {x}", "q?y#z"])
def test_a_zipped_shapefile_is_read_whatever_its_folder_is_named(
    folder: str, tmp_path: Path, sample: dict[str, gpd.GeoDataFrame]
) -> None:
    """The reader opens it as ``/vsizip/<path>/<member>``, unescaped: GDAL looks for the archive
    at each ``.zip`` in it (a folder named ``in.zip`` is skipped) and reads ``%``, ``{``,
    ``?``, ``#`` as they are (checked on GDAL 3.12: this passed before session 9 too)."""
    path = tmp_path / folder / "households.zip"
    path.parent.mkdir()
    export_frame(sample["households"], path, kind="households")
    frame = read_any(path)
    assert set(frame["id"]) == set(sample["households"]["id"])
