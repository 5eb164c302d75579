"""Bad departmental layers are rejected with the layer and grid named; tiling is seamless."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from drawings import UTM, X0, Y0, layer, strip
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc import geo
from gridsvc.errors import InputError
from gridsvc.merge import merge, parse_layer_spec, run_merge_files
from gridsvc.merge.layers import tile

FIX = Path(__file__).resolve().parents[2] / "fixtures"
POLICE = {"P1": (0, 0, 100, 40), "P2": (100, 0, 200, 40)}


def _layers(**changes: dict) -> gpd.GeoDataFrame:
    hard = layer("police", "公安", "hard", changes.get("police", POLICE))
    soft = layer(
        "party",
        changes.get("department", "党建"),
        "soft",
        changes.get("party", {"D1": (0, 0, 80, 40), "D2": (80, 0, 200, 40)}),
    )
    return gpd.GeoDataFrame(
        np.concatenate([hard.to_numpy(), soft.to_numpy()]),
        columns=hard.columns,
        geometry="geometry",
        crs=hard.crs,
    )


def test_layer_without_department_is_named() -> None:
    community, households = strip()
    with pytest.raises(InputError, match="layer 'party' has no department"):
        merge(community, households, _layers(department=""))


def test_duplicate_grid_ids_are_named() -> None:
    community, households = strip()
    bad = _layers(party={"D1": (0, 0, 80, 40), "D1 ": (80, 0, 200, 40)})
    with pytest.raises(InputError, match="grid id 'D1' appears 2 times in layer 'party'"):
        merge(community, households, bad)


def test_layer_covering_none_of_the_community() -> None:
    community, households = strip()
    far = {"P1": (5000, 0, 5100, 40), "P2": (5100, 0, 5200, 40)}
    with pytest.raises(InputError, match="layer 'police' covers none of the community"):
        merge(community, households, _layers(police=far))


def test_projected_values_declared_as_lon_lat() -> None:
    community, households = strip()
    metres = _layers().to_crs(UTM).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InputError, match="are not lon/lat in the declared CRS EPSG:4326"):
        merge(community, households, metres)


def test_gcj02_values_declared_as_wgs84() -> None:
    """The yudu party layer shifted into GCJ-02 (~500 m off) but declared WGS 84."""
    community = gpd.read_file(FIX / "yudu" / "community.geojson")
    households = gpd.read_file(FIX / "yudu" / "households.geojson")
    layers = gpd.read_file(FIX / "yudu" / "layers.geojson")
    party = layers["layer"] == "party"
    shifted = geo.to_crs(layers[party], "GCJ02").set_crs("EPSG:4326", allow_override=True)
    bad = gpd.GeoDataFrame(
        np.concatenate([layers[~party].to_numpy(), shifted.to_numpy()]),
        columns=layers.columns,
        geometry="geometry",
        crs="EPSG:4326",
    )
    with pytest.raises(InputError, match=r"layer 'party' .*look like GCJ02.*declare crs=gcj02"):
        merge(community, households, bad)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("beats.geojson:hard", "has no department"),
        ("police=beats.geojson", "needs a policy"),
        ("police=beats.geojson:firm", "needs a policy"),
    ],
)
def test_layer_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_layer_spec(spec)


def test_layer_spec_parses_gpkg_layer() -> None:
    spec = parse_layer_spec("police=data/b.gpkg@police_districts_2023:hard")
    assert (spec.name, spec.path, spec.gpkg_layer, spec.policy) == (
        "police",
        Path("data/b.gpkg"),
        "police_districts_2023",
        "hard",
    )


def test_nothing_written_on_bad_input(tmp_path: Path) -> None:
    community, households = strip()
    community.to_file(tmp_path / "c.geojson")
    households.to_file(tmp_path / "h.geojson")
    _layers(police={"P1": (0, 0, 100, 40), "P1 ": (100, 0, 200, 40)}).to_file(
        tmp_path / "l.geojson"
    )
    out = tmp_path / "out"
    with pytest.raises(InputError, match="grid id 'P1' appears 2 times in layer 'police'"):
        run_merge_files(
            tmp_path / "c.geojson",
            tmp_path / "h.geojson",
            [f"police={tmp_path / 'l.geojson'}:hard"],
            out,
        )
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 180), st.floats(0, 30), st.floats(5, 120), st.floats(5, 40)),
        min_size=1,
        max_size=6,
    )
)
def test_tile_is_a_seamless_tiling(boxes: list[tuple[float, float, float, float]]) -> None:
    """Whatever the grids (gaps, overlaps, outside parts), the tiling covers once, ids kept."""
    outline = shapely.box(X0, Y0, X0 + 200, Y0 + 40)
    geoms = [shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h) for x, y, w, h in boxes]
    raw = gpd.GeoDataFrame(
        {"grid_id": [f"G{i}" for i in range(len(geoms))], "name": ""}, geometry=geoms, crs=UTM
    )
    tiled = tile("t", raw, outline)
    assert list(tiled["grid_id"]) == list(raw["grid_id"])
    g = tiled.geometry.to_numpy()
    union = shapely.union_all(g)
    assert shapely.area(shapely.symmetric_difference(union, outline)) < 1.0
    assert abs(shapely.area(g).sum() - shapely.area(union)) < 1.0
