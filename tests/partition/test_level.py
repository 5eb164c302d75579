"""One level's shortcuts give what the general path (graph, regions, split, sharing) gives."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Transformer

from gridsvc.partition import Bounds
from gridsvc.partition.atoms import AtomColumns
from gridsvc.partition.budget import Budget
from gridsvc.partition.codes import number
from gridsvc.partition.level import _draw, partition_level
from gridsvc.partition.territory import Territory

TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)


def _unit(households: int, stacked: int) -> AtomColumns:
    """One ground atom of ``households`` and ``stacked`` atoms of 10 above it."""
    member = np.concatenate([np.zeros(households), np.repeat(np.arange(1, stacked + 1), 10)])
    n = 1 + stacked
    return AtomColumns(
        households=np.bincount(member.astype(int), minlength=n).astype(float),
        xy=np.full((n, 2), 5.0),
        building=np.full(n, "B", dtype=object),
        compound=np.full(n, "", dtype=object),
        floor_lo=np.array([1.0] + [3.0 + 2 * i for i in range(stacked)]),
        floor_hi=np.array([2.0] + [4.0 + 2 * i for i in range(stacked)]),
        stacked=np.arange(n) > 0,
        ground=np.zeros(n, dtype=np.int64),
        member=member.astype(np.int64),
    )


@given(st.integers(1, 15), st.integers(0, 3), st.floats(4.0, 40.0), st.floats(4.0, 40.0))
def test_a_lone_inhabited_cell_is_the_grid_the_general_path_draws(
    households: int, stacked: int, width: float, height: float
) -> None:
    cell = shapely.box(0, 0, width, height)
    terr = Territory(
        atoms=np.arange(1),
        cells=np.array([cell], dtype=object),
        cell_block=np.zeros(1, dtype=np.int64),
        orphans=np.empty(0, dtype=object),
        orphan_block=np.empty(0, dtype=np.int64),
        blocks=np.empty(0, dtype=object),
        cell_soft=np.zeros(1, dtype=np.int64),
        orphan_soft=np.empty(0, dtype=np.int64),
    )
    atoms = _unit(households, stacked)
    bounds = Bounds(1, 15)
    parts, geoms, cuts = _draw(
        terr, atoms, atoms.xy[:1], atoms.households[:1], np.zeros(1, dtype=bool), bounds, False,
        bridge=True, to_wgs=TO_WGS, notes=[], budget=Budget(0.0),
    )  # fmt: skip
    assert [(p.tolist(), e) for p, e in parts] == [([0], False)] and cuts == {}
    xy = np.full((len(atoms.member), 2), 5.0)
    cells = partition_level(
        cell, None, xy, bounds, barriers=None, compounds=None, to_wgs=TO_WGS, notes=[],
        atoms=atoms, territory=terr,
    )  # fmt: skip
    assert cells[0].geometry.equals(geoms[0]) and cells[0].flags == []
    assert cells[0].members.tolist() == list(range(households))
    assert [(c.floor_lo, c.floor_hi, c.stacked) for c in cells[1:]] == [
        (3 + 2 * i, 4 + 2 * i, True) for i in range(stacked)
    ]
    assert sum(len(c.members) for c in cells) == len(atoms.member)


@given(st.lists(st.one_of(st.none(), st.integers(1, 30)), min_size=1, max_size=6))
def test_grids_on_one_footprint_are_numbered_as_equal_copies_would_be(
    floors: list[int | None],
) -> None:
    # the shortcut for one shared footprint (a unit's stacked grids) orders them by floor, as
    # the reading order does for copies that are equal but not the same object
    same = shapely.box(0, 0, 10, 20)
    lo = np.array([np.nan if f is None else f for f in floors], dtype=float)
    shared = number(np.array([same] * len(floors), dtype=object), lo, parent="P", level=2)
    copies = np.array([shapely.box(0, 0, 10, 20) for _ in floors], dtype=object)
    assert shared == number(copies, lo, parent="P", level=2)
    assert sorted(shared) == [f"P{i:02d}" for i in range(1, len(floors) + 1)]
