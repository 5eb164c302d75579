"""merge() on the generated fixtures and Baltimore, diagnose() on a hand-drawn layer."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from drawings import UTM, X0, Y0
from pyproj import Transformer

from gridsvc.merge import MergeResult, Thresholds, diagnose_layer, merge, run_merge_files
from gridsvc.merge.reunite import is_sliver

FIX = Path(__file__).resolve().parents[2] / "fixtures"
GPKG = FIX / "baltimore_pigtown.gpkg"


BUDGET = 0.01  # units of deterministic work: runs out in urban's exact search (0.65 unlimited)


def _fixture(name: str, budget: float | None = None) -> MergeResult:
    d = FIX / name
    return merge(
        gpd.read_file(d / "community.geojson"),
        gpd.read_file(d / "households.geojson"),
        gpd.read_file(d / "layers.geojson"),
        buildings=gpd.read_file(d / "buildings.geojson"),
        budget=budget,
    )


@pytest.fixture(scope="module")
def budgeted() -> MergeResult:
    """Urban merged with a small budget for the partition engine's exact search."""
    return _fixture("urban", BUDGET)


@pytest.fixture(
    scope="module",
    params=[("yudu", None), ("village", None), ("urban", None), ("urban", BUDGET)],
    ids=["yudu", "village", "urban", "urban-budget"],
)
def fixture_merge(request: pytest.FixtureRequest) -> tuple[str, MergeResult]:
    name, budget = request.param
    if budget is not None:
        return name, request.getfixturevalue("budgeted")
    return name, _fixture(name)


def unexplained_violations(result: MergeResult) -> list[str]:
    """Return the violations of ``result``, but under a budget only those the engine left unsaid.

    A budget skips the exact search that proves a region cannot meet the bounds, so the
    heuristic's out-of-bounds grids stay: each is flagged and its region reported for review.
    """
    violations = result.report["unified"]["violations"]
    if result.report["unified"]["partition_budget"]["units"] is None:
        return list(violations)
    flags = result.unified.set_index("code")["flags"].fillna("")
    flagged = set(flags.index[flags.str.contains("out_of_bounds")])
    regions = result.report["unified"]["infeasible_regions"]
    # each reported region is either left for review or proved (a cheap exact cover proves
    # some regions within even a small budget)
    assert all(
        "review these grids by hand" in r["message"] or "proved" in r["message"] for r in regions
    )
    return [v for v in violations if not (v.split()[1] in flagged and "outside" in v)]


def test_budgeted_merge_is_repeatable(budgeted: MergeResult) -> None:
    """The budget counts work, not time: a second run draws the same unified grids."""
    spent = budgeted.report["unified"]["partition_budget"]
    assert spent["units"] == BUDGET and spent["spent_units"] <= BUDGET + 0.1
    assert spent["skipped_budget"] > 0  # the budget ran out: it is what bounded the search
    assert budgeted.report["unified"]["reproducible"] is True
    again = _fixture("urban", BUDGET)
    assert again.unified["code"].tolist() == budgeted.unified["code"].tolist()
    assert shapely.to_wkb(again.unified.geometry.to_numpy()).tolist() == (
        shapely.to_wkb(budgeted.unified.geometry.to_numpy()).tolist()
    )
    pd.testing.assert_frame_equal(again.assignment, budgeted.assignment)
    pd.testing.assert_frame_equal(again.crosswalk, budgeted.crosswalk)


def test_unified_grid_is_seamless_and_nests_in_police(fixture_merge) -> None:
    _name, result = fixture_merge
    m = result.report["measures"]
    assert m["hard_crossings"] == 0 and m["hard_crossings_forced"] == 0
    assert (m["gaps"], m["overlaps"]) == (0, 0)
    assert unexplained_violations(result) == []
    for layer in ("police", "party", "governance"):
        assert (result.unified[f"{layer}_grid"] != "").all()


def test_every_household_lies_in_its_unified_grid(fixture_merge) -> None:
    """Its point lies in the grid it is assigned to and counted in (units cut by soft lines too)."""
    name, result = fixture_merge
    households = gpd.read_file(FIX / name / "households.geojson").to_crs(UTM)
    unified = result.unified.to_crs(UTM)
    assert unified["floor_lo"].isna().all()  # no stacked twins on these fixtures
    assigned = result.assignment.set_index("household_id")["grid_code"]
    assigned = assigned.reindex(households["id"].astype(str)).to_numpy()
    geoms = unified.set_index("code").geometry.reindex(assigned).to_numpy()
    outside = ~shapely.dwithin(geoms, households.geometry.to_numpy(), 0.1)
    assert list(households["id"][outside]) == []
    holding = gpd.sjoin(households, unified[["code", "geometry"]], predicate="within")
    inside = holding.groupby("code").size().reindex(unified["code"]).fillna(0)
    assert unified["households"].tolist() == inside.astype(int).tolist()
    assert unexplained_violations(result) == []


def test_no_unified_grid_is_a_sliver_or_an_unflagged_empty_grid(fixture_merge) -> None:
    """Yudu and urban each had a 0.3 m² empty grid between a police line and the outline."""
    _, result = fixture_merge
    unified = result.unified.to_crs(UTM)
    thresholds = Thresholds()
    assert shapely.area(unified.geometry.to_numpy()).min() >= thresholds.sliver_m2
    assert not is_sliver(unified.geometry.to_numpy(), thresholds).any()
    empty = unified[unified["households"] == 0]
    assert empty["flags"].fillna("").str.contains("empty|dedicated").all()
    codes = unified["code"].str[-3:].astype(int).tolist()
    assert codes == list(range(1, len(unified) + 1))  # numbering closes over a dissolved sliver


def test_realigned_layers_are_unions_of_unified_grids(fixture_merge) -> None:
    _name, result = fixture_merge
    unified = result.unified.to_crs(UTM)
    for name, frame in result.realigned.items():
        metric = frame.to_crs(UTM)
        for gid, geom in zip(metric["grid_id"], metric.geometry, strict=True):
            mine = unified[unified[f"{name}_grid"] == gid].geometry.to_numpy()
            expected = shapely.union_all(mine) if len(mine) else shapely.Polygon()
            seam = 1.0 + 0.01 * shapely.length(expected)  # WGS 84 round trip moves edges ~1 cm
            assert shapely.area(shapely.symmetric_difference(geom, expected)) < seam
        covered = shapely.union_all(metric.geometry.to_numpy())
        overlap = shapely.area(metric.geometry.to_numpy()).sum() - covered.area
        assert overlap < 1e-4 * covered.area


def test_crosswalk_accounts_for_every_household(fixture_merge) -> None:
    _name, result = fixture_merge
    total = result.report["measures"]["households"]
    for name, rows in result.crosswalk.groupby("layer"):
        assert rows["households_after"].sum() == total
        assert (
            rows["households_kept"] + rows["households_left"] == rows["households_before"]
        ).all()
        changed = result.moved[result.moved["layer"] == name]
        share = result.report["layers"][name]["share_households_unchanged"]
        assert share == pytest.approx(1 - len(changed) / total, abs=1e-4)


def test_soft_layers_kept_on_yudu_reach_the_goal() -> None:
    """Measured: party 0.955, governance 0.951 (0.942 / 0.944 before chains of repairs).

    Whole units allow at most 0.971 / 0.974: 10 party units (166 households) and 7 governance
    units (172) are cut by the layer, and 54 and 48 of their households must change grid.
    With the 30–50 bounds and police nesting (contiguity relaxed), HiGHS still allows 0.974
    governance with 0.956 party. The boundary adjustment only needs chains of repairs (a unit
    leaves, a neighbour's unit fills the gap) to pass the 95% goal.
    """
    result = _fixture("yudu")
    measures = result.report["measures"]
    shares = measures["soft_share_unchanged"]
    assert shares["party"] >= 0.95 and shares["governance"] >= 0.95
    assert measures["share_within_bounds"] == 1.0
    assert result.report["unified"]["violations"] == []
    assert measures["soft_share_reachable_with_whole_units"] == {
        "governance": 0.9741,
        "party": 0.9709,
    }
    reach = result.report["layers"]["governance"]["reachable_with_whole_units"]
    assert reach == {
        "share": 0.9741,
        "households_in_cut_units": 172,
        "households_that_must_change": 48,
        "units_cut": 7,
    }
    for name, share in shares.items():
        assert share <= measures["soft_share_reachable_with_whole_units"][name]


@pytest.fixture(scope="module")
def baltimore() -> MergeResult:
    parts = []
    for name, gpkg_layer, policy, key in [
        ("police", "police_districts_2023", "hard", "id"),
        ("council", "council_districts", "soft", "id"),
        ("neighborhood", "neighborhoods_2020", "soft", "name"),
    ]:
        f = gpd.read_file(GPKG, layer=gpkg_layer)
        parts.append(
            f.assign(layer=name, department=name, policy=policy, grid_id=f[key].astype(str))
        )
    layers = pd.concat(parts, ignore_index=True)[
        ["layer", "department", "policy", "grid_id", "name", "geometry"]
    ]
    result = merge(
        gpd.read_file(GPKG, layer="csa_outline"),
        None,
        gpd.GeoDataFrame(layers, geometry="geometry", crs="EPSG:4326"),
        areas=gpd.read_file(GPKG, layer="blocks_2020"),
        count_field="housing20",
    )
    return result


def test_baltimore_police_nests_except_where_forced(baltimore: MergeResult) -> None:
    """Police district 8 holds 15 housing units in this CSA: too few for a grid of its own."""
    result = baltimore
    m = result.report["measures"]
    assert m["hard_crossings"] == 0
    crossings = result.report["layers"]["police"]["hard_crossings"]
    assert crossings and all(c["forced"] and "8" in c["grids"] for c in crossings)
    assert (m["gaps"], m["overlaps"]) == (0, 0)
    # the blocks are areal units (partition(areas=)): the goal is 95 %; measured council 1.0,
    # neighbourhood 0.996 (0.989 before blocks of 51–59 split into a small strip and one of 50;
    # whole blocks: 0.999)
    assert min(m["soft_share_unchanged"].values()) >= 0.985
    gaps = result.report["layers"]["neighborhood"]["diagnosis"]["counts"]["gaps"]
    assert gaps > 0  # the neighbourhood layer leaves parks/industrial land uncovered


def test_baltimore_every_unified_grid_is_one_polygon(baltimore: MergeResult) -> None:
    """Three grids had a block's household cut off in a piece of its own (rule 5).

    The reunite pass joined two back by a corridor and handed the third to its neighbour
    (tests/merge/test_reunite.py); now the partition gives each block its own polygon.
    """
    unified = baltimore.report["unified"]
    assert not [v for v in unified["violations"] if "connected polygon" in v]
    # areal units keep their own polygons (partition/area_cells.py), so no block is cut off
    assert (unified["detached_pieces_bridged"], unified["detached_pieces_handed_over"]) == (0, 0)
    parts = baltimore.unified.geometry.apply(lambda g: len(shapely.get_parts(g)))
    assert (parts == 1).all()
    metric = baltimore.unified.to_crs(baltimore.unified.estimate_utm_crs()).geometry.to_numpy()
    assert not is_sliver(metric, Thresholds()).any()
    assert (baltimore.unified["households"] > 0).all()


def test_baltimore_unified_grid_is_a_valid_partition(baltimore: MergeResult) -> None:
    assert baltimore.report["unified"]["violations"] == []


def test_write_merge_round_trips(tmp_path: Path) -> None:
    d = FIX / "yudu"
    report = run_merge_files(
        d / "community.geojson",
        d / "households.geojson",
        [f"police={d / 'layers.geojson'}:hard", f"party={d / 'layers.geojson'}:soft"],
        tmp_path,
        buildings=d / "buildings.geojson",
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "crosswalk.csv",
        "moved.csv",
        "realigned_party.geojson",
        "realigned_police.geojson",
        "report.json",
        "unified.geojson",
    ]
    unified = gpd.read_file(tmp_path / "unified.geojson")
    assert len(unified) == report["measures"]["unified_grids"]
    assert unified["households"].sum() == 1856
    police = gpd.read_file(tmp_path / "realigned_police.geojson")
    assert len(police) == 3 and set(police["policy"]) == {"hard"}
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved["measures"]["hard_crossings"] == 0
    assert set(pd.read_csv(tmp_path / "crosswalk.csv")["layer"]) == {"police", "party"}


def test_diagnose_locates_gap_overlap_outside_and_sliver() -> None:
    """A 100 m square; A = x 0–60, B = x 58–100 up to y 90, C lies east of the community.

    The 2 m × 90 m overlap of A and B is a sliver; the 40 × 10 m gap holds 3 households.
    """

    def box(*b: float) -> shapely.Polygon:
        return shapely.box(X0 + b[0], Y0 + b[1], X0 + b[2], Y0 + b[3])

    raw = gpd.GeoDataFrame(
        {"grid_id": ["A", "B", "C"], "name": ""},
        geometry=[box(0, 0, 60, 100), box(58, 0, 100, 90), box(100, 0, 130, 50)],
        crs=UTM,
    )
    points = np.array(
        shapely.points(
            [(X0 + 70, Y0 + 95), (X0 + 80, Y0 + 95), (X0 + 90, Y0 + 95), (X0 + 10, Y0 + 10)]
        ),
        dtype=object,
    )
    to_wgs = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    found = diagnose_layer(raw, box(0, 0, 100, 100), points, to_wgs)
    (gap,) = found["gaps"]
    assert (gap["area_m2"], gap["households"], gap["grids"]) == (400.0, 3, ["A", "B"])
    assert 111.0 < gap["lon"] < 111.01 and 34.9 < gap["lat"] < 35.1
    (overlap,) = found["overlaps"]
    assert (overlap["area_m2"], overlap["grids"]) == (180.0, ["A", "B"])
    (outside,) = found["outside"]
    assert (outside["grids"], outside["area_m2"], outside["share"]) == (["C"], 1500.0, 1.0)
    assert [(s["of"], s["grids"]) for s in found["slivers"]] == [("overlap", ["A", "B"])]


def test_layer_order_does_not_change_the_unified_grid() -> None:
    """The store hands layers back sorted by name (governance, party, police): same result."""
    d = FIX / "village"
    community = gpd.read_file(d / "community.geojson")
    households = gpd.read_file(d / "households.geojson")
    layers = gpd.read_file(d / "layers.geojson")
    results = [
        merge(community, households, ordered, buildings=gpd.read_file(d / "buildings.geojson"))
        for ordered in (
            layers.sort_values("layer").reset_index(drop=True),
            layers.sort_values("layer", ascending=False).reset_index(drop=True),
        )
    ]
    first, second = (r.unified.sort_values("code").reset_index(drop=True) for r in results)
    assert first["code"].tolist() == second["code"].tolist()
    assert first["households"].tolist() == second["households"].tolist()
    assert all(a.equals(b) for a, b in zip(first.geometry, second.geometry, strict=True))
    assert results[0].report["measures"]["hard_crossings"] == 0
    assert results[1].report["measures"]["hard_crossings"] == 0
