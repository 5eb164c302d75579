"""Fast geometry on a coverage of cells: the borders of every pair at once, and unions.

Cells tile a territory on the ``GRID_SIZE`` grid, but their edges need not match vertex for
vertex: where a cell's corner lies on a neighbour's edge (a T-junction, e.g. along a road between
two blocks) the neighbour has no vertex, and after snapping the two may even be a millimetre
apart. Pairwise overlays handle that but cost one overlay per pair (or per grid). Here the
whole line work is noded once with snap rounding, each noded piece is labelled with the cells
within snapping distance of its middle, and grids are unioned as a coverage (matching edges
dissolve without an overlay) whenever that is exact, with a snap-rounding overlay otherwise.

Where two cells' edges run a centimetre apart (each snapped on its own), noding keeps both: a
piece on each cell's boundary, each within snapping distance of the other cell. Such a border is
counted once, from the side with the longer line work, not once per side. Snapping can also
leave a cell a polygon plus a stray line (a GeometryCollection, whose boundary GEOS does not
give); only its polygons count (:func:`.territory.polygonal`).

A level below reuses the borders of the level above (:class:`Known`): a grid's tiles are mostly
the cells the level above drew, whose borders are already known; only the borders of new tiles
(shares of cut empty cells) are noded again, among the tiles near them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from .territory import GRID_SIZE, polygonal

__all__ = ["Borders", "Known", "borders", "union_cells", "union_groups"]

SNAP_M = 2 * GRID_SIZE  # a noded piece this close to a cell's boundary lies on it
HOLE_M2 = 1.0  # holes smaller than this in a coverage union are slivers: use the overlay
ON_LINE = GRID_SIZE / 1000  # a noded piece this close to a cell's boundary is part of it


@dataclass(frozen=True, slots=True)
class Borders:
    """Shared borders of a set of cells: one row per pair ``u < v`` that share line work.

    ``length[i]`` is the length ``u[i]`` and ``v[i]`` share; ``pieces`` are the noded line
    pieces of those borders and ``piece_pair`` the row each piece belongs to. ``gap[i]`` marks
    a pair that does not touch, only less than half a grid step apart (a gap the snapping of
    the two cells' union closes: neighbours only in a graph that bridges such gaps). Rows are
    in order of ``(u, v)``.
    """

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    pieces: np.ndarray
    piece_pair: np.ndarray
    gap: np.ndarray

    def rows(self) -> dict[tuple[int, int], int]:
        """Return the row of each pair ``(u, v)``."""
        pairs = zip(self.u.tolist(), self.v.tolist(), strict=True)
        return {pair: i for i, pair in enumerate(pairs)}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        """Return the border of each of ``rows`` as one (multi)line geometry."""
        out = np.empty(len(rows), dtype=object)
        if len(rows) == 0:
            return out
        slot = np.full(len(self.u), -1)
        slot[rows] = np.arange(len(rows))
        mine = np.flatnonzero(slot[self.piece_pair] >= 0)
        order = mine[np.argsort(slot[self.piece_pair[mine]], kind="stable")]
        idx = slot[self.piece_pair[order]]
        merged = shapely.multilinestrings(self.pieces[order], indices=idx)
        out[np.unique(idx)] = merged
        empty = np.array([g is None for g in out])
        out[empty] = shapely.MultiLineString()
        return out

    def take(self, slot: np.ndarray) -> Borders:
        """Return the borders of the pairs of cells ``slot`` keeps (``slot[i] >= 0``), the
        cells numbered by ``slot``."""
        su, sv = slot[self.u], slot[self.v]
        keep = np.flatnonzero((su >= 0) & (sv >= 0))
        u, v = np.minimum(su, sv)[keep], np.maximum(su, sv)[keep]
        order = np.lexsort((v, u))
        rows = keep[order]
        return self._subset(rows, u[order], v[order])

    def _subset(self, rows: np.ndarray, u: np.ndarray, v: np.ndarray) -> Borders:
        """Return ``rows`` (in that order) as borders of the pairs ``u``, ``v``."""
        new_row = np.full(len(self.u), -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows))
        pair = new_row[self.piece_pair]
        kept = pair >= 0
        return Borders(
            u=u.astype(np.int64),
            v=v.astype(np.int64),
            length=self.length[rows],
            pieces=self.pieces[kept],
            piece_pair=pair[kept],
            gap=self.gap[rows],
        )

    def within(self, group: np.ndarray, count: int) -> list[Borders]:
        """Return, for each group ``0..count-1``, the borders of the pairs of cells both in it
        (``group`` labels each cell, -1: none), cells numbered as here."""
        row_group = np.where(group[self.u] == group[self.v], group[self.u], -1)
        rows = np.flatnonzero(row_group >= 0)
        rows = rows[np.argsort(row_group[rows], kind="stable")]
        starts = np.searchsorted(row_group[rows], np.arange(count + 1))
        local = np.full(len(self.u), -1, dtype=np.int64)
        local[rows] = np.arange(len(rows)) - starts[row_group[rows]]
        piece_group = row_group[self.piece_pair]
        pieces = np.flatnonzero(piece_group >= 0)
        pieces = pieces[np.argsort(piece_group[pieces], kind="stable")]
        piece_starts = np.searchsorted(piece_group[pieces], np.arange(count + 1))
        out = []
        for g in range(count):
            mine = rows[starts[g] : starts[g + 1]]
            bits = pieces[piece_starts[g] : piece_starts[g + 1]]
            out.append(
                Borders(
                    u=self.u[mine],
                    v=self.v[mine],
                    length=self.length[mine],
                    pieces=self.pieces[bits],
                    piece_pair=local[self.piece_pair[bits]],
                    gap=self.gap[mine],
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class Known:
    """Borders known beforehand: ``lines`` holds those of every pair of cells of which neither
    is ``fresh`` (the level above drew them); pairs with a fresh cell are yet to be found."""

    lines: Borders
    fresh: np.ndarray

    def take(self, slot: np.ndarray, count: int) -> Known:
        """Return what is known of the ``count`` cells ``slot`` keeps, numbered by ``slot``."""
        fresh = np.zeros(count, dtype=bool)
        kept = slot >= 0
        fresh[slot[kept]] = self.fresh[kept]
        return Known(self.lines.take(slot), fresh)


def _none() -> Borders:
    none = np.zeros(0, dtype=np.int64)
    return Borders(none, none, np.zeros(0), np.empty(0, dtype=object), none, np.zeros(0, bool))


def borders(cells: np.ndarray, *, known: Known | None = None) -> Borders:
    """Return the borders every two of ``cells`` (metric polygons) share, all in one pass.

    Cells that do not touch share no border, except those less than half a grid step apart
    (rows marked ``gap``). ``known`` borders (of the same cells) are taken as they are; only
    the pairs with a fresh cell are found, by noding the fresh cells and the cells near them.
    """
    if len(cells) < 2:
        return _none()
    cells = polygonal(np.asarray(cells, dtype=object))
    if known is None:
        return _borders(cells)
    if not known.fresh.any():
        return known.lines
    fresh = np.flatnonzero(known.fresh)
    # every cell a piece of a fresh cell's border may lie near (see _borders' nearest two)
    near = shapely.STRtree(cells).query(cells[fresh], predicate="dwithin", distance=2 * SNAP_M)
    local = np.union1d(fresh, near[1])
    if len(local) == len(cells):  # nothing to take from ``known``
        return _borders(cells)
    found = _borders(cells[local])
    u, v = local[found.u], local[found.v]  # ascending, as ``local`` is
    mine = np.flatnonzero(known.fresh[u] | known.fresh[v])
    have = known.lines
    n = len(cells)
    key = np.concatenate([have.u * n + have.v, u[mine] * n + v[mine]])
    order = np.argsort(key, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    new_of_found = np.full(len(found.u), -1, dtype=np.int64)
    new_of_found[mine] = rank[len(have.u) :]
    extra = new_of_found[found.piece_pair] >= 0
    return Borders(
        u=np.concatenate([have.u, u[mine]])[order],
        v=np.concatenate([have.v, v[mine]])[order],
        length=np.concatenate([have.length, found.length[mine]])[order],
        pieces=np.concatenate([have.pieces, found.pieces[extra]]),
        piece_pair=np.concatenate(
            [rank[have.piece_pair], new_of_found[found.piece_pair[extra]]]
        ).astype(np.int64),
        gap=np.concatenate([have.gap, found.gap[mine]])[order],
    )


def _borders(cells: np.ndarray) -> Borders:
    """Return the borders of ``cells`` (polygonal), from one noding of all their edges."""
    if len(cells) < 2:
        return _none()
    tree = shapely.STRtree(cells)
    edges = shapely.boundary(cells)
    noded = shapely.union_all(edges, grid_size=GRID_SIZE)
    pieces = shapely.get_parts(noded)
    pieces = pieces[shapely.length(pieces) > 0]
    middle = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece, cell = tree.query(middle, predicate="dwithin", distance=SNAP_M)
    # a piece borders the two nearest cells (more than two only at a corner of a tiny piece)
    off = np.zeros(len(piece))
    crowded = np.bincount(piece, minlength=len(pieces))[piece] > 2
    off[crowded] = shapely.distance(middle[piece[crowded]], cells[cell[crowded]])
    order = np.lexsort((cell, off, piece))
    piece, cell = piece[order], cell[order]
    rank = np.arange(len(piece)) - np.searchsorted(piece, piece)
    second = np.flatnonzero(rank == 1)
    a, b, which = cell[second - 1], cell[second], piece[second]
    u, v = np.minimum(a, b), np.maximum(a, b)
    key = u * len(cells) + v
    pairs, pair_of = np.unique(key, return_inverse=True)  # each pair tested once
    cu, cv = pairs // len(cells), pairs % len(cells)
    touch = shapely.intersects(cells[cu], cells[cv])
    apart = np.zeros(len(pairs), dtype=bool)  # gaps the snapping closes: under half a step
    apart[~touch] = shapely.dwithin(cells[cu[~touch]], cells[cv[~touch]], GRID_SIZE / 2)
    hit = (touch | apart)[pair_of.ravel()]
    u, v, which, key = u[hit], v[hit], which[hit], key[hit]
    gap = ~touch[touch | apart]  # per pair left, in the same (ascending) order
    pairs, pair_of = np.unique(key, return_inverse=True)
    pair_of = pair_of.astype(np.int64).ravel()
    # each piece lies on both cells' boundaries, or on one side of a border snapped apart
    on_u = shapely.distance(middle[which], edges[u]) <= ON_LINE
    on_v = shapely.distance(middle[which], edges[v]) <= ON_LINE
    lengths = shapely.length(pieces[which])
    side_u = np.bincount(pair_of, weights=lengths * (on_u & ~on_v), minlength=len(pairs))
    side_v = np.bincount(pair_of, weights=lengths * (on_v & ~on_u), minlength=len(pairs))
    # one side's line work of each pair: the longer (u's on a tie), with the common pieces
    drop = np.where((side_v > side_u)[pair_of], on_u & ~on_v, on_v & ~on_u)
    which, pair_of, lengths = which[~drop], pair_of[~drop], lengths[~drop]
    return Borders(
        u=(pairs // len(cells)).astype(np.int64),
        v=(pairs % len(cells)).astype(np.int64),
        length=np.bincount(pair_of, weights=lengths, minlength=len(pairs)),
        pieces=pieces[which],
        piece_pair=pair_of,
        gap=gap,
    )


def union_cells(geoms: list[BaseGeometry] | np.ndarray) -> BaseGeometry:
    """Return the union of polygons that tile without overlap (cells of one grid).

    The coverage union (edges matched vertex for vertex dissolve) is used when its result is one
    valid polygon whose holes are real; otherwise the snap-rounding overlay on ``GRID_SIZE``.
    """
    geoms = np.asarray(geoms, dtype=object)
    return union_groups(geoms, [np.arange(len(geoms))])[0]


def union_groups(geoms: np.ndarray, groups: Sequence[np.ndarray]) -> np.ndarray:
    """Return :func:`union_cells` of ``geoms[g]`` for each of ``groups``, the coverage unions
    of all of them in one call."""
    out = np.empty(len(groups), dtype=object)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    one = np.flatnonzero(sizes == 1)
    out[one] = geoms[[int(groups[i][0]) for i in one.tolist()]]
    many = np.flatnonzero(sizes != 1)
    if not len(many):
        return out
    table = np.full((len(many), max(int(sizes[many].max()), 1)), None, dtype=object)
    for row, i in enumerate(many.tolist()):
        table[row, : sizes[i]] = geoms[groups[i]]
    try:
        merged = np.asarray(shapely.coverage_union_all(table, axis=1), dtype=object)
        clean = _clean(merged)
    except GEOSException:  # some group is no coverage: each on its own
        merged = np.empty(len(many), dtype=object)
        clean = np.zeros(len(many), dtype=bool)
        for row, i in enumerate(many.tolist()):
            try:
                merged[row] = shapely.coverage_union_all(geoms[groups[i]])
            except GEOSException:
                continue
            clean[row] = _clean(merged[row : row + 1])[0]
    for row, i in enumerate(many.tolist()):
        out[i] = (
            merged[row] if clean[row] else shapely.union_all(geoms[groups[i]], grid_size=GRID_SIZE)
        )
    return out


def _clean(geoms: np.ndarray) -> np.ndarray:
    """Return which of the coverage unions ``geoms`` are one valid polygon whose holes (if any)
    are real, not slivers."""
    clean = (shapely.get_type_id(geoms) == 3) & shapely.is_valid(geoms)
    holes = np.where(clean, shapely.get_num_interior_rings(geoms), 0)
    for i in np.flatnonzero(holes > 0).tolist():
        rings = shapely.get_interior_ring(
            np.full(holes[i], geoms[i], dtype=object), np.arange(holes[i])
        )
        clean[i] = bool((shapely.area(shapely.polygons(rings)) >= HOLE_M2).all())
    return clean
