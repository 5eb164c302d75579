"""Shorten the borders between grids by moving single atoms across them.

The bisection cuts along fronts swept in a few directions, so its borders zigzag where the
front met the atoms; boundary repair moves atoms for the bounds alone. Here an atom moves to a
neighbouring grid when that cuts less border (the cut cost of :mod:`.graph`: shared length, dear
inside a building or compound, cheap along a road), both grids stay within the bounds (or no
further outside them), connected, and no grid's inhabited cells come to touch only through an
empty cell (see :func:`.mend.torn`). Less border is less perimeter: the grids get more compact.
"""

from __future__ import annotations

import numpy as np

from .atoms import Bounds
from .graph import groups
from .mend import torn, violation

__all__ = ["refine"]

PASSES = 4  # sweeps over the border atoms; each move must gain, so few are needed
GAIN = 1e-6  # the least cut a move must save


def refine(
    parts: list[np.ndarray],
    w: np.ndarray,
    xy: np.ndarray,
    nbrs: list[dict[int, float]],
    bounds: Bounds,
) -> list[np.ndarray]:
    """Return ``parts`` with border atoms moved to the neighbouring part they share the most
    cut cost with, while that saves cut and keeps every part as good as before.

    Atoms are visited west to east (then south to north, by ``xy``), not by their numbers, so
    the result does not depend on the order of the input rows.
    """
    if len(parts) < 2:
        return parts
    sets = [set(p.tolist()) for p in parts]
    owner = {x: i for i, s in enumerate(sets) for x in s}
    weight = [float(w[list(s)].sum()) for s in sets]
    nodes = np.array(sorted(owner), dtype=np.int64)
    visit = nodes[np.lexsort((xy[nodes, 1], xy[nodes, 0]))].tolist()
    for _ in range(PASSES):
        moved = False
        for x in visit:
            src = owner[x]
            tie: dict[int, float] = {}
            for y, c in nbrs[x].items():
                j = owner.get(y)
                if j is not None:
                    tie[j] = tie.get(j, 0.0) + c
            if len(tie) < 2 and src in tie:
                continue
            for j in tie:  # sums in any order of the neighbours compare alike
                tie[j] = round(tie[j], 6)
            own = tie.pop(src, 0.0)
            dst = max(sorted(tie), key=tie.__getitem__)
            if tie[dst] - own <= GAIN:
                continue
            wx = float(w[x])
            if wx and (
                violation(weight[src] - wx, bounds) > violation(weight[src], bounds)
                or violation(weight[dst] + wx, bounds) > violation(weight[dst], bounds)
            ):
                continue
            rest = sets[src] - {x}
            if not rest or len(groups(rest, nbrs)) > 1:
                continue
            if _tears(sets[src], rest, w, nbrs) or _tears(sets[dst], sets[dst] | {x}, w, nbrs):
                continue
            sets[src] = rest
            sets[dst].add(x)
            owner[x] = dst
            weight[src] -= wx
            weight[dst] += wx
            moved = True
        if not moved:
            break
    return [np.array(sorted(s), dtype=parts[0].dtype) for s in sets if s]


def _tears(before: set[int], after: set[int], w: np.ndarray, nbrs: list[dict[int, float]]) -> bool:
    return torn(after, w, nbrs) and not torn(before, w, nbrs)
