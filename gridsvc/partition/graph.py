"""Adjacency of atom cells: shared-edge length, barrier crossings and what a cut would split.

The cost of cutting an edge (putting its two atoms in different grids) is its shared length,
times 10 when both atoms are in one building, times 3 inside one compound (小区), and a tenth of
it along a barrier (grids should follow roads and rivers) or a soft line (another department's
grid border that the grids should follow where the bounds allow; crossing it is allowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .coverage import Borders, Known, borders

__all__ = ["Graph", "build_graph", "groups"]

MIN_SHARED = 0.05  # metres of common border for two cells to count as neighbours


@dataclass(frozen=True, slots=True)
class Graph:
    """Undirected graph over cells ``0..n-1``: edge arrays and per-node neighbour lists."""

    n: int
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    barrier: np.ndarray
    cost: np.ndarray
    nbrs: list[dict[int, float]]  # node -> {neighbour: cut cost}
    soft: bool = False  # some edges run along soft lines
    lines: Borders | None = None  # the shared borders (every length, pieces of line)
    line_row: np.ndarray | None = None  # the row of ``lines`` of each edge

    def border(self, edges: np.ndarray) -> np.ndarray:
        """Return the line each of ``edges`` runs along (the two cells' common border)."""
        assert self.lines is not None and self.line_row is not None
        return self.lines.lines(self.line_row[edges])

    def crossing(self, i: int, j: int) -> bool:
        """Return True if cells ``i`` and ``j`` lie on two sides of a barrier."""
        hit = np.flatnonzero(((self.u == i) & (self.v == j)) | ((self.u == j) & (self.v == i)))
        return bool(len(hit) and self.barrier[hit[0]])


def build_graph(
    cells: np.ndarray,
    cell_block: np.ndarray,
    building: np.ndarray,
    compound: np.ndarray,
    soft: np.ndarray | None = None,
    *,
    bridge: bool = False,
    known: Known | None = None,
) -> Graph:
    """Build the cell graph; ``building``/``compound`` label each cell ('' when unknown).

    ``soft`` labels the piece of a soft layer each cell lies in; edges between pieces are cheap.
    ``bridge`` joins cells that only a snapped-over gap keeps apart (tiles of a grid, whose
    union closed it). ``known``: the borders of the cells found beforehand (see
    :func:`.coverage.borders`).
    """
    n = len(cells)
    lines = borders(cells, known=known)
    touch = (lines.length > MIN_SHARED) & (bridge | ~lines.gap)
    u, v, length = lines.u[touch], lines.v[touch], lines.length[touch]
    barrier = cell_block[u] != cell_block[v]
    same_building = (building[u] == building[v]) & (building[u] != "")
    same_compound = (compound[u] == compound[v]) & (compound[u] != "")
    cost = length * np.where(same_building, 10.0, np.where(same_compound, 3.0, 1.0))
    along = barrier | (soft[u] != soft[v]) if soft is not None else barrier
    cost = np.where(along, 0.1 * length, cost)
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j, c in zip(u.tolist(), v.tolist(), cost.tolist(), strict=True):
        nbrs[i][j] = c
        nbrs[j][i] = c
    return Graph(
        n=n,
        u=u,
        v=v,
        length=length,
        barrier=barrier,
        cost=cost,
        nbrs=nbrs,
        soft=bool(soft is not None and (soft[u] != soft[v]).any()),
        lines=lines,
        line_row=np.flatnonzero(touch),
    )


def groups(nodes: Sequence[int] | set[int], nbrs: list[dict[int, float]]) -> list[list[int]]:
    """Split ``nodes`` into the groups connected through one another (each sorted, the groups
    in order of their least node)."""
    left, out = set(nodes), []
    while left:
        stack = [min(left)]
        left.discard(stack[0])
        group = []
        while stack:
            x = stack.pop()
            group.append(x)
            for y in nbrs[x]:
                if y in left:
                    left.discard(y)
                    stack.append(y)
        out.append(sorted(group))
    return out
