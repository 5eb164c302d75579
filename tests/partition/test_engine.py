"""The engine on hand-drawn communities: tiling, bounds, codes, infeasibility, bad input."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest
import shapely
from partition_drawings import UTM, X0, grid_of_buildings, square_community, to_wgs

from gridsvc.errors import InputError
from gridsvc.partition import Bounds, check_partition, partition
from gridsvc.partition.areas import areas_to_households

LEVELS = (Bounds(30, 50), Bounds(1, 15))


def test_lattice_partitions_into_valid_grids(lattice: tuple) -> None:
    community, buildings, households = lattice
    result = partition(community, households, buildings=buildings)
    assert check_partition(community, households, result, LEVELS) == []
    assert result.report["totals"]["share_within_bounds"] == 1.0
    assert result.grids["households"].sum() == 135
    assert len(result.grids) == 3  # 135 households: 3 grids of 45 (no unit split)
    assert set(result.grids["households"]) == {45}
    assert result.assignment.columns.tolist() == ["household_id", "grid_code", "microgrid_code"]
    assert result.assignment["household_id"].is_unique


def test_codes_read_west_to_east_then_north_to_south() -> None:
    """Nine buildings of 40: one grid each, numbered like text.

    ::

        001 002 003
        004 005 006
        007 008 009
    """
    buildings, households = grid_of_buildings(3, 3, 40)
    result = partition(square_community(), households, buildings=buildings)
    a = result.assignment.assign(building=households["building_id"].to_numpy())
    first = a.groupby("building")["grid_code"].first().str[-3:]
    assert first.to_dict() == {
        "B02": "001",
        "B12": "002",
        "B22": "003",
        "B01": "004",
        "B11": "005",
        "B21": "006",
        "B00": "007",
        "B10": "008",
        "B20": "009",
    }
    assert all(len(c) == 15 and c.startswith("140802002099") for c in result.grids["code"])
    assert all(len(c) == 17 for c in result.microgrids["code"])


def test_same_input_gives_same_codes_and_geometry(lattice: tuple) -> None:
    community, buildings, households = lattice
    one = partition(community, households, buildings=buildings, seed=3)
    two = partition(community, households, buildings=buildings, seed=3)
    pd.testing.assert_frame_equal(one.assignment, two.assignment)
    assert one.grids["code"].tolist() == two.grids["code"].tolist()
    assert all(shapely.equals_exact(one.grids.geometry, two.grids.geometry, 1e-9))


def test_micro_grids_follow_units_and_floors(lattice: tuple) -> None:
    community, buildings, households = lattice
    result = partition(community, households, buildings=buildings)
    micro = result.microgrids
    assert micro["households"].max() <= 15
    # every micro-grid holds one unit: 15 households, the whole unit, no floor split
    assert set(micro["households"]) == {15}
    a = result.assignment.assign(building=households["building_id"].to_numpy())
    assert (a.groupby("microgrid_code")["building"].nunique() == 1).all()


def test_tall_unit_becomes_stacked_grids() -> None:
    buildings, households = grid_of_buildings(1, 1, 120, floors=20)
    community = square_community(100)
    result = partition(community, households, buildings=buildings)
    assert check_partition(community, households, result, LEVELS) == []
    stacked = result.grids[result.grids["floor_lo"].notna()].sort_values("floor_lo")
    assert stacked["households"].tolist() == [42, 42, 36]
    assert stacked["floor_lo"].tolist() == [1, 8, 15]
    assert stacked["floor_hi"].tolist() == [7, 14, 20]


def test_stacked_grids_micro_grids_share_their_footprint() -> None:
    """A stacked grid's micro-grids are floor ranges of its one unit: each has the grid's own
    footprint (passed down as one tile, not tessellated again)."""
    buildings, households = grid_of_buildings(1, 1, 120, floors=20)
    community = square_community(100)
    result = partition(community, households, buildings=buildings)
    assert check_partition(community, households, result, LEVELS) == []
    stacked = result.grids[result.grids["floor_lo"].notna()]
    micro = result.microgrids[result.microgrids["parent_code"].isin(stacked["code"])]
    assert len(micro) > len(stacked)  # 36–42 households a grid, micro-grids of at most 15
    assert (micro["households"] <= 15).all()
    footprint = dict(zip(stacked["code"], stacked.geometry, strict=True))
    for parent, geom, lo, hi in zip(
        micro["parent_code"], micro.geometry, micro["floor_lo"], micro["floor_hi"], strict=True
    ):
        assert shapely.equals_exact(geom, footprint[parent], 0)  # the very same polygon
        row = stacked[stacked["code"] == parent].iloc[0]
        assert row["floor_lo"] <= lo <= hi <= row["floor_hi"]


def test_river_cut_off_block_is_proved_and_crossed() -> None:
    """A river at x = 200 leaves one building of 22 households on its east bank.

    ::

        +--------+~~~+----+
        | B0  B1 | r | E  |   west: 2 buildings × 2 units × 15; east E: 22 households
        +--------+~~~+----+
    """
    west_b, west = grid_of_buildings(2, 1, 15, units=2)
    east_b, east = grid_of_buildings(1, 1, 22, offset=(200, 0), prefix="E")
    community = to_wgs([shapely.box(0, 0, 300, 100)], code=["140802002099"])
    river = to_wgs([shapely.LineString([(200, -10), (200, 110)])], kind=["river"])
    households = pd.concat([west, east], ignore_index=True)
    result = partition(community, households, buildings=pd.concat([west_b, east_b]), barriers=river)
    notes = result.report["totals"]["infeasible_regions"]
    assert len(notes) == 1
    assert notes[0]["households"] == 22
    assert notes[0]["message"].startswith("the 22 households around (111.0")
    assert (
        "are cut off by barriers: 22 households are fewer than the lower bound 30"
        in (notes[0]["message"])
    )
    assert "allowed crossing at (111.0" in notes[0]["message"]
    assert result.report["totals"]["barrier_crossings"] == 1
    assert result.report["totals"]["share_within_bounds"] == 1.0
    assert check_partition(community, households, result, LEVELS) == []


def test_river_with_enough_households_on_each_bank_is_not_crossed() -> None:
    _, west = grid_of_buildings(2, 1, 40)
    _, east = grid_of_buildings(1, 1, 35, offset=(200, 0), prefix="E")
    community = to_wgs([shapely.box(0, 0, 300, 100)], code=["140802002099"])
    river = to_wgs([shapely.LineString([(200, -10), (200, 110)])], kind=["river"])
    households = pd.concat([west, east], ignore_index=True)
    result = partition(community, households, barriers=river)
    assert result.report["totals"]["infeasible_regions"] == []
    assert result.report["totals"]["barrier_crossings"] == 0
    assert check_partition(community, households, result, LEVELS) == []
    # no grid reaches across the river line
    metric = result.grids.to_crs("EPSG:32649")
    line_x = 500_200.0
    spans = metric.geometry.bounds
    assert ((spans["maxx"] <= line_x + 0.05) | (spans["minx"] >= line_x - 0.05)).all()


def test_island_without_crossing_is_an_exception_grid() -> None:
    """Two parts of a community with no shared border; the small one holds 20 households.

    ::

        +----+            y 250–350: S (20 households)
        | S  |
        +----+
        +---------+       y 0–100: B0, B1 (2 × 40)
        | B0  B1  |
        +---------+
    """
    big_b, big = grid_of_buildings(2, 1, 40)
    small_b, small = grid_of_buildings(1, 1, 20, offset=(0, 250), prefix="S")
    outline = shapely.union_all([shapely.box(0, 0, 200, 100), shapely.box(0, 250, 100, 350)])
    community = to_wgs([outline], code=["140802002099"])
    households = pd.concat([big, small], ignore_index=True)
    result = partition(community, households, buildings=pd.concat([big_b, small_b]))
    notes = result.report["totals"]["infeasible_regions"]
    assert [n["households"] for n in notes] == [20]
    assert notes[0]["action"] == "no neighbour to join: kept as an exception grid (flagged)"
    assert "20 households are fewer than the lower bound 30" in notes[0]["reason"]
    flagged = result.grids[result.grids["flags"].str.contains("exception")]
    assert flagged["households"].tolist() == [20]
    assert check_partition(community, households, result, LEVELS) == []


def test_household_count_with_no_grid_number_is_proved_infeasible() -> None:
    """One block of 40 + 15 = 55 households: one grid holds ≤ 50, two need ≥ 60."""
    b1, h1 = grid_of_buildings(1, 1, 40)
    b2, h2 = grid_of_buildings(1, 1, 15, offset=(100, 0), prefix="C")
    community = to_wgs([shapely.box(0, 0, 200, 100)], code=["140802002099"])
    households = pd.concat([h1, h2], ignore_index=True)
    result = partition(community, households, buildings=pd.concat([b1, b2]))
    notes = result.report["totals"]["infeasible_regions"]
    assert notes[0]["reason"].endswith(
        "55 households fit no number of 30–50-household grids (1 grids hold at most 50, "
        "2 need at least 60)"
    )
    assert result.grids["flags"].str.contains("exception").all()
    assert check_partition(community, households, result, LEVELS) == []


def test_lumpy_units_proved_by_the_exact_model() -> None:
    """Units of 45, 45, 25 (115): 3 grids would need 30 each, but 25 cannot join a 45."""
    b, h = grid_of_buildings(2, 1, 45)
    b3, h3 = grid_of_buildings(1, 1, 25, offset=(200, 0), prefix="C")
    households = pd.concat([h, h3], ignore_index=True)
    community = to_wgs([shapely.box(0, 0, 300, 100)], code=["140802002099"])
    result = partition(community, households, buildings=pd.concat([b, b3]))
    notes = result.report["totals"]["infeasible_regions"]
    assert (
        "its 3 units (households 45, 45, 25) cannot be grouped into 30–50-household grids"
        in (notes[0]["reason"])
    )
    assert check_partition(community, households, result, LEVELS) == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("outside", r"household B00-1-001 lies \d+ m outside the community boundary"),
        ("building", r"household B00-1-001 refers to unknown building 'NOPE'"),
        ("floor", r"household B00-1-001 is on floor 40 but building B00 has 6 floors"),
        ("unit", r"household B00-1-001 is in unit 3 but building B00 has 1 units"),
        ("line", r"the boundary is LinearRing; a community needs a Polygon or MultiPolygon"),
        ("empty", r"the community has no households"),
        ("bounds", r"level 1 bounds min 50 > max 30; set min <= max"),
    ],
)
def test_bad_input_names_the_offending_record(lattice: tuple, change: str, match: str) -> None:
    community, buildings, households = lattice
    households = households.copy()
    levels = LEVELS
    if change == "outside":
        households.loc[0, "geometry"] = shapely.Point(112.0, 35.0)
    elif change == "building":
        households.loc[0, "building_id"] = "NOPE"
    elif change == "floor":
        households.loc[0, "floor"] = 40
    elif change == "unit":
        households.loc[0, "unit"] = 3
    elif change == "line":
        community = community.set_geometry([community.geometry.iloc[0].exterior])
    elif change == "empty":
        households = households.iloc[:0]
    else:
        levels = (Bounds(50, 30),)
    with pytest.raises(InputError, match=match):
        partition(community, households, buildings=buildings, levels=levels)


def test_households_without_a_floor_or_unit_and_buildings_without_counts_pass(
    lattice: tuple,
) -> None:
    community, buildings, households = lattice
    households = households.astype({"floor": "Int64", "unit": "Int64"})
    households.loc[0, "floor"] = pd.NA
    households.loc[1, "unit"] = pd.NA
    buildings = buildings.astype({"floors": "Int64"})
    buildings.loc[buildings["id"] == "B11", "floors"] = pd.NA
    households.loc[households["building_id"] == "B11", "floor"] = 99
    result = partition(community, households, buildings=buildings)
    assert check_partition(community, households, result, LEVELS) == []


def test_three_levels_nest(lattice: tuple) -> None:
    community, _, _ = lattice
    levels = (Bounds(60, 80), Bounds(30, 50), Bounds(1, 15))
    big_b, big_h = grid_of_buildings(3, 3, 15)
    result = partition(community, big_h, buildings=big_b, levels=levels)
    assert check_partition(community, big_h, result, levels) == []
    assert {"level1_code", "level2_code", "level3_code"} <= set(result.assignment.columns)
    assert sorted(result.microgrids["level"].unique().tolist()) == [2, 3]


def test_areas_with_counts_become_grids() -> None:
    """Four 100 m blocks with 35, 0, 80 and 40 households; the 80 is split on the ground."""
    blocks = [shapely.box(x, y, x + 100, y + 100) for x in (0, 100) for y in (0, 100)]
    areas = to_wgs(blocks, id=["a", "b", "c", "d"], housing=[35, 0, 80, 40])
    community = to_wgs([shapely.box(0, 0, 200, 200)], code=["140802002099"])
    result = partition(community, areas=areas, count_field="housing")
    assert result.grids["households"].sum() == 155
    assert result.report["totals"]["share_within_bounds"] == 1.0
    households = areas_to_households(areas, "housing", "EPSG:32649", within=community)
    assert check_partition(community, households, result, LEVELS) == []
    # area c (80 households) is split in two on the ground, areas a and d stay whole
    a = result.assignment.assign(area=result.assignment["household_id"].str.split("#").str[0])
    per_area = a.groupby("area")["grid_code"].nunique()
    assert per_area.to_dict() == {"a": 1, "c": 2, "d": 1}


@pytest.mark.parametrize("count", [12.7, -3, "many"])
def test_an_area_count_that_is_no_whole_count_is_an_input_error(count: object) -> None:
    """A count of 12.7 households was cut to 12 without a word (a household lost)."""
    blocks = [shapely.box(x, 0, x + 100, 100) for x in (0, 100)]
    areas = to_wgs(blocks, id=["a", "b"], housing=[35, count])
    community = to_wgs([shapely.box(0, 0, 200, 100)], code=["140802002099"])
    with pytest.raises(InputError) as caught:
        partition(community, areas=areas, count_field="housing")
    assert [(p.source, p.feature, p.field, p.message) for p in caught.value.problems] == [
        ("areas", 1, "housing", f"count {count!r} is not a whole household count")
    ]


def test_an_area_straddling_a_barrier_keeps_its_households_in_its_grid() -> None:
    """A barrier 15 m inside areas a and b leaves a column of their households beyond it.

    Those households' piece of the area joins their own atom's territory across the barrier
    (as a unit straddling a barrier does in point mode), so none lies outside its grid.
    """
    blocks = [shapely.box(x, y, x + 100, y + 100) for x in (0, 100) for y in (0, 100)]
    areas = to_wgs(blocks, id=["a", "b", "c", "d"], housing=[35, 40, 45, 38])
    community = to_wgs([shapely.box(0, 0, 200, 200)], code=["140802002099"])
    barrier = to_wgs([shapely.LineString([(85, -10), (85, 210)])])
    households = areas_to_households(areas, "housing", UTM, within=community)
    x = households.to_crs(UTM).geometry.x - X0
    beyond = households["id"].str[0].isin(["a", "b"]) & (x > 85)
    assert beyond.any()  # the drawing does put households of a and b past the barrier
    result = partition(community, areas=areas, count_field="housing", barriers=barrier)
    assert check_partition(community, households, result, LEVELS) == []


def test_check_rejects_a_grid_that_is_not_a_polygon(lattice: tuple) -> None:
    community, buildings, households = lattice
    result = partition(community, households, buildings=buildings)
    micro = result.microgrids.copy()
    first = micro.geometry.iloc[0]
    line = shapely.LineString(list(first.exterior.coords)[:2])
    micro.loc[micro.index[0], "geometry"] = shapely.GeometryCollection([first, line])
    broken = dataclasses.replace(result, microgrids=micro)
    problems = check_partition(community, households, broken, (Bounds(30, 50), Bounds(1, 15)))
    code = micro["code"].iloc[0]
    assert f"grid {code} is a GeometryCollection, not a polygon" in problems


def test_check_rejects_a_micro_grid_beyond_its_parent(lattice: tuple) -> None:
    """A micro-grid reaching 5 mm into the grid next to its parent overlaps that grid's
    micro-grid there: both are reported, though the parent's outline tolerance (1 cm along it)
    would let it pass as the family's union (the engine's reached up to 0.44 m² into Baltimore's
    and 禹都's neighbours until :func:`~gridsvc.partition.overlaps.fit_to` cut them)."""
    community, buildings, households = lattice
    result = partition(community, households, buildings=buildings)
    micro = result.microgrids.to_crs(UTM)
    geoms, parents = micro.geometry.to_numpy(), micro["parent_code"].to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="touches")
    keep = (a < b) & (parents[a] != parents[b])
    shared = shapely.length(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
    i, j = a[keep][shared.argmax()], b[keep][shared.argmax()]  # the longest border across
    border = shapely.intersection(geoms[i], geoms[j])
    sliver = shapely.intersection(shapely.buffer(border, 0.005), geoms[j])
    assert 0 < shapely.area(sliver) < 1.0
    micro.loc[micro.index[i], "geometry"] = shapely.union(geoms[i], sliver)
    broken = dataclasses.replace(result, microgrids=micro.to_crs(result.microgrids.crs))
    problems = check_partition(community, households, broken, LEVELS)
    code, other = micro["code"].iloc[i], micro["code"].iloc[j]
    assert [p.split(" by ")[0] for p in problems if "overlap" in p] == [
        f"grids {code} and {other} overlap"
    ]
    beyond = [p for p in problems if "overlap" not in p]
    assert [re.sub(r"[\d.]+ m²", "x m²", p) for p in beyond] == [
        f"grid {code} reaches x m² beyond its parent {parents[i]}"
    ]
    reach = float(re.findall(r"([\d.]+) m²", beyond[0])[0])
    assert reach == pytest.approx(shapely.area(sliver), rel=1e-3)


@pytest.mark.parametrize(
    ("floors", "floor", "message"),
    [
        # the building's floor count is missing: only floors below 1 are wrong
        (None, 0, "household B00-1-001 is on floor 0; floors start at 1"),
        (None, -2, "household B00-1-001 is on floor -2; floors start at 1"),
        # one missing count elsewhere makes pandas read the column as floats
        (6.0, 40, "household B00-1-001 is on floor 40 but building B00 has 6 floors"),
        (6.0, 0, "household B00-1-001 is on floor 0 but building B00 has 6 floors"),
    ],
)
def test_a_bad_floor_with_missing_floor_counts_is_an_input_error(
    lattice: tuple, floors: float | None, floor: int, message: str
) -> None:
    community, buildings, households = lattice
    counts = buildings["floors"].where(buildings["id"] != "B11")  # floats, B11's NaN
    buildings = buildings.assign(floors=counts.where(buildings["id"] != "B00", floors))
    assert buildings["floors"].dtype == float
    households = households.copy()
    households.loc[0, "floor"] = floor
    with pytest.raises(InputError) as caught:
        partition(community, households, buildings=buildings)
    assert [(p.source, p.feature, p.field, p.message) for p in caught.value.problems] == [
        ("households", "B00-1-001", "floor", message)
    ]


def test_a_unit_below_1_in_a_building_without_a_unit_count_is_an_input_error(
    lattice: tuple,
) -> None:
    community, buildings, households = lattice
    buildings = buildings.astype({"units": "Int64"})
    buildings.loc[buildings["id"] == "B00", "units"] = pd.NA
    households = households.copy()
    households.loc[0, "unit"] = 0
    with pytest.raises(InputError) as caught:
        partition(community, households, buildings=buildings)
    assert [(p.source, p.feature, p.field, p.message) for p in caught.value.problems] == [
        ("households", "B00-1-001", "unit", "household B00-1-001 is in unit 0; units start at 1")
    ]


def test_micro_grids_take_empty_blocks_whole() -> None:
    """Micro-grids (a level inside grids, no lower bound) take an empty block whole.

    ::

        +---------+--+-------+
        | B01 B11 |r |       |   4 buildings × 10 households: one grid, 4 micro-grids;
        | B00 B10 |d | empty |   the empty block east of the road borders B10's and B11's
        +---------+--+-------+
    """
    buildings, households = grid_of_buildings(2, 2, 10)
    community = to_wgs([shapely.box(0, 0, 300, 200)], code=["140802002099"])
    road = to_wgs([shapely.LineString([(200, -10), (200, 210)])], kind=["road"])
    result = partition(community, households, buildings=buildings, barriers=road)
    assert check_partition(community, households, result, LEVELS) == []
    assert len(result.grids) == 1 and len(result.microgrids) == 4
    micro = result.microgrids.to_crs(UTM).geometry.to_numpy()
    east = shapely.box(X0 + 200.5, 3_873_000.5, X0 + 299.5, 3_873_199.5)
    inside = shapely.area(shapely.intersection(micro, east)) / east.area
    assert sorted(inside.round(6).tolist()) == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize(("rounded", "flagged"), [(False, True), (True, False)])
def test_check_tolerates_an_overlap_of_a_tenth_of_a_m2_only_in_rounded_grids(
    lattice: tuple, rounded: bool, flagged: bool
) -> None:
    """A base grid reaching 2 mm into its neighbour shares ~0.1 m² with it: past float noise
    (OVERLAP_TOL) in the engine's grids, within AREA_TOL in grids rounded one by one."""
    community, buildings, households = lattice
    result = partition(community, households, buildings=buildings)
    grids = result.grids.to_crs(UTM)
    base = grids[grids["level"] == 1]
    geoms = base.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="touches")
    i, j = next((i, j) for i, j in zip(a.tolist(), b.tolist(), strict=True) if i < j)
    sliver = shapely.intersection(geoms[j], shapely.buffer(geoms[i], 0.002))
    assert 0.01 < shapely.area(sliver) < 1.0
    grids.loc[base.index[i], "geometry"] = shapely.union(geoms[i], sliver)
    broken = dataclasses.replace(result, grids=grids.to_crs("EPSG:4326"))
    problems = check_partition(community, households, broken, LEVELS, rounded=rounded)
    codes = base["code"].iloc[[i, j]].tolist()
    found = [p for p in problems if p.startswith(f"grids {codes[0]} and {codes[1]} overlap by")]
    assert len(found) == int(flagged)
    assert [p for p in problems if p not in found] == []
