"""partition(soft_barriers=...): grids follow a soft line where the bounds allow, cross it else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from drawings import UTM, X0, strip, vertical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsvc.partition import Bounds, check_partition, partition

LEVELS = (Bounds(30, 50),)


def _sides(households, result, x: float) -> pd.DataFrame:
    """Return per household its grid and whether it lies west of ``x`` (local metres)."""
    local = households.to_crs(UTM).geometry.x.to_numpy() - X0
    grid = result.assignment.set_index("household_id")["grid_code"].reindex(households["id"])
    return pd.DataFrame({"west": local < x, "grid": grid.to_numpy()})


def _follows(sides: pd.DataFrame) -> bool:
    """Tell whether no grid holds households on both sides of the line."""
    return bool((sides.groupby("grid")["west"].nunique() == 1).all())


def test_soft_line_is_followed_where_the_bounds_allow() -> None:
    """80 houses in 20 columns; a line after column 8 splits them 32 | 48, both within 30–50."""
    community, households = strip()
    soft = partition(community, households, soft_barriers=vertical(80.0), levels=LEVELS)
    plain = partition(community, households, levels=LEVELS)
    assert check_partition(community, households, soft, LEVELS) == []
    assert _follows(_sides(households, soft, 80.0))
    assert not _follows(_sides(households, plain, 80.0))  # the line changed the plan
    assert soft.report["totals"]["barrier_crossings"] == 0
    assert soft.report["totals"]["infeasible_regions"] == []


def test_soft_line_is_crossed_when_the_bounds_demand_it() -> None:
    """A line after column 2 leaves 8 houses west: they must share a grid with the east side."""
    community, households = strip()
    result = partition(community, households, soft_barriers=vertical(20.0), levels=LEVELS)
    assert check_partition(community, households, result, LEVELS) == []
    assert not _follows(_sides(households, result, 20.0))
    assert result.report["totals"]["infeasible_regions"] == []  # soft lines are no barriers


def test_soft_lines_cut_the_grid_geometry() -> None:
    """Grid borders run along the soft line, not across Voronoi cells straddling it."""
    community, households = strip()
    result = partition(community, households, soft_barriers=vertical(80.0), levels=LEVELS)
    grids = result.grids.to_crs(UTM)
    xs = sorted(round(float(shapely.bounds(g)[2]) - X0, 1) for g in grids.geometry)
    assert xs == [80.0, 200.0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=19))
def test_soft_line_anywhere_keeps_a_valid_partition(column: int) -> None:
    """Wherever the line runs, the plan is valid; when both sides fit 30–50 it is followed."""
    community, households = strip()
    x = 10.0 * column
    result = partition(community, households, soft_barriers=vertical(x), levels=LEVELS)
    assert check_partition(community, households, result, LEVELS) == []
    west = 4 * column
    if 30 <= west <= 50 and 30 <= 80 - west <= 50:
        assert _follows(_sides(households, result, x))
    assert np.isin(result.assignment["household_id"], households["id"]).all()
