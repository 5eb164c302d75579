"""Boundary adjustment: move boundary atoms between unified grids to agree with soft layers.

After the partition, a unified grid may hold households whose soft-layer grid is not the one
it is labelled with. An atom (a stairwell unit of a building, or a household without one) on
its border moves, with its territory (the Voronoi cells of its households inside the grid), to
a neighbouring unified grid when every rule still holds: both grids keep their household count
within the bounds (or no further outside them), both stay one polygon, the two grids share
every hard label and the territory lies inside those hard grids (so no hard layer is ever
crossed), stacked grids stay as they are, and the atom's households keep more soft-layer grids
than they lose, over all soft layers together. Moves are greedy, best gain first; the state
with the most households keeping their soft grids is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..partition import Bounds
from ..partition.territory import GRID_SIZE, shared_lengths
from .layers import Layer
from .moves import fits, inside, keys_of
from .overlay import TOLERANCE_M2, locate, polygonal
from .unify import label_unified

__all__ = ["Adjusted", "adjust_to_soft"]

log = logging.getLogger(__name__)

MAX_MOVES = 500
MAX_EXPLORED = 50_000  # chains looked at per step at most (bounds the time on big grids)
MAX_CHAIN = 4  # atoms moved by one step: the first, then repairs of the grids it unbalanced
NEAR_M = 1.0  # a household this close outside its grid (the partition's tolerance) is in it


@dataclass(frozen=True)
class Adjusted:
    """Unified geometries and household → unified index after the pass, and atoms moved."""

    geoms: np.ndarray
    unified_of: np.ndarray
    moves: int


@dataclass(frozen=True)
class _Atom:
    """An atom of grid ``grid``: its household rows and its territory there."""

    grid: int
    rows: np.ndarray
    piece: BaseGeometry


@dataclass(frozen=True)
class _Move:
    """Atoms changing grid together: each ``(atom, receiver)``; one, two swapped, or a chain
    where the first atom's receiver passes one of its atoms on to a third grid."""

    gain: int
    transfers: tuple[tuple[_Atom, int], ...]


@dataclass
class _Memo:
    """What the greedy loop keeps between moves: it changes only for the grids a move touched.

    ``version`` counts each grid's changes; ``atoms`` holds a grid's atoms at its current
    version; ``verdicts`` whether a move is valid, keyed by its transfers and the versions of
    the grids it touches (its validity depends on those grids alone).
    """

    version: np.ndarray
    atoms: dict[int, list[_Atom]]
    verdicts: dict[tuple[tuple[int, ...], ...], bool]

    def touch(self, grids: list[int]) -> None:
        """Forget what depended on ``grids`` (after a move changed them)."""
        for g in grids:
            self.version[g] += 1
            self.atoms.pop(g, None)


@dataclass(frozen=True)
class _Context:
    points: np.ndarray
    atoms: np.ndarray
    soft: Sequence[Layer]
    hard: Sequence[Layer]
    homes: dict[str, np.ndarray]
    bounds: Bounds
    stacked: np.ndarray
    point_tree: shapely.STRtree


def adjust_to_soft(
    geoms: np.ndarray,
    unified_of: np.ndarray,
    points: np.ndarray,
    layers: Sequence[Layer],
    *,
    bounds: Bounds,
    stacked: np.ndarray,
    atoms: np.ndarray,
) -> Adjusted:
    """Return the unified grids after moving border atoms toward the soft layers.

    ``geoms`` are metric unified geometries; ``unified_of`` the unified index of each household
    (``points``, metric; -1 when none); ``atoms`` each household's atom key (households of one
    key move together).
    """
    soft = [la for la in layers if not la.hard]
    geoms = np.array(geoms, dtype=object)
    unified_of = np.array(unified_of)
    if not soft or len(geoms) < 2:
        return Adjusted(geoms, unified_of, 0)
    homes: dict[str, np.ndarray] = {}
    tiled_of: dict[str, np.ndarray] = {}  # each household's tiled grid index per layer
    for la in layers:
        tiled_of[la.name] = locate(points, la.tiled.geometry.to_numpy())
    for la in soft:
        at = tiled_of[la.name]
        ids = la.tiled["grid_id"].astype(str).to_numpy(dtype=object)
        homes[la.name] = np.where(at >= 0, ids[np.maximum(at, 0)], "").astype(object)
    ctx = _Context(
        points, np.asarray(atoms, dtype=object), soft, [la for la in layers if la.hard],
        homes, bounds, np.asarray(stacked, dtype=bool), shapely.STRtree(points),
    )  # fmt: skip
    # a grid's labels and atoms depend on its own geometry and households alone: computed
    # once, then again only for the grids a move touched
    labels = {
        la.name: label_unified(geoms, unified_of, points, la, home=tiled_of[la.name])[0]
        for la in layers
    }
    memo = _Memo(np.zeros(len(geoms), dtype=int), {}, {})
    best = (geoms.copy(), unified_of.copy(), 0)
    best_score = -1
    for moves in range(MAX_MOVES + 1):
        score = _score(unified_of, labels, ctx)
        if score > best_score:
            best, best_score = (geoms.copy(), unified_of.copy(), moves), score
        move = _best_move(geoms, unified_of, labels, memo, ctx) if moves < MAX_MOVES else None
        if move is None:
            break
        geoms = _apply(geoms, move)
        for atom, receiver in move.transfers:
            unified_of[atom.rows] = receiver
        touched = np.array(_touched(move))
        for la in layers:
            fresh = label_unified(
                geoms, unified_of, points, la, home=tiled_of[la.name], only=touched
            )[0]
            labels[la.name][touched] = fresh[touched]
        memo.touch(touched.tolist())
    return Adjusted(*best)


def _score(unified_of: np.ndarray, labels: dict[str, np.ndarray], ctx: _Context) -> int:
    """Return how many (household, soft layer) pairs keep their grid under ``labels``."""
    placed = unified_of >= 0
    return sum(
        int((ctx.homes[la.name][placed] == labels[la.name][unified_of[placed]]).sum())
        for la in ctx.soft
    )


def _best_move(
    geoms: np.ndarray,
    unified_of: np.ndarray,
    labels: dict[str, np.ndarray],
    memo: _Memo,
    ctx: _Context,
) -> _Move | None:
    """Return the valid move gaining most, or None.

    A move starts with one atom joining a neighbour where its households keep more soft grids;
    while a grid it touched is outside the bounds (and further than before), the next atom
    repairs it: one of that grid's own atoms leaves (to any neighbour), or a neighbour's atom
    comes in, up to ``MAX_CHAIN`` atoms in all. ``labels`` hold every layer's labels (soft
    and hard) of the current grids; ``memo`` keeps atoms and verdicts between moves.
    """
    hard_key = keys_of([labels[la.name] for la in ctx.hard], len(geoms))
    counts = np.bincount(unified_of[unified_of >= 0], minlength=len(geoms)).tolist()
    tree = shapely.STRtree(geoms)
    placed = np.flatnonzero(unified_of >= 0)
    wrong = np.zeros(len(unified_of), dtype=bool)
    for la in ctx.soft:
        home = ctx.homes[la.name][placed]
        wrong[placed] |= (home != "") & (home != labels[la.name][unified_of[placed]])

    def atoms_of(grid: int) -> list[_Atom]:
        if grid not in memo.atoms:
            memo.atoms[grid] = _atoms_of(grid, geoms, unified_of, ctx)
        return memo.atoms[grid]

    gains: dict[tuple[int, int, int], int] = {}

    def gain(atom: _Atom, to: int) -> int:
        name = (atom.grid, int(atom.rows[0]), to)
        if name not in gains:
            gains[name] = sum(
                int((ctx.homes[la.name][atom.rows] == labels[la.name][to]).sum())
                - int((ctx.homes[la.name][atom.rows] == labels[la.name][atom.grid]).sum())
                for la in ctx.soft
            )
        return gains[name]

    reach: dict[tuple[int, int], list[int]] = {}

    def receivers(atom: _Atom) -> list[int]:
        name = (atom.grid, int(atom.rows[0]))
        if name not in reach:
            near = tree.query(atom.piece, predicate="intersects").tolist()
            key = hard_key[atom.grid]
            reach[name] = [
                k
                for k in sorted(near)
                if k != atom.grid and not ctx.stacked[k] and hard_key[k] == key
            ]
        return reach[name]

    def givers(grid: int) -> list[tuple[_Atom, int]]:
        near = tree.query(geoms[grid], predicate="intersects").tolist()
        return [
            (b, grid)
            for x in sorted(near)
            if x != grid and not ctx.stacked[x] and hard_key[x] == hard_key[grid]
            for b in atoms_of(x)
            if grid in receivers(b)
        ]

    candidates: list[_Move] = []
    repairs: dict[tuple[int, bool], list[tuple[_Atom, int]]] = {}
    explored = [0]

    def extend(chain: tuple[tuple[_Atom, int], ...], delta: dict[int, int], total: int) -> None:
        """Record ``chain`` if every grid fits, else repair the first grid it broke."""
        explored[0] += 1
        broken = [g for g, d in delta.items() if not fits(counts[g] + d, counts[g], ctx.bounds)]
        if not broken:
            if total > 0:
                candidates.append(_Move(total, chain))
            return
        if len(chain) == MAX_CHAIN or explored[0] >= MAX_EXPLORED:
            return
        g = broken[0]
        leave = counts[g] + delta[g] > ctx.bounds.hi
        if (g, leave) not in repairs:
            repairs[g, leave] = (
                [(b, w) for b in atoms_of(g) for w in receivers(b)]  # one of its own atoms leaves
                if leave
                else givers(g)  # an atom of a neighbour comes in
            )
        options = repairs[g, leave]
        used = {(a.grid, int(a.rows[0])) for a, _ in chain}
        for b, w in options:
            if (b.grid, int(b.rows[0])) in used:
                continue
            n = len(b.rows)
            after = dict(delta)
            after[b.grid] = after.get(b.grid, 0) - n
            after[w] = after.get(w, 0) + n
            extend((*chain, (b, w)), after, total + gain(b, w))

    for u in sorted(set(unified_of[wrong].tolist())):
        for a in atoms_of(u):
            if not wrong[a.rows].any():
                continue
            n_a = len(a.rows)
            for k in receivers(a):
                g_a = gain(a, k)
                if g_a > 0:
                    extend(((a, k),), {u: -n_a, k: n_a}, g_a)
    log.debug("adjust: %d chains looked at, %d candidates", explored[0], len(candidates))
    candidates.sort(key=lambda m: -m.gain)  # stable: ties keep the deterministic scan order
    trial = _Trial(geoms, hard_key, ctx)
    for move in candidates:
        touched = _touched(move)
        name = (
            *((a.grid, int(a.rows[0]), r) for a, r in move.transfers),
            tuple(int(memo.version[g]) for g in touched),
        )
        if name not in memo.verdicts:
            memo.verdicts[name] = trial.valid(move)
        if memo.verdicts[name]:
            return move
    return None


def _atoms_of(grid: int, geoms: np.ndarray, unified_of: np.ndarray, ctx: _Context) -> list[_Atom]:
    """Return the atoms of ``grid`` that could leave it, each with a territory there.

    An atom's territory is the union of its households' Voronoi cells in the grid, or, when
    that is not one polygon, the Voronoi cell of the atom's centre among the grid's atoms;
    either must hold the atom's households (or lie within ``NEAR_M`` of them) and no other.
    """
    if ctx.stacked[grid]:
        return []
    rows = np.flatnonzero(unified_of == grid)
    keys = ctx.atoms[rows]
    names = sorted(set(keys.tolist()))
    if len(names) < 2:
        return []
    cells = _territories(geoms[grid], ctx.points[rows])
    centres = shapely.points(
        [shapely.get_coordinates(ctx.points[rows[keys == k]]).mean(axis=0) for k in names]
    )
    blocks = _territories(geoms[grid], centres)
    out = []
    for n, key in enumerate(names):
        mine = keys == key
        options = []
        if cells is not None:
            options.append(polygonal(shapely.union_all(cells[mine], grid_size=GRID_SIZE)))
        if blocks is not None:
            options.append(polygonal(blocks[n]))
        for piece in options:
            if shapely.get_num_geometries(piece) != 1 or shapely.area(piece) <= TOLERANCE_M2:
                continue
            if not shapely.dwithin(piece, ctx.points[rows[mine]], NEAR_M).all():
                continue
            inside = ctx.point_tree.query(piece, predicate="intersects")
            if not np.isin(inside, rows[mine]).all():
                continue  # it would carry a household of another atom (or grid) along
            out.append(_Atom(grid, rows[mine], piece))
            break
    return out


def _touched(move: _Move) -> list[int]:
    """Return the grids ``move`` changes (givers and receivers), sorted."""
    return sorted({a.grid for a, _ in move.transfers} | {r for _, r in move.transfers})


def _apply(geoms: np.ndarray, move: _Move) -> np.ndarray:
    """Return the geometries after ``move``'s transfers, in order."""
    geoms = np.array(geoms, dtype=object)
    for atom, receiver in move.transfers:
        geoms[receiver] = polygonal(shapely.union(geoms[receiver], atom.piece, grid_size=GRID_SIZE))
        geoms[atom.grid] = polygonal(
            shapely.difference(geoms[atom.grid], atom.piece, grid_size=GRID_SIZE)
        )
    return geoms


class _Trial:
    """Tell whether moves keep every grid they touch one polygon inside its hard grids.

    One per search over fixed geometries: chains share transfers and first transfers, so each
    transfer is checked once and each chain prefix applied once.
    """

    def __init__(self, geoms: np.ndarray, hard_key: list[tuple[str, ...]], ctx: _Context):
        self.geoms, self.hard_key, self.ctx = geoms, hard_key, ctx
        self.transfers: dict[tuple[int, int, int], bool] = {}
        self.states: dict[tuple[tuple[int, int, int], ...], dict[int, BaseGeometry]] = {(): {}}

    def valid(self, move: _Move) -> bool:
        for atom, receiver in move.transfers:
            name = (atom.grid, int(atom.rows[0]), receiver)
            if name not in self.transfers:
                self.transfers[name] = bool(
                    shared_lengths(np.array([atom.piece], dtype=object), self.geoms[[receiver]])[0]
                    > 0
                    # else the piece reaches into another hard grid (a forced crossing)
                    and inside(atom.piece, self.hard_key[receiver], self.ctx.hard)
                )
            if not self.transfers[name]:
                return False
        after = self._after(move.transfers)
        return all(
            shapely.get_num_geometries(after[g]) == 1 and shapely.area(after[g]) > TOLERANCE_M2
            for g in _touched(move)
        )

    def _after(self, transfers: tuple[tuple[_Atom, int], ...]) -> dict[int, BaseGeometry]:
        """Return the grids changed by ``transfers`` applied in order (as :func:`_apply`)."""
        name = tuple((a.grid, int(a.rows[0]), r) for a, r in transfers)
        if name not in self.states:
            state = dict(self._after(transfers[:-1]))
            atom, receiver = transfers[-1]
            grown = state.get(receiver, self.geoms[receiver])
            state[receiver] = polygonal(shapely.union(grown, atom.piece, grid_size=GRID_SIZE))
            shrunk = state.get(atom.grid, self.geoms[atom.grid])
            state[atom.grid] = polygonal(
                shapely.difference(shrunk, atom.piece, grid_size=GRID_SIZE)
            )
            self.states[name] = state
        return self.states[name]


def _territories(grid: BaseGeometry, points: np.ndarray) -> np.ndarray | None:
    """Return the Voronoi cell of each point inside ``grid`` (None when points coincide)."""
    if len(points) < 2:
        return None
    xy = shapely.get_coordinates(points)
    if len(np.unique(np.round(xy, 3), axis=0)) < len(xy):
        return None
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=grid, ordered=True)
    )
    if len(cells) != len(points):
        return None
    return np.asarray(shapely.intersection(cells, grid, grid_size=GRID_SIZE), dtype=object)
