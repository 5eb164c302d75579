"""Mend grids whose inhabited cells touch only through an empty cell.

Two units on opposite sides of a compound, joined by the empty ring inside its wall, make a
contiguous grid on the graph; but the ring is shared out among the grids around it (see
:mod:`.empties`), so that grid falls apart, the sharing is undone and the grid keeps the whole
ring (Polsby–Popper 0.04–0.08 in the 1M city). Here such a grid and a neighbouring one are split
again, trying every way of dividing their inhabited cells in two: each side touching within
itself, both within the bounds, the cheapest cut (and evenest) kept. When no neighbour can
take it alone (its units each touch a different grid), it is split again together with two
neighbours whose units touch its own, every way of dividing the three grids' cells in three.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .atoms import Bounds
from .graph import groups

__all__ = ["mend", "torn", "violation"]

MEND_ATOMS = 12  # two grids with more inhabited cells than this are left as they are
MEND3_ATOMS = 10  # the same for three grids (3^n ways to split them)


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
            else:
                # a grid whose units each touch a different neighbour: split it with two
                touching = _touching(parts[i], owner, w, nbrs)
                for a, j in enumerate(touching):
                    for m in touching[a + 1 :]:
                        trio = (parts[i], parts[j], parts[m])
                        new3 = _resplit3(trio, w, nbrs, bounds, scale)
                        if new3 is None:
                            continue
                        for slot, part in zip((i, j, m), new3, strict=True):
                            parts[slot] = part
                            owner.update(dict.fromkeys(part.tolist(), slot))
                        changed = True
                        break
                    if changed:
                        break
        if not changed:
            break
    return parts


def _touching(
    part: np.ndarray, owner: dict[int, int], w: np.ndarray, nbrs: list[dict[int, float]]
) -> list[int]:
    """Return the other parts with an inhabited cell touching an inhabited cell of ``part``."""
    mine = owner[int(part[0])]
    return sorted(
        {
            owner[y]
            for x in part.tolist()
            if w[x] > 0
            for y in nbrs[x]
            if w[y] > 0 and owner.get(y, mine) != mine
        }
    )


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
    cells = _Cells.of((p, q), w, nbrs, MEND_ATOMS)
    if cells is None:
        return None
    weight = cells.weight
    full = len(weight) - 1
    total = weight[full]
    weight_p = float(w[p].sum())
    held = bounds.holds(int(weight_p)) + bounds.holds(int(total - weight_p))
    best: tuple[int, float, float, int] | None = None  # -(parts held), violation, score, mask
    for mask in range(1, full, 2):  # the first cell on the first side: each split once
        one, two = weight[mask], total - weight[mask]
        now = bounds.holds(int(one)) + bounds.holds(int(two))
        if now < held:
            continue  # no fewer grids within the bounds
        off = violation(one, bounds) + violation(two, bounds)
        if best is not None and (-now, off) > best[:2]:
            continue
        if not (cells.joined(mask) and cells.joined(full ^ mask)):
            continue
        score = cells.cut((mask, full ^ mask)) + scale * abs(one - two) / 2
        if best is None or (-now, off, score) < best[:3]:
            best = (-now, off, score, mask)
    if best is None:
        return None
    first, rest = cells.parts((best[3], full ^ best[3]))
    return first, rest


def _resplit3(
    trio: tuple[np.ndarray, np.ndarray, np.ndarray],
    w: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Return the best split of three parts into three as :func:`_resplit` splits two: each
    part's inhabited cells touching within themselves, no fewer parts within the bounds than
    before (the most, then the least out of them, then the cheapest cut, then the evenest), or
    None if there is none."""
    cells = _Cells.of(trio, w, nbrs, MEND3_ATOMS)
    if cells is None:
        return None
    weight = cells.weight
    full = len(weight) - 1
    total = weight[full]
    mean = total / 3
    held = sum(bounds.holds(int(w[p].sum())) for p in trio)
    holds = [bounds.holds(int(x)) for x in weight]
    off_of = [violation(x, bounds) for x in weight]
    best: tuple[int, float, float, tuple[int, int, int]] | None = None
    for one in range(1, full, 2):  # the first cell in the first part, as in _resplit
        if held == 3 and not holds[one]:
            continue
        if not cells.joined(one):
            continue
        rest = full ^ one
        low = rest & -rest
        two = rest
        while two:  # every part of ``rest`` holding its lowest cell: the second part
            three = rest ^ two
            if two & low and three:
                now = holds[one] + holds[two] + holds[three]
                off = off_of[one] + off_of[two] + off_of[three]
                if (
                    now >= held
                    and (best is None or (-now, off) <= best[:2])
                    and cells.joined(two)
                    and cells.joined(three)
                ):
                    masks = (one, two, three)
                    score = cells.cut(masks) + scale * sum(abs(weight[x] - mean) for x in masks) / 2
                    if best is None or (-now, off, score) < best[:3]:
                        best = (-now, off, score, masks)
            two = (two - 1) & rest
    if best is None:
        return None
    a, b, c = cells.parts(best[3])
    return a, b, c


class _Cells:
    """The cells of a union of parts being split again: its inhabited ones (``lived``, one bit
    each), their neighbours among one another as bit masks, the household count of every mask
    of them, and its empty cells in groups that touch one another."""

    def __init__(
        self, union: np.ndarray, lived: list[int], w: np.ndarray, nbrs: list[dict[int, float]]
    ) -> None:
        self.union, self.lived, self.nbrs = union, lived, nbrs
        m = len(lived)
        self.bit = bit = {x: i for i, x in enumerate(lived)}
        near = [0] * m  # each inhabited cell's inhabited neighbours in the union, as a bit mask
        for i, x in enumerate(lived):
            for y in nbrs[x]:
                if y in bit:
                    near[i] |= 1 << bit[y]
        self.near = near
        weight = [0.0] * (1 << m)
        for mask in range(1, 1 << m):
            low = mask & -mask
            weight[mask] = weight[mask ^ low] + float(w[lived[low.bit_length() - 1]])
        self.weight = weight
        self.empties = _empty_groups(union, w, nbrs)
        self._joined: dict[int, bool] = {}

    @classmethod
    def of(
        cls, parts: Sequence[np.ndarray], w: np.ndarray, nbrs: list[dict[int, float]], most: int
    ) -> _Cells | None:
        """Return the cells of the union of ``parts``, or None if they hold fewer inhabited
        cells than parts or more than ``most``."""
        union = np.concatenate(parts)
        lived = union[w[union] > 0].tolist()
        if not len(parts) <= len(lived) <= most:
            return None
        return cls(union, lived, w, nbrs)

    def joined(self, mask: int) -> bool:
        """Return True if the cells of ``mask`` touch one another (through cells of it)."""
        known = self._joined.get(mask)
        if known is None:
            known = self._joined[mask] = _joined(mask, self.near)
        return known

    def sides(self, masks: Sequence[int]) -> dict[int, int]:
        """Return the part (index into ``masks``) of each inhabited cell."""
        return {
            x: s for s, mask in enumerate(masks) for i, x in enumerate(self.lived) if mask >> i & 1
        }

    def cut(self, masks: Sequence[int]) -> float:
        """Return the cost of the borders between the parts ``masks``, empty cells placed."""
        side = self.sides(masks)
        nbrs = self.nbrs
        cost = 0.0
        for x, s in side.items():
            for y, c in nbrs[x].items():
                t = side.get(y)
                if t is not None and s < t:
                    cost += c
        for group in self.empties:
            mine = _side(group, side, len(masks), nbrs)
            for x in group:
                for y, c in nbrs[x].items():
                    t = side.get(y)
                    if t is not None and t != mine:
                        cost += c
        return cost

    def parts(self, masks: Sequence[int]) -> list[np.ndarray]:
        """Return the parts ``masks`` as arrays of cells, each group of empty cells placed in
        the part it shares the costliest border with."""
        side = self.sides(masks)
        out: list[list[int]] = [[] for _ in masks]
        for x, s in side.items():
            out[s].append(x)
        for group in self.empties:
            out[_side(group, side, len(masks), self.nbrs)].extend(group)
        return [np.array(sorted(p), dtype=self.union.dtype) for p in out]


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


def _side(group: list[int], side: dict[int, int], count: int, nbrs: list[dict[int, float]]) -> int:
    """Return the part a group of empty cells goes with: the one of the ``count`` parts
    (``side`` gives each inhabited cell's) it shares the costliest border with (the first on a
    tie)."""
    cost = [0.0] * count
    for x in group:
        for y, c in nbrs[x].items():
            t = side.get(y)
            if t is not None:
                cost[t] += c
    return cost.index(max(cost))
