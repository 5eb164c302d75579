"""Group households into atoms: the indivisible pieces the partition moves around.

One atom per stairwell unit (building, unit); a house with no unit is one atom per building, a
household with no building one atom by itself. A unit holding more households than the upper
bound is split by contiguous floor ranges: the lowest floors stay an ordinary ("ground") atom and
the upper floor ranges become "stacked" atoms that form grids of their own on the same footprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AtomColumns", "Atoms", "Bounds", "build_atoms", "floor_cuts"]

_COLUMNS = [
    "households",
    "residents",
    "x",
    "y",
    "building",
    "unit",
    "compound",
    "floor_lo",
    "floor_hi",
    "stacked",
    "ground",
]


@dataclass(frozen=True, slots=True)
class Bounds:
    """Household bounds of one grid level: ``lo`` ≤ households per grid ≤ ``hi``."""

    lo: int
    hi: int

    @property
    def target(self) -> float:
        """Return the preferred grid size (a little above the middle for loose lower bounds)."""
        return max((self.lo + self.hi) / 2.0, 0.75 * self.hi)

    def k_range(self, households: int) -> tuple[int, int]:
        """Return the smallest and largest number of grids ``households`` can fill."""
        if households <= 0:
            return (0, 0)
        lo_k = math.ceil(households / self.hi)
        hi_k = households // self.lo if self.lo > 0 else households
        return lo_k, hi_k

    def choose_k(self, households: int) -> int | None:
        """Return the number of grids nearest the target size, or None if none fits."""
        lo_k, hi_k = self.k_range(households)
        if lo_k > hi_k:
            return None
        return min(max(round(households / self.target), lo_k), hi_k)

    def holds(self, households: int) -> bool:
        """Return True if ``households`` is within the bounds."""
        return self.lo <= households <= self.hi


@dataclass(frozen=True, slots=True)
class Atoms:
    """Atoms of one territory.

    ``table`` columns: households, residents, x, y (metres), building, unit, compound,
    floor_lo, floor_hi, stacked (bool), ground (index of the ground atom it sits on, itself for
    ground atoms). ``member[i]`` is the atom of household row ``i``.
    """

    table: pd.DataFrame
    member: np.ndarray

    @property
    def ground(self) -> np.ndarray:
        """Return the indices of the atoms that own a piece of territory."""
        return np.flatnonzero(~self.table["stacked"].to_numpy())

    def columns(self) -> AtomColumns:
        """Return the table as numpy columns (cheap to slice, see :meth:`AtomColumns.restrict`)."""
        t = self.table
        return AtomColumns(
            households=t["households"].to_numpy(dtype=float),
            xy=t[["x", "y"]].to_numpy(dtype=float),
            building=t["building"].to_numpy(dtype=object),
            compound=t["compound"].to_numpy(dtype=object),
            floor_lo=pd.to_numeric(t["floor_lo"]).to_numpy(dtype=float),
            floor_hi=pd.to_numeric(t["floor_hi"]).to_numpy(dtype=float),
            stacked=t["stacked"].to_numpy(dtype=bool),
            ground=t["ground"].to_numpy(dtype=np.int64),
            member=self.member,
        )


@dataclass(frozen=True, slots=True)
class AtomColumns:
    """The atom table as numpy arrays (see :class:`Atoms`), plus ``member`` per household."""

    households: np.ndarray
    xy: np.ndarray
    building: np.ndarray
    compound: np.ndarray
    floor_lo: np.ndarray
    floor_hi: np.ndarray
    stacked: np.ndarray
    ground: np.ndarray
    member: np.ndarray

    @property
    def grounded(self) -> np.ndarray:
        """Return the indices of the atoms that own a piece of territory."""
        return np.flatnonzero(~self.stacked)

    def restrict(self, rows: np.ndarray) -> AtomColumns:
        """Return the atoms of household ``rows`` (``member`` then indexes ``rows``).

        Every atom of the rows must lie entirely among them (build with ``group`` so it does).
        """
        ids, member = np.unique(self.member[rows], return_inverse=True)
        under = self.ground[ids]  # a stacked atom's (possibly empty) ground atom
        at = np.minimum(np.searchsorted(ids, under), len(ids) - 1)
        if not (ids[at] == under).all():  # some ground atom is not among the rows' atoms
            keep = np.union1d(ids, under)
            member = np.searchsorted(keep, ids)[member]
            ids = keep
        return AtomColumns(
            households=self.households[ids],
            xy=self.xy[ids],
            building=self.building[ids],
            compound=self.compound[ids],
            floor_lo=self.floor_lo[ids],
            floor_hi=self.floor_hi[ids],
            stacked=self.stacked[ids],
            ground=np.searchsorted(ids, self.ground[ids]),
            member=member.astype(np.int64).ravel(),
        )


def floor_cuts(floors: np.ndarray, sizes: list[int], mins: list[int], hi: int) -> list[int]:
    """Return cut positions in floor-sorted households near ``sizes``, moved to floor changes.

    A cut moves to the nearest position where the floor changes if every part stays within
    ``mins[i]``…``hi`` households; otherwise it stays (the floor is then shared by two parts).
    """
    n = len(floors)
    # a unit's few dozen households: plain lists beat numpy's per-call cost here
    changes = (np.flatnonzero(np.diff(floors) != 0) + 1).tolist()
    cuts: list[int] = []
    pos = 0
    for i, size in enumerate(sizes[:-1]):
        rest = len(sizes) - i - 1
        low = max(pos + mins[i], n - hi * rest)
        high = min(pos + hi, n - sum(mins[i + 1 :]))
        want = min(max(pos + size, low), high)
        ok = [c for c in changes if low <= c <= high]
        best = min(ok, key=lambda c: abs(c - want)) if ok else want  # the first nearest
        cuts.append(best)
        pos = best
    return cuts


def _even(total: int, k: int) -> list[int]:
    base, extra = divmod(total, k)
    return [base + 1] * extra + [base] * (k - extra)


def _long_axis(xy: np.ndarray) -> np.ndarray:
    """Return the projection of points on their principal axis."""
    pts = xy - xy.mean(axis=0)
    if len(pts) < 2 or not np.ptp(pts, axis=0).any():
        return np.arange(len(pts), dtype=float)
    _, vecs = np.linalg.eigh(pts.T @ pts)
    return pts @ vecs[:, -1]


def _pieces(
    idx: np.ndarray, xy: np.ndarray, floor: np.ndarray, bounds: Bounds
) -> tuple[list[np.ndarray], bool, bool]:
    """Split one unit's households (floor-sorted ``idx``); return pieces, flat, zero_ground.

    Within bounds: one piece. Pieces are even when each can hold the bounds, else one small
    piece and full ones (58 households against 30–50: 8 and 50, not two lumps of 29 that could
    each join only a neighbour of 1–21). Without floors: strips along the long axis (flat), the
    small one first. Otherwise floor ranges: all stacked within bounds when they can be
    (zero_ground, for a lower bound above 1), else the small piece on the lowest floors (ground)
    and full stacked ones above.
    """
    total, lo, hi = len(idx), bounds.lo, bounds.hi
    if total <= hi:
        return [idx], False, False
    k = math.ceil(total / hi)
    even = total / k >= lo
    sizes = _even(total, k) if even else [total - hi * (k - 1), *([hi] * (k - 1))]
    if not floor[idx].any():
        order = idx[np.argsort(_long_axis(xy[idx]), kind="stable")]
        return np.split(order, np.cumsum(sizes)[:-1]), True, False
    if even:
        mins = [lo] * k
        zero_ground = lo > 1
        if not zero_ground:
            mins[0] = 1
    else:
        mins, zero_ground = [1, *([lo] * (k - 1))], False
    return np.split(idx, floor_cuts(floor[idx], sizes, mins, hi)), False, zero_ground


def _unit_codes(building: np.ndarray, unit: np.ndarray, group: np.ndarray | None) -> np.ndarray:
    """Return per household the rank of its unit's key among the sorted distinct keys.

    The key is "building|unit", "hh:<row>" for a household without a building (alone), each
    prefixed by "group/" when ``group`` is given; its text is built once per distinct
    (group, building, unit), not per household.
    """
    n = len(building)
    alone = building == ""
    unit_code = pd.factorize(unit)[0]
    key = pd.factorize(pd.factorize(building)[0] * (unit_code.max() + 1) + unit_code)[0]
    key = np.where(alone, key.max() + 1 + np.arange(n), key)  # alone: a key of its own
    if group is not None:
        key += pd.factorize(np.asarray(group))[0] * (key.max() + 1)
    inverse, distinct = pd.factorize(key)
    rows = np.empty(len(distinct), dtype=np.int64)  # one household of each distinct key
    rows[inverse[::-1]] = np.arange(n - 1, -1, -1)
    keys = building[rows] + "|" + unit[rows].astype(str).astype(object)
    keys[alone[rows]] = [f"hh:{i}" for i in rows[alone[rows]].tolist()]
    if group is not None:
        keys = np.asarray(group)[rows].astype(str).astype(object) + "/" + keys
    codes, _ = pd.factorize(pd.Series(keys), sort=True)
    return codes[inverse]


def build_atoms(
    households: pd.DataFrame,
    xy: np.ndarray,
    bounds: Bounds,
    *,
    compounds: pd.Series | None = None,
    group: np.ndarray | None = None,
) -> Atoms:
    """Group ``households`` (rows aligned with ``xy`` metres) into atoms for ``bounds``.

    ``compounds`` maps building id to compound (小区) name when buildings are known; ``group``
    (one integer per household, e.g. its parent grid) keeps atoms from spanning two groups.
    """
    n = len(households)
    if n == 0:
        return Atoms(table=pd.DataFrame([], columns=_COLUMNS), member=np.empty(0, dtype=np.int64))
    building = households["building_id"].astype("string").fillna("").to_numpy(dtype=object)
    unit = pd.to_numeric(households["unit"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    floor = pd.to_numeric(households["floor"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    size = pd.to_numeric(households["size"], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
    codes = _unit_codes(building, unit, group)
    order = np.lexsort((np.arange(n), floor, codes))
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    ends = np.r_[starts[1:], n]
    count = np.maximum(ends - starts, 1)
    mean = np.add.reduceat(xy[order], starts, axis=0) / count[:, None]
    first = order[starts]
    compound_of = {} if compounds is None else compounds.to_dict()
    unit_building = building[first]
    unit_compound = [str(compound_of.get(b, "") or "") for b in unit_building.tolist()]
    # a unit within the upper bound is one ground atom; larger ones are split (_pieces)
    big = np.flatnonzero(count > bounds.hi)
    split = {int(u): _pieces(order[starts[u] : ends[u]], xy, floor, bounds) for u in big}
    n_rows = np.ones(len(starts), dtype=np.int64)
    for u, (pieces, _, zero_ground) in split.items():
        n_rows[u] = len(pieces) + int(zero_ground)
    first_row = np.cumsum(n_rows) - n_rows
    unit_of_row = np.repeat(np.arange(len(starts)), n_rows)
    households_col = np.repeat(count, n_rows)
    residents = np.add.reduceat(size[order], starts)
    residents_col = np.repeat(residents, n_rows)
    x, y = np.repeat(mean[:, 0], n_rows), np.repeat(mean[:, 1], n_rows)
    floor_lo: list[int | None] = [None] * len(unit_of_row)
    floor_hi: list[int | None] = [None] * len(unit_of_row)
    stacked = np.zeros(len(unit_of_row), dtype=bool)
    ground = first_row[unit_of_row]
    member = np.empty(n, dtype=np.int64)
    member[order] = np.repeat(first_row, count)
    for u, (pieces, flat, zero_ground) in split.items():
        row = int(first_row[u])
        if zero_ground:  # every floor range is a stacked grid; the footprint stays free
            households_col[row], residents_col[row] = 0, 0
            row += 1
        for p, piece in enumerate(pieces):
            member[piece] = row
            households_col[row] = len(piece)
            residents_col[row] = int(size[piece].sum())
            if flat:
                ground[row] = row
                x[row], y[row] = float(xy[piece, 0].mean()), float(xy[piece, 1].mean())
            elif len(pieces) > 1:
                fl = floor[piece]
                floor_lo[row], floor_hi[row] = int(fl.min()), int(fl.max())
                stacked[row] = zero_ground or p > 0
            row += 1
    table = pd.DataFrame(
        {
            "households": households_col,
            "residents": residents_col,
            "x": x,
            "y": y,
            "building": unit_building[unit_of_row],
            "unit": unit[first][unit_of_row],
            "compound": np.array(unit_compound, dtype=object)[unit_of_row],
            "floor_lo": floor_lo,
            "floor_hi": floor_hi,
            "stacked": stacked,
            "ground": ground,
        },
        columns=_COLUMNS,
    )
    return Atoms(table=table, member=member)
