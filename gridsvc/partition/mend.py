"""Mend grids whose inhabited cells touch only through an empty cell.

Two units on opposite sides of a compound, joined by the empty ring inside its wall, make a
contiguous grid on the graph; but the ring is shared out among the grids around it (see
:mod:`.empties`), so that grid falls apart, the sharing is undone and the grid keeps the whole
ring (Polsby–Popper 0.04–0.08 in the 1M city). Here such a grid and a neighbouring one are split
again, trying every way of dividing their inhabited cells in two: each side touching within
itself, both within the bounds, the cheapest cut (and evenest) kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .atoms import Bounds
from .graph import groups

__all__ = ["mend", "torn", "violation"]

MEND_ATOMS = 12  # two grids with more inhabited cells than this are left as they are


def mend(
    parts: list[np.ndarray],
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    scale: float,
) -> list[np.ndarray]:
    """Return ``parts`` with each one whose inhabited cells make several groups (touching only
    through empty cells) split again together with a neighbour, where that makes both parts
    touch within themselves and within the bounds; ``scale`` weighs a household of imbalance
    against a unit of cut cost."""
    parts = list(parts)
    if not any(_torn(p, w, nbrs) for p in parts):
        return parts
    owner = {x: i for i, p in enumerate(parts) for x in p.tolist()}
    for _ in range(len(parts)):
        changed = False
        for i in range(len(parts)):
            if not _torn(parts[i], w, nbrs):
                continue
            near = sorted({owner.get(y, i) for x in parts[i].tolist() for y in nbrs[x]} - {i})
            for j in near:
                new = _resplit(parts[i], parts[j], w, nbrs, bounds, scale)
                if new is None:
                    continue
                parts[i], parts[j] = new
                owner.update(dict.fromkeys(new[0].tolist(), i))
                owner.update(dict.fromkeys(new[1].tolist(), j))
                changed = True
                break
        if not changed:
            break
    return parts


def _torn(part: np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]]) -> bool:
    return torn(part.tolist(), w, nbrs)


def torn(nodes: Iterable[int], w: np.ndarray, nbrs: list[dict[int, float]]) -> bool:
    """Return True if the inhabited ones of ``nodes`` make more than one group (touching one
    another only through empty cells)."""
    lived = [x for x in nodes if w[x] > 0]
    return len(lived) > 1 and len(groups(lived, nbrs)) > 1


def _resplit(
    p: np.ndarray,
    q: np.ndarray,
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    scale: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the best split of parts ``p`` and ``q`` into two whose inhabited cells each
    touch within themselves, with no fewer of them within the bounds than before (the most,
    then the least out of them, then the cheapest cut), or None if there is none."""
    union = np.concatenate([p, q])
    lived = union[w[union] > 0].tolist()
    m = len(lived)
    if m < 2 or m > MEND_ATOMS:
        return None
    bit = {x: i for i, x in enumerate(lived)}
    near = [0] * m  # each inhabited cell's inhabited neighbours in the union, as a bit mask
    for i, x in enumerate(lived):
        for y in nbrs[x]:
            if y in bit:
                near[i] |= 1 << bit[y]
    full = (1 << m) - 1
    weight = [0.0] * (1 << m)
    for mask in range(1, 1 << m):
        low = mask & -mask
        weight[mask] = weight[mask ^ low] + float(w[lived[low.bit_length() - 1]])
    total = weight[full]
    weight_p = float(w[p].sum())
    held = bounds.holds(int(weight_p)) + bounds.holds(int(total - weight_p))
    empties = _empty_groups(union, w, nbrs)
    best: tuple[int, float, float, int] | None = None  # -(parts held), violation, score, mask
    for mask in range(1, full, 2):  # the first cell on the first side: each split once
        one, two = weight[mask], total - weight[mask]
        now = bounds.holds(int(one)) + bounds.holds(int(two))
        if now < held:
            continue  # no fewer grids within the bounds
        off = violation(one, bounds) + violation(two, bounds)
        if best is not None and (-now, off) > best[:2]:
            continue
        if not (_joined(mask, near) and _joined(full ^ mask, near)):
            continue
        score = _cut(mask, lived, bit, nbrs, empties) + scale * abs(one - two) / 2
        if best is None or (-now, off, score) < best[:3]:
            best = (-now, off, score, mask)
    if best is None:
        return None
    first = {x for i, x in enumerate(lived) if best[3] >> i & 1}
    for group in empties:
        if _side(group, first, bit, nbrs) == 0:
            first.update(group)
    rest = set(union.tolist()) - first
    return np.array(sorted(first), dtype=union.dtype), np.array(sorted(rest), dtype=union.dtype)


def violation(weight: float, bounds: Bounds) -> float:
    """Return how far ``weight`` households lie outside ``bounds`` (0 within them)."""
    return max(0.0, bounds.lo - weight) + max(0.0, weight - bounds.hi)


def _joined(mask: int, near: list[int]) -> bool:
    """Return True if the cells of ``mask`` touch one another (through cells of ``mask``)."""
    seen = front = mask & -mask
    while front:
        grown = 0
        while front:
            low = front & -front
            grown |= near[low.bit_length() - 1]
            front ^= low
        front = grown & mask & ~seen
        seen |= front
    return seen == mask


def _empty_groups(
    union: np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]]
) -> list[list[int]]:
    """Return the empty cells of ``union`` in groups that touch one another."""
    empty = union[w[union] <= 0].tolist()
    return groups(empty, nbrs)


def _side(
    group: list[int], first: set[int], bit: dict[int, int], nbrs: list[dict[int, float]]
) -> int:
    """Return the side (0: ``first``, 1: the other) a group of empty cells goes with: the one
    it shares the costlier border with (the first side on a tie)."""
    cost = [0.0, 0.0]
    for x in group:
        for y, c in nbrs[x].items():
            if y in bit:
                cost[0 if y in first else 1] += c
    return 0 if cost[0] >= cost[1] else 1


def _cut(
    mask: int,
    lived: list[int],
    bit: dict[int, int],
    nbrs: list[dict[int, float]],
    empties: list[list[int]],
) -> float:
    """Return the cost of the border between the two sides of ``mask``, empty cells placed."""
    first = {x for i, x in enumerate(lived) if mask >> i & 1}
    cost = 0.0
    for x in first:
        for y, c in nbrs[x].items():
            if y in bit and y not in first:
                cost += c
    for group in empties:
        side = _side(group, first, bit, nbrs)
        for x in group:
            for y, c in nbrs[x].items():
                if y in bit and (y in first) != (side == 0):
                    cost += c
    return cost
