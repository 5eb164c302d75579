"""Atoms: one per stairwell unit; over-size units split by contiguous floor ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridsvc.partition.atoms import Bounds, _unit_codes, build_atoms, floor_cuts


def _unit(n: int, floors: int, building: str = "B1", unit: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": [building] * n,
            "unit": [unit] * n,
            "floor": [1 + i * floors // n for i in range(n)],
            "size": [2] * n,
        }
    )


def test_bounds_k_range_and_choice() -> None:
    b = Bounds(30, 50)
    assert b.k_range(100) == (2, 3)
    assert b.choose_k(100) == 2  # 100 / 40 = 2.5 rounds to 2
    assert b.choose_k(120) == 3
    assert b.choose_k(55) is None  # one grid holds ≤ 50, two need ≥ 60
    assert b.choose_k(22) is None
    assert Bounds(1, 15).choose_k(17) == 2


def test_one_atom_per_unit_and_per_house() -> None:
    hh = pd.concat([_unit(12, 6, "B1", 1), _unit(10, 6, "B1", 2)], ignore_index=True)
    houses = pd.DataFrame(
        {
            "building_id": ["H1", "H1", None],
            "unit": [None, None, None],
            "floor": [1, 2, None],
            "size": [3, 1, 4],
        }
    )
    frame = pd.concat([hh, houses], ignore_index=True)
    atoms = build_atoms(frame, np.zeros((len(frame), 2)), Bounds(30, 50))
    assert sorted(atoms.table["households"].tolist()) == [1, 2, 10, 12]
    assert not atoms.table["stacked"].any()
    # the two households of house H1 share an atom; the one without building is alone
    assert atoms.member[22] == atoms.member[23] != atoms.member[24]


@pytest.mark.parametrize("group", [None, np.empty(0, dtype=np.int64)])
def test_no_households_make_no_atoms(group: np.ndarray | None) -> None:
    atoms = build_atoms(_unit(0, 1), np.empty((0, 2)), Bounds(30, 50), group=group)
    assert atoms.table.empty
    assert "households" in atoms.table.columns
    assert atoms.member.tolist() == []


def test_oversize_unit_is_stacked_by_floor_ranges() -> None:
    frame = _unit(120, 20)  # 6 households a floor
    atoms = build_atoms(frame, np.zeros((120, 2)), Bounds(30, 50))
    t = atoms.table
    stacked = t[t["stacked"]].sort_values("floor_lo")
    assert stacked["households"].tolist() == [42, 42, 36]  # cuts moved to floor changes
    assert stacked["floor_lo"].tolist() == [1, 8, 15]
    assert stacked["floor_hi"].tolist() == [7, 14, 20]
    ground = t[~t["stacked"]]
    assert ground["households"].tolist() == [0]  # the footprint is free for a neighbour grid


def test_unit_just_over_the_bound_keeps_a_small_ground_part() -> None:
    atoms = build_atoms(_unit(55, 11), np.zeros((55, 2)), Bounds(30, 50))
    t = atoms.table.sort_values("floor_lo")
    assert t["households"].tolist() == [5, 50]
    assert t["stacked"].tolist() == [False, True]
    assert t["floor_hi"].iloc[0] < t["floor_lo"].iloc[1]


def test_unit_without_floors_is_split_on_the_ground() -> None:
    frame = pd.DataFrame(
        {"building_id": ["A"] * 90, "unit": [None] * 90, "floor": [None] * 90, "size": [1] * 90}
    )
    xy = np.column_stack([np.arange(90.0), np.zeros(90)])
    atoms = build_atoms(frame, xy, Bounds(30, 50))
    t = atoms.table
    assert t["households"].tolist() == [45, 45]
    assert not t["stacked"].any()
    assert t["x"].iloc[0] < t["x"].iloc[1]


@pytest.mark.parametrize(
    ("floors", "sizes", "mins", "expected"),
    [
        (np.repeat(np.arange(1, 11), 4), [20, 20], [10, 10], [20]),
        (np.repeat(np.arange(1, 11), 4), [21, 19], [10, 10], [20]),  # moved to the floor change
        (np.repeat(np.arange(1, 3), 20), [15, 25], [10, 22], [15]),  # moving breaks the bounds
    ],
)
def test_floor_cuts(
    floors: np.ndarray, sizes: list[int], mins: list[int], expected: list[int]
) -> None:
    assert floor_cuts(floors, sizes, mins, 30) == expected


def test_atoms_built_per_group_restrict_to_the_atoms_of_that_group_alone() -> None:
    """Micro-grid atoms are built once for all parents; each parent's slice equals its own."""
    frame = pd.concat(
        [_unit(40, 10, "B1", 1), _unit(12, 6, "B1", 2), _unit(33, 11, "B2", 1)],
        ignore_index=True,
    )
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, size=(len(frame), 2))
    group = np.r_[np.zeros(40), np.ones(12), np.zeros(33)].astype(int)  # parents 0 and 1
    whole = build_atoms(frame, xy, Bounds(1, 15), group=group).columns()
    for g in (0, 1):
        rows = np.flatnonzero(group == g)
        got = whole.restrict(rows)
        want = build_atoms(frame.iloc[rows], xy[rows], Bounds(1, 15)).columns()
        np.testing.assert_array_equal(got.member, want.member)
        np.testing.assert_array_equal(got.households, want.households)
        np.testing.assert_array_equal(got.stacked, want.stacked)
        np.testing.assert_array_equal(got.ground, want.ground)
        np.testing.assert_allclose(got.xy, want.xy)
        np.testing.assert_array_equal(got.floor_lo, want.floor_lo)
        np.testing.assert_array_equal(got.floor_hi, want.floor_hi)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "B1", "B10", "B2", "B1|2", "hh:1", "a/b"]),
            st.sampled_from([-1, 1, 2, 10]),
            st.sampled_from([-1, 0, 3, 12]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_unit_codes_rank_each_households_key_text(
    rows: list[tuple[str, int, int]], grouped: bool
) -> None:
    """Codes built per distinct unit are those of the key text built per household: the
    text's sorted order ("B10" before "B2", "10" before "2"), a key per household alone."""
    building = np.array([r[0] for r in rows], dtype=object)
    unit = np.array([r[1] for r in rows], dtype=np.int64)
    group = np.array([r[2] for r in rows], dtype=np.int64) if grouped else None
    keys = building + "|" + unit.astype(str).astype(object)
    alone = np.flatnonzero(building == "")
    keys[alone] = [f"hh:{i}" for i in alone.tolist()]
    if group is not None:
        keys = group.astype(str).astype(object) + "/" + keys
    want, _ = pd.factorize(pd.Series(keys), sort=True)
    assert _unit_codes(building, unit, group).tolist() == want.tolist()
