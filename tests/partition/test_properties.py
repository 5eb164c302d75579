"""Invariants on random communities (hypothesis)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from partition_drawings import UTM, to_wgs

from gridsvc.partition import Bounds, check_partition, partition

LEVELS = (Bounds(30, 50), Bounds(1, 15))


def town(width: int, height: int, n: int, seed: int, max_unit: int) -> tuple:
    """A ``width`` × ``height`` m rectangle with up to ``n`` buildings placed from ``seed``, each of
    1–3 units of 1–``max_unit`` households; returns the community and its households."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    points: list[shapely.Point] = []
    centres: list[tuple[float, float]] = []
    for b in range(n):
        cx, cy = rng.uniform(10, width - 10), rng.uniform(10, height - 10)
        # buildings never overlap: one unit's flats never interleave with another unit's
        if any(abs(cx - x) < 12 and abs(cy - y) < 5 for x, y in centres):
            continue
        centres.append((cx, cy))
        for u in range(int(rng.integers(1, 4))):
            size = int(rng.integers(1, max_unit + 1))
            floors = int(rng.integers(1, 19))
            for h in range(size):
                points.append(
                    shapely.Point(cx + 3 * u + rng.uniform(-1, 1), cy + rng.uniform(-1, 1))
                )
                rows.append(
                    {
                        "id": f"H{len(rows)}",
                        "building_id": f"B{b}",
                        "unit": u + 1,
                        "floor": 1 + h * floors // size,
                        "size": 2,
                    }
                )
    households = to_wgs(points, **{k: [r[k] for r in rows] for k in rows[0]})
    community = to_wgs([shapely.box(0, 0, width, height)], code=["140802002099"])
    return community, households


@st.composite
def communities(draw: st.DrawFn, max_unit: int = 60) -> tuple:
    """A rectangle with random buildings (1–3 units of 1–``max_unit`` households) and a road."""
    width = draw(st.integers(150, 500))
    height = draw(st.integers(150, 400))
    n = draw(st.integers(3, 25))
    seed = draw(st.integers(0, 2**16))
    community, households = town(width, height, n, seed, max_unit)
    road = road_across(width, height, draw(st.floats(0.2, 0.8))) if draw(st.booleans()) else None
    return community, households, road


def road_across(width: int, height: int, at: float) -> gpd.GeoDataFrame:
    """A slanted road across a :func:`town` from ``at`` of its width at the bottom."""
    x = at * width
    return to_wgs([shapely.LineString([(x, -5), (x + 30, height + 5)])], kind=["road"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities())
# grids overlapped where snapping bent edges into the grid across the road: base grids by
# 0.22 m² (a unit's cells on both sides, one rounded across the road), micro-grids by 0.13 m²
# (a share of an empty cell bent into the micro-grid across)
@example((*town(184, 288, 25, 58165, max_unit=10), road_across(184, 288, 0.5622147749198183)))
@example((*town(157, 220, 3, 26089, max_unit=10), road_across(157, 220, 0.44289588880219716)))
# a micro-grid drawn on its parent's tiles kept the 0.33 m² sliver settle_overlaps cut out of
# the parent, and overlapped the neighbouring grid's micro-grid there (3 of 200 communities)
@example((*town(150, 322, 3, 322, max_unit=60), road_across(150, 322, 0.27145173426245506)))
def test_every_household_once_and_the_grids_tile(case: tuple) -> None:
    community, households, road = case
    result = partition(community, households, barriers=road)
    problems = check_partition(community, households, result, LEVELS)
    # tiling, nesting, assignment and unit integrity always hold; bounds may be missed only
    # where the report explains it
    assert [p for p in problems if "outside" not in p] == []
    if problems:
        assert result.report["totals"]["infeasible_regions"]
    assert result.assignment["household_id"].tolist() == households["id"].tolist()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities(max_unit=10))
# Voronoi edges under a centimetre inside one stairwell unit: snapped cell by cell they cut the
# unit in two, and four of its households fell outside every micro-grid
@example((*town(291, 160, 13, 3785, max_unit=10), None))
def test_small_units_always_meet_the_bounds(case: tuple) -> None:
    community, households, _ = case
    if len(households) < 30:
        return
    result = partition(community, households)
    assert check_partition(community, households, result, LEVELS) == []


def test_assignment_is_a_function_of_input_order_free_ids() -> None:
    """Shuffling the household rows changes nothing but row order."""
    rng = np.random.default_rng(1)
    pts = [shapely.Point(x, y) for x, y in rng.uniform(5, 195, size=(90, 2))]
    hh = to_wgs(pts, id=[f"H{i:02d}" for i in range(90)], building_id=[None] * 90)
    community = to_wgs([shapely.box(0, 0, 200, 200)], code=["140802002099"])
    one = partition(community, hh).assignment.set_index("household_id").sort_index()
    shuffled = gpd.GeoDataFrame(hh.sample(frac=1.0, random_state=3), crs=hh.crs)
    two = partition(community, shuffled).assignment.set_index("household_id").sort_index()
    pd.testing.assert_frame_equal(one, two)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities(), st.floats(0.05, 0.85), st.floats(0.05, 0.85), st.booleans())
def test_a_dedicated_site_anywhere_keeps_the_tiling(
    case: tuple, fx: float, fy: float, walled: bool
) -> None:
    """A school dropped anywhere (walled or among homes) becomes a grid; nothing else breaks."""
    community, households, road = case
    metric = households.to_crs(UTM)
    homes = metric.dissolve("building_id").reset_index()
    homes = gpd.GeoDataFrame(
        {"id": homes["building_id"], "use": "residential"},  # no floors/units columns
        geometry=homes.geometry.convex_hull.buffer(2.0),
        crs=UTM,
    )
    x0, y0, x1, y1 = community.to_crs(UTM).total_bounds
    x, y = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
    school = shapely.box(x, y, x + 30, y + 20)
    buildings = gpd.GeoDataFrame(
        {"id": [*homes["id"], "S1"], "use": [*homes["use"], "school"]},
        geometry=[*homes.geometry, school],
        crs=UTM,
    ).to_crs("EPSG:4326")
    barriers = [] if road is None else [road.to_crs(UTM)]
    if walled:
        wall = gpd.GeoDataFrame({"kind": ["wall"]}, geometry=[school.buffer(8).exterior], crs=UTM)
        barriers.append(wall)
    lines = (
        gpd.GeoDataFrame(pd.concat(barriers, ignore_index=True), crs=UTM).to_crs("EPSG:4326")
        if barriers
        else None
    )
    result = partition(community, households, buildings=buildings, barriers=lines, dedicated=True)
    problems = check_partition(community, households, result, LEVELS)
    assert [p for p in problems if "outside" not in p] == []
    dedicated = result.grids[result.grids["kind"] == "dedicated"]
    assert (dedicated["households"] == 0).all()
    assert result.grids["households"].sum() == len(households)
