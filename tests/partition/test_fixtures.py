"""check_partition on every fixture: the generated communities and the Baltimore census blocks."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridsvc.partition import Bounds, PartitionResult, check_partition, partition
from gridsvc.partition.areas import areas_to_households
from gridsvc.partition.check import OVERLAP_TOL

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEVELS = (Bounds(30, 50), Bounds(1, 15))


def _community(name: str) -> tuple[gpd.GeoDataFrame, ...]:
    folder = FIXTURES / name
    assert (folder / "households.geojson").exists(), f"fixture {name} missing; run make_fixtures"
    return tuple(
        gpd.read_file(folder / f"{part}.geojson")
        for part in ("community", "households", "buildings", "barriers")
    )


@cache
def _partitioned(name: str) -> PartitionResult:
    community, households, buildings, barriers = _community(name)
    return partition(community, households, buildings=buildings, barriers=barriers)


@pytest.mark.parametrize("name", ["yudu", "village"])
def test_generated_community_partitions_cleanly(name: str) -> None:
    community, households = _community(name)[:2]
    result = _partitioned(name)
    assert check_partition(community, households, result, LEVELS) == []
    assert result.report["totals"]["share_within_bounds"] == 1.0


@pytest.mark.parametrize("name", ["village", "yudu", "urban"])
def test_grids_do_not_overlap(name: str) -> None:
    """Cells of a tessellation only meet, and so do the grids and the micro-grids of each grid
    (measured in metres, beyond float noise: OVERLAP_TOL). They overlapped where snapping to
    1 cm bent an edge into the grid across: the village's grids by 0.056 m², where a cell whose
    crossing of a road was rounded off the road bent into the empty block across it; 禹都's by
    0.27 m² and urban's by 0.095 m², where a share of an empty block, clipped on the grid, bent
    into the cell across the block's edge; 禹都's micro-grids by 0.016 m² and urban's by
    0.025 m² until :func:`~gridsvc.partition.overlaps.settle_overlaps` cut such slivers out."""
    result = _partitioned(name)
    every = pd.concat([result.grids, result.microgrids], ignore_index=True)
    every = gpd.GeoDataFrame(every, geometry="geometry", crs=result.grids.crs)
    every = every[every["floor_lo"].isna()].to_crs(result.grids.estimate_utm_crs())
    worst = 0.0
    for _, family in every.groupby(every["parent_code"].fillna("")):
        geoms = family.geometry.to_numpy()
        a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = a < b
        overlap = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
        worst = max(worst, float(overlap.max(initial=0.0)))
    assert worst < OVERLAP_TOL


@pytest.mark.parametrize("name", ["village", "yudu", "urban", "baltimore"])
def test_micro_grids_tile_their_grid_exactly(name: str) -> None:
    """A grid's micro-grids (stacked ones aside) cover exactly its polygon, beyond float noise.

    Drawn on the tiles the grid was built from, they reached up to 0.44 m² beyond it (禹都,
    Baltimore), into the slivers settle_overlaps cut out of it, and left up to 0.83 m² of it
    uncovered (Baltimore), where snapping had joined shares of empty cells into it, until
    :func:`~gridsvc.partition.overlaps.fit_to` fitted them."""
    if name == "baltimore":
        outline, blocks = _baltimore()
        result = partition(outline, areas=blocks, count_field="housing20")
    else:
        result = _partitioned(name)
    crs = result.grids.estimate_utm_crs()
    geom_of = dict(zip(result.grids["code"], result.grids.to_crs(crs).geometry, strict=True))
    micro = result.microgrids.to_crs(crs)
    worst = 0.0
    for parent, family in micro[micro["floor_lo"].isna()].groupby("parent_code"):
        union = shapely.union_all(family.geometry.to_numpy())
        worst = max(worst, shapely.area(shapely.symmetric_difference(union, geom_of[parent])))
    assert worst < OVERLAP_TOL


def test_yudu_grids_share_the_empty_ring_around_its_compounds() -> None:
    """The strip between 禹都's compound walls and the outline holds no household.

    Handed whole to one grid it makes a grid of Polsby–Popper ≈ 0.06 wrapped around two
    compounds; shared among the grids along it (see :mod:`gridsvc.partition.empties`) the
    least compact grid is ≈ 0.18. The floor sits between: a ring piece left whole fails it.
    """
    grids = _partitioned("yudu").grids
    metric = grids.to_crs(grids.estimate_utm_crs())
    pp = 4 * np.pi * metric.area / metric.length**2
    assert pp.min() > 0.15, metric.assign(pp=pp).nsmallest(3, "pp")[["code", "households", "pp"]]
    assert pp.mean() > 0.55


def test_urban_keeps_its_worst_grid_compact_around_its_compounds() -> None:
    """urban's rings around its two compounds hold no household. Its worst grid fell to
    Polsby–Popper 0.10 (at 159b461) when both rings' cuts were undone: the grid holding them
    also held empty blocks that hang on them (see test_empties for that case on its own).

    Since 2026-11-23 (s11) one grid of 48 holds a ring's east and south sides whole, PP 0.144:
    the bridge through them joins a unit across the road to one at the compound's corner, which
    the fewest exceptions need (3 in that region where the grids that bridge one empty cell had
    4); every other grid stays above 0.3."""
    grids = _partitioned("urban").grids
    metric = grids.to_crs(grids.estimate_utm_crs())
    pp = np.sort(4 * np.pi * metric.area / metric.length**2)
    assert pp[0] >= 0.14 and pp[1] >= 0.3, pp[:3]


def test_urban_misses_only_where_an_exact_model_proves_it_must() -> None:
    """星河湾 and 和谐家园 hold units of 22–29 households whose neighbours hold 26+.

    No contiguous 30–50 grouping exists without splitting a unit. In the region of 1,612
    households stuck units prove it; in the region of 888 units join only through two empty
    cells, and the exact model over every group they may form (22,685 within 30–50, each of
    whose empty cells joins two of its atoms) proves it. Both are said where, their misses
    flagged as exceptions, and the checker finds nothing else (before 2026-11-23, s11, the
    groups could hold both empty cells only past the 30,000 listed: the region of 888 was
    'not proved' and its 4 misses failed the check)."""
    community, households, buildings, barriers = _community("urban")
    result = partition(community, households, buildings=buildings, barriers=barriers)
    assert check_partition(community, households, result, LEVELS) == []
    outside = result.grids[~result.grids["households"].between(30, 50)]
    assert len(outside) == 6 and outside["flags"].str.contains("exception").all()
    notes = result.report["totals"]["infeasible_regions"]
    proved = [r for r in notes if "proved by an exact model" in r["reason"]]
    assert [r["households"] for r in proved] == [1612, 888]
    assert "units cannot be grouped" in proved[0]["reason"]
    assert all("review these grids by hand" not in r["action"] for r in proved)
    assert not [r for r in notes if "infeasibility is not proved" in r["reason"]]


def test_urban_keeps_the_fewest_exceptions_an_exact_model_allows() -> None:
    """Urban's two lumpy regions hold 72,521 and 91,219 connected groups of up to 65 households
    with one empty cell at most.

    Before 2026-11-23 (s10), past 30,000 groups the fewest-exceptions cover was skipped and the
    heuristic's 5 + 5 misses stayed; then the LP relaxation of "fewest grids outside the bounds"
    proved 4 in each, over groups of one empty cell at most. But units there join through two
    empty cells (:func:`~gridsvc.partition.exact.needs_bridges`), and over every connected group
    (682,985 and 209,033) each region has a plan of 3. Session 10 claimed no count the fewest.
    Now (s11) the groups hold every empty cell that can join two atoms of a group, and leave
    out those where one hangs off (89,721 and 123,447 groups): 3 + 3 exceptions, each count
    proved the fewest (60 grids, 54 in 30–50)."""
    result = _partitioned("urban")
    outside = result.grids[~result.grids["households"].between(30, 50)]
    assert len(result.grids) == 60 and len(outside) == 6
    assert result.report["totals"]["share_within_bounds"] == pytest.approx(54 / 60, abs=1e-3)
    proved = [
        r for r in result.report["totals"]["infeasible_regions"]
        if "proved by an exact model over every connected group" in r["reason"]
    ]  # fmt: skip
    assert [r["households"] for r in proved] == [1612, 888]
    for region in proved:
        assert region["action"].startswith("kept 3 grids outside the bounds (")
        assert "the fewest of any plan whose grids hold at most 65 households" in region["action"]
    assert (
        "the unit of 26 households at (111.00323, 35.04365) touches no units"
        in (proved[0]["reason"])
    )
    budget = result.report["totals"]["budget"]
    assert budget["skipped_too_big"] == 0 and budget["skipped_budget"] == 0


def _crossing_notes(result: PartitionResult) -> list[dict]:
    return [
        n for n in result.report["totals"]["infeasible_regions"]
        if "are cut off by barriers" in n["reason"]
    ]  # fmt: skip


def test_urban_notes_name_where_its_grids_cross_barriers() -> None:
    """urban's regions of 1258 and 725 households are each merged across a barrier by a
    lumpiness proof, and one grid of each crosses it, through empty cells. The notes named the
    longest border between the merged regions, 183 m and 10 m from the grid that crosses; now
    the point each names lies on a border its crossing grid spans."""
    result = _partitioned("urban")
    notes = _crossing_notes(result)
    assert [n["households"] for n in notes] == [1258, 725]
    grids = result.grids.to_crs(result.grids.estimate_utm_crs())
    crossing = grids[grids["flags"].str.contains("barrier_crossing")].geometry
    assert len(crossing) == result.report["totals"]["barrier_crossings"] == 2
    near = []
    for note in notes:
        [(lon, lat)] = re.findall(r"allowed crossing at \(([\d.]+), ([\d.]+)\)", note["action"])
        point = gpd.GeoSeries([shapely.Point(float(lon), float(lat))], crs=4326).to_crs(grids.crs)
        near.append(int(np.argmin(crossing.distance(point[0]))))
        assert crossing.distance(point[0]).min() < 1.0  # metres (the point is rounded to 1e-5°)
    assert sorted(near) == [0, 1]


def test_urban_notes_say_no_grid_crosses_where_none_does() -> None:
    """At a city run's budget the region of 725 households is merged across a barrier, yet no
    grid crosses it (its own plan ranks first, see level._apart): its note said "allowed
    crossing at (…)" all the same."""
    community, households, buildings, barriers = _community("urban")
    result = partition(community, households, buildings=buildings, barriers=barriers, budget=0.2)
    assert result.report["totals"]["barrier_crossings"] == 0
    notes = _crossing_notes(result)
    assert [n["households"] for n in notes] == [725]
    assert notes[0]["action"] == "no grid crosses the barriers: its grids stay on its side of them"


def test_yudu_matches_its_published_totals() -> None:
    households = _community("yudu")[1]
    result = _partitioned("yudu")
    # 1,856 households: 38–61 base grids possible; micro-grids ≈ units
    assert 38 <= len(result.grids) <= 61
    assert result.grids["households"].sum() == 1856
    assert result.grids["residents"].sum() == int(households["size"].sum())
    assert result.report["totals"]["barrier_crossings"] == 0


def test_urban_report_admits_what_it_missed() -> None:
    community, households, buildings, barriers = _community("urban")
    result = partition(community, households, buildings=buildings, barriers=barriers)
    problems = check_partition(community, households, result, LEVELS)
    missed = [
        n
        for n in result.report["totals"]["infeasible_regions"]
        if "infeasibility is not proved" in n["reason"]
    ]
    flagged = result.grids[result.grids["flags"].str.contains("out_of_bounds")]
    # every grid the checker rejects is flagged and explained in the report
    assert len(problems) == len(flagged[~flagged["flags"].str.contains("exception")])
    assert sum(len(n["reason"].split("([")[1].split(",")) for n in missed) == len(problems)
    assert all(p.endswith("outside 30–50") for p in problems)


def _baltimore() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    path = FIXTURES / "baltimore_pigtown.gpkg"
    assert path.exists(), "fixtures/baltimore_pigtown.gpkg missing"
    outline = gpd.read_file(path, layer="csa_outline").assign(code="245100000001")
    return outline, gpd.read_file(path, layer="blocks_2020")


def test_baltimore_blocks_partition_cleanly() -> None:
    """Real census blocks: blocks of 21–29 housing units touch only blocks of 22+.

    Each grid is made of its blocks' own polygons, so every household (a point inside its
    block) lies in its grid. The blocks tile the CSA along street centre lines: every two blocks
    less than a metre apart share an edge or a corner (no road gaps), and two blocks meeting at
    a corner cannot form one connected grid, so the graph misses no neighbour.
    """
    outline, blocks = _baltimore()
    metric = blocks.to_crs("EPSG:32618").geometry.to_numpy()
    tree = shapely.STRtree(metric)
    near = tree.query(metric, predicate="dwithin", distance=1.0)
    assert (near == tree.query(metric, predicate="intersects")).all()  # no road gaps
    result = partition(outline, areas=blocks, count_field="housing20")
    households = areas_to_households(blocks, "housing20", "EPSG:32618", within=outline)
    assert check_partition(outline, households, result, LEVELS) == []
    assert result.grids["households"].sum() == int(blocks["housing20"].sum()) == 2894
    outside = result.grids[~result.grids["households"].between(30, 50)]
    assert all("exception" in flags for flags in outside["flags"])
    # 8 of 75 grids were exceptions when a stuck unit let the heuristic's plan stand whole, and
    # blocks of 51–59 split into two lumps of 26–29 (now one small strip and one of 50)
    assert len(outside) == 2 and len(result.grids) == 74
    assert result.report["totals"]["share_within_bounds"] >= 72 / 74
    (region,) = result.report["totals"]["infeasible_regions"]
    assert (
        "proved by an exact model over every connected group of units: the unit of 19"
        in (region["reason"])
    )
    assert region["action"].startswith(
        f"kept 2 grids outside the bounds ({outside['households'].tolist()}) as exceptions "
        "(flagged), the fewest of any plan whose grids hold at most 65 households (proved"
    )
