"""Tiny hand-drawn and random cell graphs for the split, mend and refine tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from gridsvc.partition import Bounds
from gridsvc.partition.split import _bisect, connected, repair


def graph(edges: dict[tuple[int, int], float], n: int) -> list[dict[int, float]]:
    """Return the neighbour lists of ``n`` cells joined by ``edges`` (pair → cut cost)."""
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for (a, b), c in edges.items():
        nbrs[a][b] = nbrs[b][a] = c
    return nbrs


def is_torn(part: np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]]) -> bool:
    """Return True if the inhabited cells of ``part`` touch one another only through empty
    ones."""
    lived = [x for x in part.tolist() if w[x] > 0]
    return len(lived) > 1 and not connected(lived, nbrs)


@st.composite
def regions(draw: st.DrawFn) -> tuple[list[dict[int, float]], np.ndarray, np.ndarray]:
    """Draw a connected region of 2–12 cells: neighbour lists, households (some cells empty)
    and centroids."""
    n = draw(st.integers(2, 12))
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for a in range(1, n):  # a spanning tree keeps the region connected
        b = draw(st.integers(0, a - 1))
        nbrs[a][b] = nbrs[b][a] = draw(st.floats(0.1, 10.0))
    for _ in range(draw(st.integers(0, n))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b:
            nbrs[a][b] = nbrs[b][a] = draw(st.floats(0.1, 10.0))
    w = np.array([draw(st.sampled_from([0, 0, 3, 5, 8, 12])) for _ in range(n)], dtype=float)
    xy = np.array([[draw(st.floats(0, 100)), draw(st.floats(0, 100))] for _ in range(n)])
    return nbrs, w, xy


def first_plan(
    case: tuple[list[dict[int, float]], np.ndarray, np.ndarray], k: int, bounds: Bounds
) -> list[np.ndarray]:
    """Return the bisection of a drawn region into ``k`` parts, repaired to the bounds."""
    nbrs, w, xy = case
    return repair(_bisect(np.arange(len(w)), k, w, xy, nbrs, bounds, 1.0), w, nbrs, bounds)


def whole(parts: list[np.ndarray], n: int, nbrs: list[dict[int, float]]) -> bool:
    """Return True if ``parts`` hold cells ``0..n-1`` once each, every part connected."""
    return sorted(x for p in parts for x in p.tolist()) == list(range(n)) and all(
        len(p) and connected(p.tolist(), nbrs) for p in parts
    )
