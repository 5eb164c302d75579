"""Exact partition of a region by set partitioning over enumerated connected groups.

When atoms are lumpy (stairwell units of 20–49 households against 30–50 bounds) the feasible
grids are small connected groups of atoms. We enumerate every connected group whose household
count lies within the bounds (each group once, by the ESU extension-set method), then choose
groups that cover every atom exactly once with HiGHS, minimising the total perimeter (shared
borders inside a building or compound count extra, so cuts avoid them). A region whose atoms
admit no such cover is proved infeasible under the never-split-a-unit rule.

An infeasible region still gets an exact plan: the closest one, with the fewest grids outside
the bounds. Groups of up to ``hi + lo / 2`` households (:func:`exception_cap`) join the cover;
the LP relaxation of "fewest groups outside the bounds" bounds their number from below and its
reduced costs leave only the groups a plan with that many can use, over which the least
perimeter plan is found (:func:`_fewest_exceptions`): the count is proved the fewest any plan of
such groups can have. Every MIP runs over the groups an LP relaxation's reduced costs leave
(:func:`_least_cost`), with a check that proves the dropped ones could not do better.
Without it the heuristic's plan was kept whole and every grid it missed was flagged as proved,
although the proof (one stuck unit, say) accounted for one of them.

Every LP relaxation is solved by column generation (:class:`_Master`): HiGHS solves it over a
few groups and its duals price all of them, so its bound and reduced costs are the whole LP's.

Atoms without households (empty blocks) may join a group as a bridge, and are otherwise attached
afterwards to a neighbouring grid, so every grid stays connected. A group holds one at most,
unless some group may need two or more to connect its units (:func:`needs_bridges`: a chain of
empty atoms, or two bridges at one cluster of units): then, where the region has few empty
atoms that may join two atoms of a group (see :func:`_bridging`), a group may hold them all,
and is listed only where each of them does join two of its atoms (:class:`_Leaves`: a group
with one hanging off is a smaller group plus a cell attached anyway), and the cover over them is
exact. Where that is not done (too many such atoms or groups, a small budget) the cover's
failure proves nothing: the region is infeasible only when a stuck atom or the lumpiness proof
says so, and no count of exceptions is claimed the fewest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csc_array

from .atoms import Bounds
from .budget import (
    ENUMERATED_GROUPS,
    HIGHS_LP_ITERATIONS,
    HIGHS_LP_SOLVES,
    HIGHS_NODES,
    HIGHS_NONZEROS,
    HIGHS_PRICED_NONZEROS,
    STEP_NODES,
    STUCK_STEPS,
    WALL_CAP_SECONDS,
    Budget,
)

__all__ = [
    "ExactOutcome",
    "Groups",
    "connected_groups",
    "enumerate_groups",
    "exact_partition",
    "exception_cap",
    "needs_bridges",
    "plan_cost",
    "stuck_atoms",
]

log = logging.getLogger(__name__)
GROUP_LIMIT = 30_000  # beyond this many candidate groups the heuristic is used instead
FEWEST_LIMIT = 200_000  # the same for the fewest-exceptions cover (its LP prunes most of them);
# a call's own ``limit`` scales it: ``limit * FEWEST_LIMIT // GROUP_LIMIT``
FEWEST_BUDGETED = 50_000  # ... and under a limited budget at most this many, or a quarter of
# what the budget has left when that is more (so a larger budget never finds fewer covers): on 8
# communities of the 1M city every fewest-exceptions cover found held under 31,000 groups, and
# the two enumerations past 200,000 (too big) spent a quarter of a unit each for nothing (in
# the charges before 2026-11-23; a quarter of 0.2 units now lists up to 140,000 groups)
PARTIAL_LIMIT = 400_000  # groups grown on the way and not listed (see connected_groups)
DENSE_ATOMS = 2_000  # atoms up to which _group_costs keeps their borders in a k x k table
STUCK_ATOM_STEPS = 20_000  # steps of one atom's search for a group that holds it
BRIDGE_ATOMS = 6  # empty atoms of a region that may join two atoms of a group, up to which its
# groups may hold them all, where some group may need two or more to connect its units (see
# _bridging; at most 8, what _Leaves counts in a word)
BRIDGE_UNITS = 0.2  # budget units left below which groups hold one empty atom all the same


@dataclass(frozen=True, slots=True)
class ExactOutcome:
    """``parts`` when a cover was found; ``infeasible`` when none within the bounds exists.

    An infeasible outcome may still have ``parts``: the plan with the fewest grids outside the
    bounds, proved the fewest among plans whose grids hold at most ``fewest_up_to`` households
    when that is set (None when the solver's work limit stopped it first).
    """

    parts: list[np.ndarray] | None
    infeasible: bool = False
    stuck: tuple[int, ...] = ()  # atoms that fit in no group, when that is the proof
    fewest_up_to: int | None = None


@dataclass(frozen=True, slots=True)
class Groups:
    """Connected groups of atoms, flat: group ``i`` holds ``sizes[i]`` atoms, and ``members``
    lists the atoms of every group, one group after another (ascending within a group)."""

    sizes: np.ndarray
    members: np.ndarray

    def __len__(self) -> int:
        return len(self.sizes)

    def column(self) -> np.ndarray:
        """Return the group of each entry of ``members``."""
        return np.repeat(np.arange(len(self.sizes)), self.sizes)

    def atoms(self, picked: Sequence[int]) -> list[np.ndarray]:
        """Return the atoms of each group in ``picked``."""
        ends = np.cumsum(self.sizes)
        return [self.members[ends[i] - self.sizes[i] : ends[i]] for i in picked]

    def tuples(self) -> list[tuple[int, ...]]:
        """Return every group as a tuple of its atoms."""
        ends = np.cumsum(self.sizes).tolist()
        flat = self.members.tolist()
        return [tuple(flat[e - k : e]) for e, k in zip(ends, self.sizes.tolist(), strict=True)]

    def take(self, picked: np.ndarray) -> Groups:
        """Return the groups ``picked``, in that order."""
        starts = np.cumsum(self.sizes) - self.sizes
        sizes = self.sizes[picked]
        first = np.repeat(starts[picked] - (np.cumsum(sizes) - sizes), sizes)
        return Groups(sizes, self.members[first + np.arange(int(sizes.sum()))])

    def plus_singles(self, atoms: Sequence[int]) -> Groups:
        """Return these groups and a group of each of ``atoms`` alone."""
        extra = np.asarray(atoms, dtype=np.int64)
        return Groups(
            np.r_[self.sizes, np.ones(len(extra), dtype=np.int64)], np.r_[self.members, extra]
        )


def enumerate_groups(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    limit: int = GROUP_LIMIT,
    empties: int = 1,
) -> list[tuple[int, ...]] | None:
    """List connected groups of ``nodes`` holding ``bounds`` households, or None past ``limit``.

    Zero-household nodes may appear in a group at most ``empties`` times and never alone.
    """
    groups = connected_groups(nodes, w, nbrs, bounds, limit=limit, empties=empties)
    return None if groups is None else groups.tuples()


def connected_groups(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    limit: int = GROUP_LIMIT,
    empties: int = 1,
) -> Groups | None:
    """Return the connected groups :func:`enumerate_groups` lists, flat (None past ``limit``
    groups, or past ``PARTIAL_LIMIT`` groups grown on the way and not listed: smaller ones, or
    those :class:`_Leaves` leaves out).

    ESU (extension sets) on bitmasks, a whole generation of groups at a time in numpy: a group
    grows from its lowest atom (the root) and carries its extension set; it takes each atom of
    that set in turn, handing on the atoms of the set above the one it took and the taken
    atom's neighbours above the root that no group on its way had seen, so each connected group
    is reached exactly once. Groups under ``bounds.lo`` keep growing without being listed; none
    grows past ``bounds.hi`` or takes more than ``empties`` empty atoms.
    """
    return _grow(nodes, w, nbrs, bounds, limit=limit, empties=empties)[0]


def _grow(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    limit: int,
    work: float = float("inf"),
    empties: int = 1,
) -> tuple[Groups | None, int]:
    """Return :func:`connected_groups` and how many groups it grew, listed, under the lower
    bound or left out (the work done: each costs the same); None once that is more than
    ``work``.

    A generation's groups are not kept as masks of their atoms: each keeps the group of the
    generation before it grew from and the atom it took (every group of generation ``g`` holds
    ``g + 1`` atoms), and the listed ones are read back along those links at the end (see
    :func:`_read_back`). Unpacking every listed group's mask with ``np.unpackbits`` cost urban's
    enumerations a third of their time. Nor does a
    group keep its root and the atoms seen on its way: only the atoms above its root not yet
    seen, all the growth step asks of them."""
    order, lists = _local(nodes, nbrs)
    n, words = len(order), (len(order) + 63) // 64
    weight = np.rint(w[order]).astype(np.int64)
    adj = _masks(lists, words)
    higher = _masks([range(i + 1, n) for i in range(n)], words)
    lo, hi = max(bounds.lo, 1), bounds.hi
    root = np.flatnonzero(weight <= hi)
    ext = adj[root] & higher[root]
    unseen = higher[root] & ~ext  # atoms above the root no group on the way had seen
    leaves = _Leaves.of(w[order], lists, empties)
    total, zeros = weight[root], leaves.spend[root]  # zeros: empty atoms held (see _Leaves)
    room, start = _room(weight, leaves.spend, hi, empties, words)
    ext &= room[start[hi - total] + np.maximum(empties - zeros, 0)]
    ext[zeros > empties] = 0  # an empty root where none may join grows no group
    near, held = leaves.start(root)
    took = [root]  # the atom each group of a generation took (the first: its root)
    grew = [root]  # the group of the generation before each grew from (the first: unused)
    found = [np.flatnonzero(total >= lo)]  # the listed groups of each generation
    listed, partial, dropped = len(found[0]), len(root), 0
    twice = listed  # roots within the bounds count as listed and as grown on the way
    while (
        listed <= limit
        and partial + dropped <= PARTIAL_LIMIT
        and listed + partial + dropped - twice <= work
    ):  # the groups left out (see _Leaves) were grown too: the same work, the same memory
        parent, atom = _set_bits(ext, n)  # groups whose extension set is empty grow no more
        if not len(parent):
            return _read_back(found, grew, took, order), listed + partial + dropped - twice
        total = total[parent] + weight[atom]  # each fits: its extension set held only such
        zeros = zeros[parent] + leaves.spend[atom]
        near, held = leaves.grow(near, held, parent, atom)
        unseen = unseen[parent]
        new = adj[atom] & unseen
        ext = ((ext[parent] & higher[atom]) | new) & room[start[hi - total] + empties - zeros]
        unseen &= ~new
        took.append(atom)
        grew.append(parent)
        within = total >= lo
        found.append(np.flatnonzero(within & ~leaves.hang(near, held, len(within))))
        listed += len(found[-1])
        dropped += int(within.sum()) - len(found[-1])
        partial += len(within) - int(within.sum())
    return None, listed + partial + dropped - twice


def _local(
    nodes: Sequence[int] | np.ndarray, nbrs: list[dict[int, float]]
) -> tuple[np.ndarray, list[list[int]]]:
    """Return ``nodes`` ascending and each one's neighbours among them, by rank in that order."""
    order = np.unique(np.asarray(nodes, dtype=np.int64))
    rank = {x: i for i, x in enumerate(order.tolist())}
    return order, [[rank[y] for y in nbrs[x] if y in rank] for x in order.tolist()]


@dataclass(frozen=True, slots=True)
class _Leaves:
    """What :func:`_grow` keeps of each group where groups may hold two or more empty atoms,
    to grow and list only those that may be needed: no cover or count of exceptions needs a
    group one of whose empty atoms touches only one other atom of it (a leaf), for it is the
    group without that atom, still connected, plus a cell the plan attaches afterwards anyway.

    Two steps. Empty atoms that can never join two atoms of such a group are peeled first: one
    next to fewer than two atoms that are inhabited or not yet peeled (a dead end of a road or
    a ring: urban's region of 73 atoms keeps 2 of its 6). A group may hold one of them, as
    before, but then no other empty atom (``spend``: it counts as ``empties`` of them). An atom
    of under half a household counts as empty but must be covered: never peeled nor a leaf left
    out (it has no slot). Then a group holding two or more of the others is listed only where
    none is a leaf: one byte per such atom in a 64-bit word counts the group's atoms next to it
    (``near``), and a bit says which it holds (``held``); each atom taken adds its precomputed
    bytes and bit, so no group is read back to check. A byte never overflows: a group with 256
    atoms about one empty atom comes after 2^248 smaller ones (that atom and some of its other
    neighbours), past every limit. On urban's region of 73 atoms the groups of up to 65
    households grown went from 683,010 to 159,642, and those listed from 682,985 to 89,721 (on
    its region of 41, 209,036 grown, as before, and 123,447 listed of 209,033): the same covers
    and counts.

    Off where groups hold one empty atom at most (nothing to leave out), and the bytes are off
    where more than eight empty atoms are left (such groups are listed whole: more of them,
    the same plans)."""

    spend: np.ndarray  # per atom: how much of a group's allowance of empty atoms it takes
    count: int  # empty atoms with a slot (a byte and a bit); 0: off
    bytes_: np.ndarray  # per atom: a 1 in the byte of each empty atom left next to it
    bits: np.ndarray  # per atom: its own slot's bit (0: none)

    @classmethod
    def of(cls, households: np.ndarray, near: list[list[int]], empties: int) -> _Leaves:
        """Return the bookkeeping for atoms of ``households`` with neighbours ``near``."""
        empty = np.rint(households) == 0
        spend = empty.astype(np.int64)
        none = np.zeros(0, dtype=np.uint64)
        if empties < 2 or spend.sum() < 2:
            return cls(spend, 0, none, none)
        left = _bridging_atoms(households, near)
        spend[empty & ~left] = empties
        left &= households == 0  # one of under half a household is covered, never left out
        count = int(left.sum())
        if count < 2 or count > 8:
            return cls(spend, 0, none, none)
        bits = np.zeros(len(empty), dtype=np.uint64)
        bits[left] = np.left_shift(np.uint64(1), np.arange(count, dtype=np.uint64))
        bytes_ = np.zeros(len(empty), dtype=np.uint64)
        for slot, e in enumerate(np.flatnonzero(left).tolist()):
            bytes_[near[e]] += np.uint64(1) << np.uint64(8 * slot)
        return cls(spend, count, bytes_, bits)

    def start(self, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the counts and held bits of the groups of one atom, ``root``."""
        if not self.count:
            return self.bytes_, self.bits
        return self.bytes_[root], self.bits[root]

    def grow(
        self, near: np.ndarray, held: np.ndarray, parent: np.ndarray, atom: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the counts and bits of the groups ``parent`` grown by ``atom``."""
        if not self.count:
            return near, held
        return near[parent] + self.bytes_[atom], held[parent] | self.bits[atom]

    def hang(self, near: np.ndarray, held: np.ndarray, size: int) -> np.ndarray:
        """Return which of the ``size`` groups hold two or more empty atoms, one a leaf."""
        out = np.zeros(size, dtype=bool)
        if not self.count:
            return out
        many = np.flatnonzero(held & (held - np.uint64(1)) != 0)
        near, held = near[many], held[many]
        for slot in range(self.count):
            mine = (held >> np.uint64(slot)) & np.uint64(1) == 1
            count = (near >> np.uint64(8 * slot)) & np.uint64(255)
            out[many[mine & (count < 2)]] = True
        return out


def _room(
    weight: np.ndarray, spend: np.ndarray, hi: int, empties: int, words: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the bitmasks of the atoms that fit in each room a group may have left, one per
    row, and where each room of up to ``hi`` households starts: row ``start[h] + e`` holds the
    atoms of at most ``h`` households (``weight``) that take at most ``e`` of the empty atoms a
    group may hold (``spend``, up to ``empties``). Rows per household count an atom may have
    (not per count up to ``hi``, which may be large), each the one before plus the atoms of
    that count; one flat index picks a row (a third less time than two).

    :func:`_grow` keeps only these in a group's extension set: an atom that does not fit a
    group fits none of the groups grown from it (they hold more), and it was seen already, so
    none takes it back. Its growth step then unpacks only atoms that fit, no longer every atom
    of the set to drop most of them (urban's region of 41 atoms: two thirds of its time there);
    the same groups, in the same order."""
    levels = np.unique(weight[weight <= hi])
    fit = np.searchsorted(levels, np.arange(hi + 1), side="right")
    bits = _masks([[i] for i in range(len(weight))], words)
    masks = np.zeros((len(levels) + 1, empties + 1, words), dtype=np.uint64)
    for e in range(empties + 1):
        mine = np.flatnonzero((weight <= hi) & (spend <= e))
        mine = mine[np.argsort(weight[mine], kind="stable")]
        if len(mine):
            ends = np.searchsorted(weight[mine], levels, side="right")
            grown = np.bitwise_or.accumulate(bits[mine], axis=0)
            masks[1:, e] = np.where((ends > 0)[:, None], grown[np.maximum(ends - 1, 0)], 0)
    return masks.reshape(-1, words), fit * (empties + 1)


def _bridging_atoms(households: np.ndarray, near: Sequence[Sequence[int]]) -> np.ndarray:
    """Return which empty atoms (of ``households``, under half a household; ``near``: each
    atom's neighbours) may lie in a group of two or more empty atoms none of which is a leaf
    (see :class:`_Leaves`): all but those peeled, one at a time, while next to fewer than two
    atoms that are inhabited or not yet peeled. Sound: the first peeled atom a group holds
    touches at most one of its atoms. Only atoms of no household are peeled: the cover must
    hold one of under half a household (it counts as empty in a group), leaf or not, and a
    group holding one and a peeled atom was lost (20 - 0 - 0 - 20 with 0.3 off the first 0)."""
    empty = np.rint(households) == 0
    loose = households == 0  # attached to a grid afterwards when no group holds them
    left = empty.copy()
    live = np.array([len(ys) for ys in near], dtype=np.int64)
    peel = [e for e in np.flatnonzero(loose).tolist() if live[e] < 2]
    left[peel] = False
    while peel:
        e = peel.pop()
        for y in near[e]:
            live[y] -= 1
            if left[y] and loose[y] and live[y] < 2:
                left[y] = False
                peel.append(y)
    return left


def _read_back(
    found: list[np.ndarray], grew: list[np.ndarray], took: list[np.ndarray], order: np.ndarray
) -> Groups:
    """Return the listed groups ``found`` of each generation, generation by generation, their
    atoms read back along the links ``grew`` and ``took`` (see :func:`_grow`), ascending.

    Up to 64 atoms every group of each generation gets its mask in one word, one gather and
    an OR from the generation before, and the listed ones' atoms are its bits taken lowest
    first (:func:`_lowest_bits`), ascending already: on urban's region of 41 atoms a third
    less than following each listed group's links back and sorting its atoms."""
    one = len(order) <= 64
    bit = np.left_shift(np.uint64(1), np.arange(len(order), dtype=np.uint64))
    mask = bit[took[0]]
    sizes, members = [], []
    for g, listed in enumerate(found):
        if one:
            mask = mask[grew[g]] | bit[took[g]] if g else mask
            ranks = _lowest_bits(mask[listed], g + 1)
        else:
            ranks = np.empty((len(listed), g + 1), dtype=np.int64)
            at = listed
            for step in range(g, 0, -1):
                ranks[:, step] = took[step][at]
                at = grew[step][at]
            ranks[:, 0] = took[0][at]
            ranks.sort(axis=1)
        sizes.append(np.full(len(listed), g + 1, dtype=np.int64))
        members.append(order[ranks.ravel()])
    return Groups(np.concatenate(sizes), np.concatenate(members))


def _lowest_bits(masks: np.ndarray, count: int) -> np.ndarray:
    """Return the ranks of the ``count`` set bits of each of ``masks`` (one 64-bit word each),
    ascending, one row per mask: ``count`` times, the lowest bit's rank is the number of bits
    ``m ^ (m - 1)`` sets less one (a popcount), and ``m & (m - 1)`` clears it (half the time of
    reading it off as a float's exponent)."""
    left = masks.copy()
    below = np.empty_like(left)
    ranks = np.empty((count, len(masks)), dtype=np.uint8)
    for j in range(count):
        np.subtract(left, np.uint64(1), out=below)
        np.bitwise_count(left ^ below, out=ranks[j])
        left &= below
    out = np.ascontiguousarray(ranks.T, dtype=np.int64)
    out -= 1
    return out


def _masks(sets: Sequence[Sequence[int] | range], words: int) -> np.ndarray:
    """Return one bitmask (``words`` 64-bit words) per set of atom ranks."""
    out = np.zeros((len(sets), words * 64), dtype=bool)
    for i, members in enumerate(sets):
        out[i, list(members)] = True
    return _masks_of(out, words)


def _masks_of(flags: np.ndarray, words: int) -> np.ndarray:
    """Return one bitmask (``words`` 64-bit words) per row of ``flags`` (one per atom rank)."""
    out = np.zeros((len(flags), words * 64), dtype=bool)
    out[:, : flags.shape[1]] = flags
    return np.packbits(out, axis=1, bitorder="little").view(np.uint64).reshape(len(flags), words)


def _set_bits(masks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the set bits of ``masks`` (one row per mask, bits below ``n``) as (row, bit)
    pairs in row-major order, as ``np.nonzero`` of the unpacked bits would.

    The bits are unpacked ``n`` per row as bytes viewed as booleans (no copy) and found on the
    flat array: a 2-D ``nonzero`` and a boolean copy cost four times as much (the exact cover's
    enumeration of urban spent a third of its time there)."""
    raw = np.ascontiguousarray(masks).view(np.uint8).reshape(len(masks), masks.shape[1] * 8)
    flat = np.flatnonzero(np.unpackbits(raw, axis=1, count=n, bitorder="little").view(bool))
    row = flat // n
    return row, flat - row * n


def stuck_atoms(
    nodes: Sequence[int] | np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    *,
    steps: int = STUCK_ATOM_STEPS,
    budget: Budget | None = None,
    among: Sequence[int] | np.ndarray | None = None,
) -> list[int]:
    """Return inhabited atoms that lie in no connected group within ``bounds`` (a proof).

    Each atom's search grows connected groups around it and stops at the first that fits; an
    atom whose search runs out of ``steps`` steps is not reported. The steps are charged to
    ``budget`` (``STUCK_STEPS`` per unit), and the searches stop where it runs out: the atoms
    not searched are not reported either. ``among``: only these atoms can be stuck (the others
    are known to lie in a group), so only they are searched.
    """
    inside = {int(x) for x in nodes}
    paid = float("inf") if budget is None else budget.left() * STUCK_STEPS
    stuck: list[int] = []
    spent = 0.0
    for x in sorted(inside if among is None else {int(x) for x in among}):
        if w[x] <= 0 or bounds.lo <= w[x] <= bounds.hi:
            continue
        if w[x] > bounds.hi:
            stuck.append(x)
            continue
        if spent >= paid:
            continue  # no search paid for; an atom above the bound is still stuck for free
        most = min(steps, paid - spent)
        seen: set[frozenset[int]] = set()
        stack = [(frozenset([x]), float(w[x]))]
        taken, found, exhausted = 0, False, True
        while stack:
            taken += 1
            if taken > most:
                exhausted = False
                break
            group, total = stack.pop()
            frontier = {y for z in group for y in nbrs[z] if y in inside and y not in group}
            for y in frontier:
                grown = total + float(w[y])
                if grown > bounds.hi:
                    continue
                if grown >= bounds.lo:
                    found = True
                    break
                key = group | {y}
                if key not in seen:
                    seen.add(key)
                    stack.append((key, grown))
            if found:
                break
        spent += min(taken, most)
        if not found and exhausted:
            stuck.append(x)
    if budget is not None:
        budget.charge(spent / STUCK_STEPS)
    return stuck


def _group_costs(groups: Groups, perimeter: np.ndarray, nbrs: list[dict[int, float]]) -> np.ndarray:
    """Perimeter in decimetres; inner borders weigh their cut cost, so buildings stay whole.

    The groups' atoms get local ranks and their borders a table; each size of group is summed
    at once from it (no sparse matrix products: they cost urban's fewest-exceptions covers a
    tenth of their time). Past ``DENSE_ATOMS`` atoms the table is sparse, looked up by pair.
    The dense table is indexed by both ranks at once (``table[i, j]``, no pair keys built:
    a third of the time, the same sums)."""
    atoms = np.flatnonzero(np.bincount(groups.members))  # np.unique's, without its sort
    k = len(atoms)
    rank = dict(zip(atoms.tolist(), range(k), strict=True))
    pairs = [
        (i * k + j, c)
        for i, x in enumerate(atoms.tolist())
        for y, c in nbrs[x].items()
        if (j := rank.get(y)) is not None
    ]
    key = np.array([p for p, _ in pairs], dtype=np.int64)
    value = np.array([c for _, c in pairs], dtype=float)
    dense = k <= DENSE_ATOMS
    if dense:
        table = np.zeros((k, k))
        table.reshape(-1)[key] = value
    else:
        order = np.argsort(key)
        key, value = np.r_[key[order], -1], np.r_[value[order], 0.0]
    local = np.zeros(int(atoms[-1]) + 1 if k else 0, dtype=np.int64)
    local[atoms] = np.arange(k)
    local = local[groups.members]
    starts = np.cumsum(groups.sizes) - groups.sizes
    out = np.empty(len(groups))
    for size in np.flatnonzero(np.bincount(groups.sizes)).tolist():
        which = np.flatnonzero(groups.sizes == size)
        at = starts[which][:, None] + np.arange(size)
        mine = local[at]
        if dense:
            inner = table[mine[:, :, None], mine[:, None, :]].reshape(len(which), -1).sum(axis=1)
        else:
            pair = (mine[:, :, None] * k + mine[:, None, :]).reshape(len(which), size * size)
            slot = np.minimum(np.searchsorted(key[:-1], pair), len(key) - 1)
            inner = np.where(key[slot] == pair, value[slot], 0.0).sum(axis=1)
        out[which] = perimeter[groups.members[at]].sum(axis=1) - inner
    return np.rint(10 * out)


def plan_cost(
    parts: Sequence[np.ndarray], perimeter: np.ndarray, nbrs: list[dict[int, float]]
) -> float:
    """Return the compactness objective of a plan of ``parts`` (the sum of :func:`_group_costs`,
    what the exact cover minimises), so plans drawn by different steps compare alike."""
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    groups = Groups(sizes, np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]))
    return float(_group_costs(groups, perimeter, nbrs).sum())


def exception_cap(bounds: Bounds) -> int:
    """Return the most households an exception grid of an infeasible region may hold."""
    return bounds.hi + bounds.lo // 2


def exact_partition(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    perimeter: np.ndarray,
    bounds: Bounds,
    *,
    units: float = 2.0,
    budget: Budget | None = None,
    limit: int = GROUP_LIMIT,
    proved: bool = False,
) -> ExactOutcome:
    """Cover ``nodes`` with connected groups within ``bounds``, most compact first.

    Returns the parts, or ``infeasible=True`` when no cover exists (a stuck atom, or HiGHS
    proves it) with the plan of fewest exceptions as parts when it is found, or neither when the
    enumeration is too large or the work limit (``units``, cut to what ``budget`` has left) ran
    out. ``limit`` bounds the candidate groups (the fewest-exceptions cover's in proportion:
    ``FEWEST_LIMIT`` at the default); their enumeration is charged to ``budget`` too.
    ``proved``: no cover exists, proved already (the region's lumpiness proof): the plan of
    fewest exceptions is sought at once, no cover within the bounds enumerated to prove it again.

    The groups are enumerated before any search for stuck atoms: an atom some group holds is not
    stuck, so only the atoms no group holds are searched (none, when the groups cover every
    atom). The search alone, atom by atom, grew thousands of groups under the lower bound that
    the enumeration grows once (on the 1M city it spent a whole 0.2-unit budget and found none).
    """
    if not (w[nodes] > 0).any():
        return ExactOutcome(None)
    budget = budget or Budget()
    empties, sound = _bridging(nodes, w, nbrs, budget)
    among: np.ndarray | None = None  # the atoms that may be stuck (None: any)
    if not proved and not (w[nodes] > bounds.hi).any():  # a unit above the bound: stuck at once
        groups = _enumerate(nodes, w, nbrs, bounds, budget, limit, empties)
        if groups is None and empties > 1:  # too many: those of one empty atom, proving nothing
            empties, sound = 1, False
            groups = _enumerate(nodes, w, nbrs, bounds, budget, limit)
        if groups is not None:
            among = _uncovered(nodes, groups, w)
            outcome = _plan(nodes, groups, among, w, perimeter, nbrs, budget, units)
            if outcome is not None:
                return outcome
            proved = proved or sound  # no cover over every group a plan may need: a proof
    stuck = stuck_atoms(nodes, w, nbrs, bounds, budget=budget, among=among)
    if stuck:
        log.debug(
            "exact: atoms %s (households %s) fit in no group within the bounds",
            stuck,
            [int(w[x]) for x in stuck],
        )
    elif not proved and among is None:
        return ExactOutcome(None)  # too many groups to enumerate, and no atom proved stuck
    outcome = _fewest_exceptions(
        nodes, w, nbrs, perimeter, bounds, tuple(stuck), budget, units, limit, empties
    )
    if outcome.parts is None and empties > 1:  # too many: those of one, proving nothing
        empties, sound = 1, False
        outcome = _fewest_exceptions(
            nodes, w, nbrs, perimeter, bounds, tuple(stuck), budget, units, limit, empties
        )
    if sound:
        return outcome
    # some group needs more empty atoms than the groups held: no proof that the exceptions are
    # the fewest, nor that no cover exists unless a stuck atom, the lumpiness proof or the cover
    # over groups of every empty atom they need (before the fewest exceptions' fell back) says so
    return replace(outcome, infeasible=bool(stuck) or proved, fewest_up_to=None)


def _plan(
    nodes: np.ndarray,
    groups: Groups,
    uncovered: np.ndarray,
    w: np.ndarray,
    perimeter: np.ndarray,
    nbrs: list[dict[int, float]],
    budget: Budget,
    units: float,
) -> ExactOutcome | None:
    """Return the least-perimeter cover of ``nodes`` by ``groups`` (no parts: the work limit
    ran out first), or None when there is none (``uncovered`` atoms no group holds, or HiGHS
    proves it)."""
    if len(uncovered):
        return None
    picked, _ = _cover(nodes, groups, w, perimeter, nbrs, budget, units)
    if picked is None:
        return ExactOutcome(None)
    if isinstance(picked, str):
        return None
    log.debug("exact: %d atoms, %d groups → %d grids", len(nodes), len(groups), len(picked))
    return ExactOutcome(picked)


def _bridging(
    nodes: np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]], budget: Budget
) -> tuple[int, bool]:
    """Return how many empty atoms a group of ``nodes`` may hold, and whether the cover over
    such groups proves what it finds (that no cover exists, the fewest exceptions).

    One, as ever, unless some group may need more (:func:`needs_bridges`): then as many as the
    region has empty atoms that may join two atoms of a group (:func:`_bridging_atoms`: not the
    dead ends of a road or ring) when that is at most ``BRIDGE_ATOMS`` (the cover is then over
    every group it may need: 20–0–0–20 for 30–50 gets its grid of 40), or still one past that,
    and the cover proves nothing (it may miss a group that empty atoms connect). So too when
    ``budget`` has less than ``BRIDGE_UNITS`` left: the groups of one empty atom cost less, and
    a later region may need what is left (at 0.1 urban's second region, too big for what was
    left, spent it for nothing; at 0.2 and above the shares in 30–50 never fall as the budget
    grows: 0.867 up to 0.2, then 0.9). The caller falls back to groups of one empty atom,
    proving nothing, when those of more are too many."""
    order, near = _local(nodes, nbrs)
    count = int(_bridging_atoms(w[order], near).sum())
    if count < 2 or not needs_bridges(nodes, w, nbrs):
        return 1, True
    if count <= BRIDGE_ATOMS and budget.left() >= BRIDGE_UNITS:
        return count, True
    return 1, False


def needs_bridges(
    nodes: Sequence[int] | np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]]
) -> bool:
    """Return True if some connected group of ``nodes`` may need two or more empty atoms to
    connect its inhabited ones: the enumeration lists none such, so a cover it misses, or a
    count of exceptions it proves the fewest, is no proof there.

    Inhabited atoms joined directly make clusters; the empty atoms joined directly, hubs. A
    group needs two empty atoms only if it holds two atoms of one hub (a chain of empty atoms:
    flagged when a hub of two or more touches two or more inhabited atoms, even if one of its
    atoms touches them all, for another group may hold that one) or two hubs that meet at a
    cluster (the group runs from one through the cluster to the other: in a connected group
    whose empty atoms are each a hub of one and none of which alone connects its units, two
    that connect some of them touch one cluster). Otherwise each group of a plan connects its
    units through one of its own empty atoms, which the enumeration lists. Sound, not exact: it
    ignores the bounds, and may answer True where every such group is too big."""
    order = [int(x) for x in np.unique(np.asarray(nodes, dtype=np.int64))]
    inside = set(order)
    empty = {x for x in order if np.rint(w[x]) == 0}
    if len(empty) < 2:
        return False
    parent = {x: x for x in order}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x in order:
        for y in nbrs[x]:
            if y in inside and (x in empty) == (y in empty):
                parent[find(x)] = find(y)
    touched = {e: {y for y in nbrs[e] if y in inside and y not in empty} for e in empty}
    members: dict[int, list[int]] = {}  # each hub's empty atoms
    for e in sorted(empty):
        members.setdefault(find(e), []).append(e)
    hubs: dict[int, int] = {}  # hubs touching each cluster (of those touching two atoms)
    for atoms in members.values():
        lived = set().union(*(touched[e] for e in atoms))
        if len(lived) < 2:
            continue
        if len(atoms) > 1:
            return True  # a chain of empty atoms
        for c in {find(y) for y in lived}:
            hubs[c] = hubs.get(c, 0) + 1
            if hubs[c] > 1:
                return True  # two hubs meet at a cluster
    return False


def _uncovered(nodes: np.ndarray, groups: Groups, w: np.ndarray) -> np.ndarray:
    """Return the inhabited atoms of ``nodes`` that none of ``groups`` holds (ascending)."""
    order = np.unique(np.asarray(nodes, dtype=np.int64))
    held = np.bincount(groups.members, minlength=int(order[-1]) + 1)[order] > 0
    return order[~held & (w[order] > 0)]


def _enumerate(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    budget: Budget,
    limit: int,
    empties: int = 1,
) -> Groups | None:
    """Enumerate the groups within ``bounds`` (at most ``empties`` empty atoms each) that the
    step's own ``limit`` and what ``budget``
    has left (``ENUMERATED_GROUPS`` per unit) allow, charging every group grown (listed, or
    under the lower bound on the way: up to ``PARTIAL_LIMIT`` of them); None past either
    (counted as too big or as skipped for the budget)."""
    if not budget.allows():
        return None
    paid = budget.left() * ENUMERATED_GROUPS + 1e-6  # 1e-6: what float sums lose
    groups, grown = _grow(nodes, w, nbrs, bounds, limit=limit, work=paid, empties=empties)
    budget.charge(grown / ENUMERATED_GROUPS)
    if groups is not None:
        return groups
    if grown > paid:
        budget.skipped_budget += 1
    else:
        budget.too_big()
    log.debug("exact: more than %d groups over %d atoms; skipped", limit, len(nodes))
    return None


def _fewest_exceptions(
    nodes: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    perimeter: np.ndarray,
    bounds: Bounds,
    stuck: tuple[int, ...],
    budget: Budget,
    units: float,
    limit: int,
    empties: int,
) -> ExactOutcome:
    """Cover an infeasible region with the fewest groups outside ``bounds`` (see the module),
    groups holding at most ``empties`` empty atoms.

    Two steps. The LP relaxation of "fewest groups outside the bounds" gives a lower bound L on
    their number; a plan with ``t`` of them can only use groups whose reduced cost is at most
    ``t - L`` (any plan costs at least L plus the reduced cost of each group it uses), a small
    share of the groups. The least-perimeter plan over those groups with at most ``t``
    exceptions is then found for ``t = ceil(L)``, ``ceil(L) + 1``, …: the first ``t`` that has
    one is the fewest possible.
    """
    cap = exception_cap(bounds)
    most = limit * FEWEST_LIMIT // GROUP_LIMIT
    if budget.units is not None:  # a small budget: no more than a quarter of what is left
        most = min(most, max(FEWEST_BUDGETED, int(budget.left() * ENUMERATED_GROUPS / 4)))
    groups = _enumerate(nodes, w, nbrs, Bounds(1, cap), budget, most, empties)
    if groups is None:
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    groups = groups.plus_singles([int(x) for x in nodes if w[x] > cap])  # too big for any grid
    model = _Model.build(nodes, groups, w)
    if model is None:
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    totals = np.rint(model.matrix.T @ w[np.sort(nodes)])  # households of each group
    outside = ((totals < bounds.lo) | (totals > bounds.hi)).astype(float)
    # every inhabited atom alone is a group (listed, or added above): together, a plan (unless
    # an atom holds under half a household: it counts as empty in the groups, never alone)
    singles = np.flatnonzero(groups.sizes == 1)
    alone = model.matrix[:, singles].sum(axis=1) > 0
    plan = singles if alone[model.inhabited].all() else None
    lp = model.relax(np.arange(len(groups)), outside, budget, plan=plan)
    if not isinstance(lp, _Relaxed):  # no plan: infeasible LP, the wall-clock cap or numerics
        return ExactOutcome(None, infeasible=True, stuck=stuck)
    bound, reduced = lp.bound, lp.reduced
    costs = np.full(len(groups), np.nan)  # costed as groups are kept (a small share)
    for t in range(int(np.ceil(bound - 1e-6)), len(groups) + 1):
        keep = np.flatnonzero(reduced <= t - bound + 1e-6)
        fresh = keep[np.isnan(costs[keep])]
        costs[fresh] = _group_costs(groups.take(fresh), perimeter, nbrs)
        picked, _ = _least_cost(model, keep, costs, budget, units, count=(outside, t))
        if picked is None:
            return ExactOutcome(None, infeasible=True, stuck=stuck)
        if isinstance(picked, list):
            parts = _parts(picked, groups, nodes, nbrs)
            log.debug(
                "exact: %d of %d groups up to %d households → %d grids, %d outside the bounds",
                len(keep),
                len(groups),
                cap,
                len(parts),
                t,
            )
            # the count is proved the fewest even when the perimeter is not proved least
            return ExactOutcome(parts, infeasible=True, stuck=stuck, fewest_up_to=cap)
        if len(keep) == len(groups):
            break
    return ExactOutcome(None, infeasible=True, stuck=stuck)


def _parts(
    picked: list[int],
    groups: Groups,
    nodes: np.ndarray,
    nbrs: list[dict[int, float]],
) -> list[np.ndarray]:
    """Return the picked groups as parts, empty atoms attached."""
    chosen = [set(a.tolist()) for a in groups.atoms(picked)]
    _attach_zeros(chosen, nodes, nbrs)
    return [np.array(sorted(s)) for s in chosen]


def _cover(
    nodes: np.ndarray,
    groups: Groups,
    w: np.ndarray,
    perimeter: np.ndarray,
    nbrs: list[dict[int, float]],
    budget: Budget,
    units: float,
) -> tuple[list[np.ndarray] | str | None, bool]:
    """Pick ``groups`` covering ``nodes`` at least perimeter.

    Returns the parts (empty atoms attached) or "infeasible" or None (work limit), and whether
    the parts are proved optimal.
    """
    model = _Model.build(nodes, groups, w)
    if model is None:
        return "infeasible", True  # an inhabited atom no group holds
    costs = _group_costs(groups, perimeter, nbrs)
    picked, optimal = _least_cost(model, np.arange(len(groups)), costs, budget, units)
    if isinstance(picked, list):
        return _parts(picked, groups, nodes, nbrs), optimal
    return picked, optimal


def _least_cost(
    model: _Model,
    cols: np.ndarray,
    costs: np.ndarray,
    budget: Budget,
    units: float,
    count: tuple[np.ndarray, int] | None = None,
) -> tuple[list[int] | str | None, bool]:
    """Pick groups among ``cols`` covering the atoms at least cost (at most ``count[1]`` of the
    groups marked in ``count[0]`` when given).

    The LP relaxation gives a lower bound L and each group's reduced cost r: a plan using a
    group costs at least L + r. The MIP runs over the groups with r within a gap g of L; if its
    optimum costs at most L + g no plan using a dropped group is cheaper, so it is optimal;
    otherwise g widens to the optimum found and the MIP runs again (nearly integral LPs make g
    small and the MIP a few hundred groups where all of them held thousands). When the LP's
    optimum is integral it is the plan, proved optimal, and no MIP runs (on 25 communities of
    the 1M city 30 of 49 such LPs were). Returns the picked groups, "infeasible" or None (work
    limit), and whether proved optimal.
    """
    lp = model.relax(cols, costs, budget, count)
    if lp is None:
        return None, False
    if isinstance(lp, str):
        return "infeasible", True
    if lp.integral is not None:
        return cols[lp.integral].tolist(), True
    bound, reduced = lp.bound, lp.reduced
    # 1 % of the bound: at 0.1 % half of yudu's first MIPs had no cover and ran again
    gap = max(1.0, 1e-2 * abs(bound))
    while True:
        keep = cols[reduced <= gap + 1e-6]
        solved = model.restricted(keep, costs, budget, units, count)
        if solved is None:
            return None, False
        picked, optimal = solved
        if isinstance(picked, list):
            value = float(costs[picked].sum())
            if not optimal or value - bound <= gap + 1e-6 or len(keep) == len(cols):
                return picked, optimal
            gap = value - bound
        elif len(keep) == len(cols):
            return "infeasible", True
        else:
            gap *= 4.0


@dataclass(frozen=True, slots=True)
class _Relaxed:
    """An LP relaxation's optimum: its value, each column's reduced cost and, when the optimum
    found is integral (a plan: no MIP can do better), its columns."""

    bound: float
    reduced: np.ndarray
    integral: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class _Model:
    """Set-partitioning rows: each inhabited atom in exactly one group, each empty one in at
    most one; columns: the groups (a 0/1 matrix by column, as the groups list their atoms)."""

    matrix: csc_array  # a row per atom (ascending), a column per group
    inhabited: np.ndarray
    lp_row: np.ndarray  # each atom's row in the LP relaxation: inhabited atoms first

    @classmethod
    def build(cls, nodes: np.ndarray, groups: Groups, w: np.ndarray) -> _Model | None:
        """Return the model, or None when an inhabited atom lies in no group (infeasible)."""
        order = np.unique(np.asarray(nodes, dtype=np.int64))  # an atom's row: its rank
        row = np.full(int(order[-1]) + 1, -1, dtype=np.int64)
        row[order] = np.arange(len(order))
        rows = row[groups.members]  # ascending within each group, as its atoms are
        matrix = csc_array(
            (np.ones(len(rows)), rows, np.r_[0, np.cumsum(groups.sizes)]),
            shape=(len(order), len(groups)),
        )
        matrix.has_sorted_indices = True
        inhabited = w[order] > 0
        covered = np.bincount(rows, minlength=len(order)) > 0
        if (inhabited & ~covered).any():
            return None
        lp_row = np.empty(len(order), dtype=np.int64)
        lp_row[inhabited] = np.arange(int(inhabited.sum()))
        lp_row[~inhabited] = np.arange(int(inhabited.sum()), len(order))
        return cls(matrix, inhabited, lp_row)

    def relax(
        self,
        cols: np.ndarray,
        costs: np.ndarray,
        budget: Budget,
        count: tuple[np.ndarray, int] | None = None,
        plan: np.ndarray | None = None,
    ) -> _Relaxed | str | None:
        """Solve the LP relaxation over the groups ``cols``; return its value and each group's
        reduced cost (and its plan when integral: positions in ``cols``), "infeasible" when even
        the relaxation is (a proof that no cover exists; never when ``plan``, positions in
        ``cols`` of groups that are a solution, is given),
        or None when HiGHS stopped without an answer (the wall-clock cap, counted in
        ``budget.wall_capped``, or numerical trouble): no plan, the heuristic's stands.

        By column generation (see :class:`_Master`): HiGHS solves the LP over a few of the groups
        at a time, and the duals price all of them, until none has a negative reduced cost.
        """
        if not budget.allows():
            return None
        eqs = int(self.inhabited.sum())
        rhs = np.ones(len(self.inhabited) - eqs)
        if count is not None:
            rhs = np.append(rhs, float(count[1]))
        master = _Master(self._lp_matrix(cols, count), eqs, rhs, costs[cols], plan)
        return master.solve(budget)

    def _lp_matrix(self, cols: np.ndarray, count: tuple[np.ndarray, int] | None) -> csc_array:
        """Return the LP's matrix over the groups ``cols``, by column: the inhabited atoms'
        rows, the empty ones', then the count's row when given (each column's rows ascending),
        built from the model's columns without converting a sparse matrix."""
        every = len(cols) == self.matrix.shape[1] and (cols == np.arange(len(cols))).all()
        sub = self.matrix if every else self.matrix[:, cols]
        # inhabited atoms ahead of every empty one (the engine numbers empty cells last): each
        # atom's LP row is its own row, so each column's rows are ascending already
        own = bool(self.inhabited[: int(self.inhabited.sum())].all())
        if every and own and count is None:
            return self.matrix  # the model's own: not rebuilt (urban's 900,000 nonzeros)
        rows = sub.indices if own else self.lp_row[sub.indices]
        indptr = sub.indptr.astype(np.int64)
        height = len(self.inhabited)
        if count is not None:  # a last row: 1 in the columns of counted groups
            counted = count[0][cols] != 0
            ends = indptr[1:]
            rows = np.insert(rows, ends[counted], height)
            indptr = np.r_[0, ends + np.cumsum(counted)]
            height += 1
        matrix = csc_array((np.ones(len(rows)), rows, indptr), shape=(height, len(cols)))
        matrix.has_sorted_indices = own
        if not own:
            matrix.sort_indices()
        return matrix

    def restricted(
        self,
        keep: np.ndarray,
        costs: np.ndarray,
        budget: Budget,
        units: float,
        count: tuple[np.ndarray, int] | None = None,
    ) -> tuple[list[int] | str, bool] | None:
        """Solve the MIP over the groups ``keep`` (with at most ``count[1]`` groups of
        ``count[0]`` when given); return the picked groups or "infeasible", and whether proved
        optimal; None when the work limit ran out before any cover was found."""
        from scipy.optimize import Bounds as VarBounds
        from scipy.optimize import LinearConstraint, milp

        sub = self.matrix[:, keep]
        lower = self.inhabited.astype(float)
        constraints = [LinearConstraint(sub, lower, np.ones(len(lower)))]
        if count is not None:
            constraints.append(LinearConstraint(count[0][keep][None, :], 0.0, float(count[1])))
        nodes = max(1, int(min(units * STEP_NODES, budget.left() * HIGHS_NODES)))
        result = milp(
            costs[keep],
            constraints=constraints,
            integrality=np.ones(len(keep)),
            bounds=VarBounds(0, 1),
            options={"node_limit": nodes, "time_limit": WALL_CAP_SECONDS, "presolve": True},
        )
        budget.charge(sub.nnz / HIGHS_NONZEROS + (result.mip_node_count or 0) / HIGHS_NODES)
        if result.status == 1 and "Time limit" in result.message:
            budget.wall_capped += 1
        log.debug("exact: %d of %d groups, HiGHS %s", len(keep), len(costs), result.message)
        if result.status == 2:
            return "infeasible", True
        if result.x is None:
            return None
        return [int(keep[i]) for i in np.flatnonzero(result.x > 0.5)], result.status == 0


class _Master:
    """The LP relaxation of a set-partitioning model, solved by column generation.

    Rows (``matrix``, by column): the first ``eqs`` rows ``eq`` (each inhabited atom in exactly
    one group), then ``ub`` (at most ``rhs``: empty atoms, the count of exceptions); columns:
    the candidate groups at ``costs``. HiGHS solves the restricted master (a few columns,
    warm-started from its last basis as columns join) and its duals y price every column at once
    (one sparse product): columns of negative reduced cost c - Aᵀy join, and it solves again.
    When none is negative, y is feasible for the dual of the whole LP, so the master's value
    bounds the whole LP (weak duality) and the reduced costs are the whole LP's: the same proof
    as solving the LP over every column, for much less work.

    A phase 1 first finds a master that has a solution (an artificial column of cost 1 on each
    ``eq`` row, the groups at cost 0): if even it ends above 0, no cover exists (a Farkas
    proof). Its artificials are then fixed at 0 and phase 2 prices with the groups' costs.
    Given ``plan``, columns that alone are a solution (the fewest-exceptions model's groups of
    one atom), the master starts from them and the cheapest columns, in phase 2 at once: that
    halved urban's fewest-exceptions LPs. A model of at most ``WHOLE`` columns is solved whole,
    at once.
    """

    WHOLE = 4_000  # columns up to which the LP is solved over every column at once
    BATCH = 1  # columns added per pricing, per row of the model (the most negative first)
    TOL = 1e-7  # a reduced cost below -TOL prices a column in
    INTEGRAL = 1e-6  # a master's solution within this of 0 or 1 everywhere is a plan

    def __init__(
        self,
        matrix: csc_array,
        eqs: int,
        rhs: np.ndarray,
        costs: np.ndarray,
        plan: np.ndarray | None = None,
    ) -> None:
        # scipy's own HiGHS bindings (statically linked): the highspy wheel's libhighs.so.1
        # clashes with the one OR-Tools loads under the same soname, so it cannot be used here
        from scipy.optimize._highspy import _core

        self.core = _core
        self.matrix, self.costs, self.eqs = matrix, costs, eqs  # its first ``eqs`` rows: ``eq``
        self.rhs, self.plan = rhs, plan
        self.pricing = matrix.T  # by row: the same arrays
        self.highs = _core._Highs()
        for name, value in (
            ("output_flag", False),
            ("presolve", "off"),
            ("time_limit", WALL_CAP_SECONDS),
            ("random_seed", 0),
        ):
            self.highs.setOptionValue(name, value)
        inf = _core.kHighsInf
        lower = np.r_[np.ones(self.eqs), np.full(len(rhs), -inf)]
        upper = np.r_[np.ones(self.eqs), rhs]
        none = np.zeros(0, dtype=np.int32)
        self.highs.addRows(len(lower), lower, upper, 0, none, none, np.zeros(0))
        self.columns: list[int] = []  # the candidate of each HiGHS column (-1: artificial)
        self.inside = np.zeros(len(costs), dtype=bool)

    def _add(self, cols: np.ndarray, costs: np.ndarray) -> None:
        """Add the candidates ``cols`` to the master at ``costs``."""
        sub = self.matrix[:, cols]
        inf = self.core.kHighsInf
        self.highs.addCols(
            len(cols),
            costs[cols],
            np.zeros(len(cols)),
            np.full(len(cols), inf),
            sub.nnz,
            sub.indptr.astype(np.int32),
            sub.indices.astype(np.int32),
            sub.data.astype(float),
        )
        self.columns += cols.tolist()
        self.inside[cols] = True

    def _seed(self) -> np.ndarray:
        """Return the cheapest column of every ``eq`` row (the first of equals): the least in
        the columns' stable order by cost."""
        m, ncols = self.matrix, self.matrix.shape[1]
        order = np.argsort(self.costs, kind="stable")
        place = np.empty(ncols, dtype=np.int64)
        place[order] = np.arange(ncols)
        first = np.full(m.shape[0], ncols)
        np.minimum.at(first, m.indices, np.repeat(place, np.diff(m.indptr)))
        first = first[: self.eqs]
        return np.unique(order[first[first < ncols]])

    def solve(self, budget: Budget) -> _Relaxed | str | None:
        """Return the LP's value, every column's reduced cost and its plan when the optimum
        found is integral, "infeasible" or None."""
        every = np.arange(len(self.costs))
        if len(self.costs) <= self.WHOLE:
            self._add(every, self.costs)
            return self._generate(self.costs, budget)
        if self.plan is not None:  # a solution at hand: no phase 1
            self._add(np.union1d(self._seed(), self.plan), self.costs)
            return self._generate(self.costs, budget)
        # phase 1: artificial columns make any master solvable
        m, inf = self.eqs, self.core.kHighsInf
        eye = np.arange(m + 1, dtype=np.int32)
        self.highs.addCols(
            m, np.ones(m), np.zeros(m), np.full(m, inf), m, eye, eye[:-1], np.ones(m)
        )
        self.columns += [-1] * m
        self._add(self._seed(), np.zeros(len(self.costs)))
        first = self._generate(np.zeros(len(self.costs)), budget)
        if not isinstance(first, _Relaxed):
            return first
        if first.bound > 1e-6:
            return "infeasible"
        self.highs.changeColsBounds(m, eye[:-1], np.zeros(m), np.zeros(m))
        self.highs.changeColsCost(m, eye[:-1], np.zeros(m))
        mine = np.flatnonzero(np.asarray(self.columns) >= 0).astype(np.int32)
        theirs = np.asarray(self.columns)[mine]
        self.highs.changeColsCost(len(mine), mine, self.costs[theirs])
        return self._generate(self.costs, budget)

    def _generate(self, costs: np.ndarray, budget: Budget) -> _Relaxed | str | None:
        """Price columns in until none has a negative reduced cost; return the master's value,
        every column's reduced cost and its plan when integral, "infeasible" (a master holding
        every column has no solution) or None (HiGHS stopped without an answer, or the budget
        ran out)."""
        status = self.core.HighsModelStatus
        while True:
            self.highs.run()
            model = self.highs.getModelStatus()
            info = self.highs.getInfo()
            budget.charge(info.simplex_iteration_count / HIGHS_LP_ITERATIONS + 1 / HIGHS_LP_SOLVES)
            if model == status.kInfeasible:
                return "infeasible"
            if model != status.kOptimal:
                if model == status.kTimeLimit:
                    budget.wall_capped += 1
                log.debug("exact: LP relaxation: %s", self.highs.modelStatusToString(model))
                return None
            solution = self.highs.getSolution()
            reduced = costs - self.pricing @ np.asarray(solution.row_dual)
            budget.charge(self.pricing.nnz / HIGHS_PRICED_NONZEROS)
            fresh = np.flatnonzero((reduced < -self.TOL) & ~self.inside)
            if len(fresh) == 0:
                value = float(info.objective_function_value)
                return _Relaxed(value, reduced, self._integral(np.asarray(solution.col_value)))
            if not budget.allows():
                return None
            most = max(1, self.BATCH * self.matrix.shape[0])
            if len(fresh) > most:
                fresh = _most_negative(fresh, reduced[fresh], most)
            self._add(np.sort(fresh), costs)

    def _integral(self, x: np.ndarray) -> np.ndarray | None:
        """Return the candidates at 1 in the master's solution ``x`` (ascending) when it is a
        plan: every column at 0 or 1, no artificial column in it, each ``eq`` row covered once
        and each other row within its bound (checked on the matrix, not the tolerances)."""
        if ((x > self.INTEGRAL) & (x < 1.0 - self.INTEGRAL)).any():
            return None
        owner = np.asarray(self.columns)
        on = x > 0.5
        if (owner[on] < 0).any():
            return None
        picked = np.sort(owner[on])
        rows = self.matrix[:, picked].sum(axis=1)
        if (rows[: self.eqs] != 1).any() or (rows[self.eqs :] > self.rhs + 1e-9).any():
            return None
        return picked


def _most_negative(cols: np.ndarray, reduced: np.ndarray, most: int) -> np.ndarray:
    """Return the ``most`` of ``cols`` of least ``reduced`` cost, the first of equals (as a
    stable sort would pick them, in any order), by partitioning rather than sorting them all."""
    cut = np.partition(reduced, most - 1)[most - 1]
    below = np.flatnonzero(reduced < cut)
    tied = np.flatnonzero(reduced == cut)[: most - len(below)]
    return cols[np.r_[below, tied]]


def _attach_zeros(chosen: list[set[int]], nodes: np.ndarray, nbrs: list[dict[int, float]]) -> None:
    """Give every unassigned (empty) node to the neighbouring group it shares most border with."""
    owner = {x: i for i, s in enumerate(chosen) for x in s}
    left = [int(x) for x in nodes if int(x) not in owner]
    while left:
        progress = False
        for x in list(left):
            options: dict[int, float] = {}
            for y, c in nbrs[x].items():
                if y in owner:
                    options[owner[y]] = options.get(owner[y], 0.0) + c
            if options:
                best = max(sorted(options), key=lambda i: options[i])
                chosen[best].add(x)
                owner[x] = best
                left.remove(x)
                progress = True
        if not progress:  # isolated empty nodes: give them to the first group
            for x in left:
                chosen[0].add(x)
            return
