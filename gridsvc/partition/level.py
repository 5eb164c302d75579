"""Partition one territory at one level: atoms → cells → regions → grids.

A region is a set of blocks that are partitioned together. Each block starts as its own region;
a region whose households cannot fill grids within the bounds (too few, or atoms too lumpy) is
merged across the barrier with the neighbouring region it shares the longest border with, and
the crossing is reported. A region with no neighbour becomes an exception grid, flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from .area_cells import area_territory
from .atoms import AtomColumns, Bounds, build_atoms
from .budget import CP_SAT_SECONDS, CP_SAT_TERMS, Budget
from .coverage import Borders, Known
from .empties import share_empties
from .exact import ExactOutcome, exact_partition, exception_cap, plan_cost
from .graph import Graph, build_graph
from .overlaps import settle_overlaps
from .sites import site_cells, with_sites
from .split import heuristic_split, lumpy_infeasible, packs_greedily, split_region
from .territory import Territory, tessellate

__all__ = [
    "Cell",
    "Note",
    "Planned",
    "Tiles",
    "inherit",
    "level_graph",
    "level_territory",
    "partition_level",
    "plan_grids",
]

log = logging.getLogger(__name__)
CP_SAT_ATOMS = 80  # regions up to this many atoms get the exact lumpiness proof
SOFT_BALANCE = 0.1  # with soft lines, even grid sizes weigh this much against following them
LUMPY_UNITS = 5.0  # CP-SAT work limit of a lumpiness proof (budget units, see budget.py)
PROOF_SHARE = 0.05  # share of a limited budget one lumpiness proof may use (see _proof_units)
LUMPY = 0.2  # regions whose median unit holds this share of the upper bound get the exact plan
EXACT_UNITS = 2.0  # HiGHS work limit per region (less when the budget is nearly spent)
COMPACT_SHARE = 0.5  # a region already within the bounds gets the exact (more compact) plan only
# while this share of a limited budget is left, so the regions that miss the bounds come first


@dataclass(frozen=True, slots=True)
class Tiles:
    """The pieces of territory a grid was built from, to partition it one level down.

    ``geoms`` tile the grid (its units' cells, empty cells, shares of empty cells); ``block``
    is each tile's barrier block; ``of_member[i]`` is the tile of the grid's ``members[i]``;
    ``known`` the borders between tiles the level drew (all but the shares' borders).
    """

    geoms: np.ndarray
    block: np.ndarray
    of_member: np.ndarray
    known: Known | None = None


@dataclass(slots=True)
class Cell:
    """A grid being built: territory (metres), household rows, floor range, flags."""

    geometry: BaseGeometry
    members: np.ndarray
    floor_lo: int | None = None
    floor_hi: int | None = None
    stacked: bool = False
    flags: list[str] = field(default_factory=list)
    blocks: int = 1
    tiles: Tiles | None = None


def inherit(tiles: Tiles, atoms: AtomColumns) -> tuple[Territory, Known | None] | None:
    """Return the territory of ``atoms`` (a grid's households, one level down) cut from the
    grid's ``tiles``: each ground atom gets its unit's tile, the other tiles are empty; and the
    borders known of its cells (cells, then orphans: see :class:`.coverage.Known`).

    The tiles are the cells a tessellation of the grid would draw again (a Voronoi cell of a
    unit is also its cell among any subset of units that holds it). None when ground atoms and
    tiles do not pair one to one (a unit split on the ground, a ground atom without households).
    """
    if len(tiles.of_member) != len(atoms.member) or (tiles.of_member < 0).any():
        return None
    span = len(tiles.geoms) + 1
    keys = np.unique(atoms.ground[atoms.member].astype(np.int64) * span + tiles.of_member)
    ground, tile = keys // span, keys % span  # each (ground atom, tile) pair once
    if len(np.unique(ground)) != len(keys) or len(np.unique(tile)) != len(keys):
        return None
    tile_of = np.full(len(atoms.stacked), -1, dtype=np.int64)
    tile_of[ground] = tile
    mine = tile_of[atoms.grounded]
    if (mine < 0).any():
        return None
    slot = np.full(len(tiles.geoms), -1, dtype=np.int64)  # each tile's place in the territory
    slot[mine] = np.arange(len(mine))
    free = np.flatnonzero(slot < 0)
    slot[free] = np.arange(len(mine), len(tiles.geoms))
    terr = Territory(
        atoms=np.arange(len(mine)),
        cells=tiles.geoms[mine],
        cell_block=tiles.block[mine],
        orphans=tiles.geoms[free],
        orphan_block=tiles.block[free],
        blocks=np.empty(0, dtype=object),
        cell_soft=tiles.block[mine],
        orphan_soft=tiles.block[free],
    )
    return terr, None if tiles.known is None else tiles.known.take(slot, len(tiles.geoms))


@dataclass(frozen=True, slots=True)
class Note:
    """An infeasible region: where, how many households, why, and what the engine did."""

    households: int
    lon: float
    lat: float
    reason: str
    action: str

    def message(self) -> str:
        """Return the note as one sentence for planners."""
        return f"{self.reason}; {self.action}"


def _components(n: int, graph: Graph, allowed: np.ndarray) -> np.ndarray:
    """Label connected components of ``graph`` using only edges where ``allowed``."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(graph.u[allowed].tolist(), graph.v[allowed].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _lonlat(to_wgs: Transformer, x: float, y: float) -> tuple[float, float]:
    lon, lat = to_wgs.transform(x, y)
    return round(float(lon), 5), round(float(lat), 5)


def _infeasible(
    weights: np.ndarray,
    bounds: Bounds,
    budget: Budget,
    holds: Callable[[], bool] | None = None,
    proved: set[tuple[int, ...]] | None = None,
) -> str | None:
    """Return why ``weights`` cannot make grids within ``bounds``, or None if they can.

    The lumpiness proof (CP-SAT) runs only while ``budget`` lasts, and not when a witness that
    no proof can exist is at hand: largest-first packing fills grids within the bounds, or
    ``holds`` (the heuristic's plan of the region is within the bounds, asked only after the
    packing failed) says so. ``proved`` keeps the households of the units (sorted, empty ones
    left out) already proved lumpy: a region that took in only empty cells needs no new proof.
    """
    total = int(weights.sum())
    if total == 0:
        return "nobody lives there"
    lo_k, hi_k = bounds.k_range(total)
    if lo_k > hi_k:
        if total < bounds.lo:
            return f"{total} households are fewer than the lower bound {bounds.lo}"
        return (
            f"{total} households fit no number of {bounds.lo}–{bounds.hi}-household grids "
            f"({lo_k - 1} grids hold at most {(lo_k - 1) * bounds.hi}, {lo_k} need at least "
            f"{lo_k * bounds.lo})"
        )
    lumpy = bounds.lo > 1 and weights.max() > bounds.hi - bounds.lo
    lived = tuple(sorted(int(x) for x in weights if x > 0))
    if lumpy and len(weights) <= CP_SAT_ATOMS and budget.allows():
        if proved is None or lived not in proved:
            if packs_greedily(list(lived), bounds) or (holds is not None and holds()):
                return None
            units = _proof_units(LUMPY_UNITS, budget, lived, bounds)
            if units is None or not lumpy_infeasible(
                list(lived), bounds, units=units, budget=budget
            ):
                return None
            if proved is not None:
                proved.add(lived)
        sizes = ", ".join(str(int(x)) for x in sorted(weights.tolist(), reverse=True)[:8])
        return (
            f"its {len(weights)} units (households {sizes}{'…' if len(weights) > 8 else ''})"
            f" cannot be grouped into {bounds.lo}–{bounds.hi}-household grids without "
            "splitting a unit"
        )
    return None


def _proof_units(
    units: float, budget: Budget, lived: Sequence[int], bounds: Bounds
) -> float | None:
    """Return the work limit of a lumpiness proof of the units ``lived``: ``units`` under an
    unlimited budget, at most ``PROOF_SHARE`` of a limited one; None when that share cannot
    even pay for building its model (a variable per unit and grid: the Python work dominates).

    On 16 communities of the 1M city such proofs either finished within a few hundredths of a
    unit or ran on to their limit (the whole of a one-unit budget, twice) to no end."""
    if budget.units is None:
        return units
    share = PROOF_SHARE * budget.units
    bins = min(bounds.k_range(int(sum(lived)))[1], len(lived))
    if (len(lived) + 1) * (bins + 1) / CP_SAT_TERMS > share:
        return None
    return min(units, share * CP_SAT_SECONDS)


def _where(
    xy: np.ndarray, w: np.ndarray, mine: np.ndarray, to_wgs: Transformer
) -> tuple[float, float, str]:
    """Return the centre (lon, lat) of the region ``mine`` and its households, for a note."""
    lon, lat = _lonlat(to_wgs, *xy[mine].mean(axis=0))
    return lon, lat, f"the {int(w[mine].sum())} households around ({lon}, {lat})"


@dataclass(frozen=True, slots=True)
class _Merge:
    """A region merged across barriers into a neighbour (:func:`_regions`): its note (``at``
    in the notes), its cells (``mine``) and the neighbour's (``other``), to say once the grids
    are planned where they cross (:func:`_crossings`)."""

    at: int
    mine: np.ndarray
    other: np.ndarray


def _regions(
    graph: Graph,
    w: np.ndarray,
    xy: np.ndarray,
    bounds: Bounds,
    to_wgs: Transformer,
    notes: list[Note],
    budget: Budget,
    site: np.ndarray,
    plans: _Plans,
) -> tuple[np.ndarray, set[int], set[int], list[_Merge]]:
    """Group cells into feasible regions; return region label per cell, exception labels,
    dedicated labels (empty regions holding a ``site`` cell: they stay grids of their own) and
    the merges across barriers noted (their notes' actions are left to :func:`_crossings`).
    ``plans`` keeps the heuristic plans the lumpiness check drew for the split."""
    label = _components(graph.n, graph, ~graph.barrier)
    dedicated = {int(r) for r in np.unique(label[site]) if not w[label == r].any()}
    kept = np.isin(label, list(dedicated))  # no region merges into a dedicated one
    exceptions: set[int] = set(dedicated)
    checked: dict[int, str | None] = {}
    proved: set[tuple[int, ...]] = set()  # units' households already proved lumpy
    merges: list[_Merge] = []
    while True:
        changed = False
        for r in sorted(set(label.tolist())):
            if r in exceptions:
                continue
            mine = label == r
            if r not in checked:  # a witness only where the heuristic's plan would be used
                holds = (
                    None if _exact_first(w[mine], bounds, budget) else partial(plans.holds, mine)
                )
                checked[r] = _infeasible(w[mine], bounds, budget, holds=holds, proved=proved)
            why = checked[r]
            if why is None:
                continue
            cross = graph.barrier & (mine[graph.u] != mine[graph.v])
            cross &= ~(kept[graph.u] | kept[graph.v])
            empty = not w[mine].any()
            if empty and not cross.any():
                exceptions.add(r)  # nobody lives here and it touches nothing: an empty grid
                continue
            if not cross.any():
                exceptions.add(r)
                lon, lat, where = _where(xy, w, mine, to_wgs)
                notes.append(
                    Note(
                        int(w[mine].sum()),
                        lon,
                        lat,
                        f"{where}: {why}",
                        "no neighbour to join: kept as an exception grid (flagged)",
                    )
                )
                continue
            others = np.where(mine[graph.u[cross]], label[graph.v[cross]], label[graph.u[cross]])
            near, slot = np.unique(others, return_inverse=True)
            target = int(near[np.argmax(np.bincount(slot, weights=graph.length[cross]))])
            if not empty and w[label == target].any():  # an empty region joins without a note
                lon, lat, where = _where(xy, w, mine, to_wgs)
                merges.append(_Merge(len(notes), mine, label == target))
                notes.append(
                    Note(
                        int(w[mine].sum()), lon, lat, f"{where} are cut off by barriers: {why}", ""
                    )
                )
            new = min(r, target)
            label[mine | (label == target)] = new
            checked.pop(r, None)
            checked.pop(target, None)
            changed = True
            break
        if not changed:
            return label, exceptions, dedicated, merges


def _crossings(
    merges: list[_Merge],
    parts: list[tuple[np.ndarray, bool]],
    graph: Graph,
    w: np.ndarray,
    to_wgs: Transformer,
    notes: list[Note],
) -> None:
    """Say in the note of each merge across barriers what the grids planned did there: where
    each grid holding households on both sides crosses (the centre of its longest border
    leaving the merged region's side), or that none does.

    A merge lets the grids cross; it does not make them: the plans of the regions it merged
    may rank first (:func:`_apart`), and a merged region's own plan may keep each grid on one
    side. On urban at budgets 0.1 and 0.2 no grid crossed where a note said "allowed crossing";
    unlimited, two grids crossed, 183 m and 10 m from the border each note named (the longest
    between the regions, where no grid crossed)."""
    grid = np.full(graph.n, -1, dtype=np.int64)
    for i, (piece, _) in enumerate(parts):
        grid[piece] = i
    lived = w > 0
    same = graph.barrier & (grid[graph.u] == grid[graph.v]) & (grid[graph.u] >= 0)
    for merge in merges:
        leaving = np.flatnonzero(same & (merge.mine[graph.u] != merge.mine[graph.v]))
        both = set(grid[merge.mine & lived].tolist()) & set(grid[merge.other & lived].tolist())
        points = []
        for g in sorted(both):
            edges = leaving[grid[graph.u[leaving]] == g]
            if len(edges):
                border = graph.border(edges[np.argmax(graph.length[edges])][None])[0]
                points.append(
                    _lonlat(to_wgs, *shapely.get_coordinates(shapely.centroid(border))[0])
                )
        action = (
            "allowed crossing at "
            + " and ".join(f"({lon}, {lat})" for lon, lat in points)
            + " into the neighbouring block; or create an exception grid there"
            if points
            else "no grid crosses the barriers: its grids stay on its side of them"
        )
        notes[merge.at] = replace(notes[merge.at], action=action)


class _Plans:
    """The heuristic's plans of regions (see :func:`.split.heuristic_split`), each computed once:
    the lumpiness check asks whether a region's plan holds the bounds, the split starts from it.
    """

    def __init__(self, w: np.ndarray, xy: np.ndarray, graph: Graph, bounds: Bounds) -> None:
        self.w, self.xy, self.graph, self.bounds = w, xy, graph, bounds
        self.done: dict[bytes, list[np.ndarray]] = {}

    def plan(self, nodes: np.ndarray) -> list[np.ndarray]:
        """Return the heuristic's plan of the region of cells ``nodes`` (ascending); spends no
        budget."""
        key = np.asarray(nodes, dtype=np.int64).tobytes()
        if key not in self.done:
            k = self.bounds.choose_k(int(self.w[nodes].sum())) or 1
            self.done[key] = heuristic_split(
                nodes, k, self.bounds, self.w, self.xy, self.graph.nbrs, _balance(self.graph)
            )
        return self.done[key]

    def holds(self, mine: np.ndarray) -> bool:
        """Return True if the plan of the region ``mine`` (a mask of cells) is within the
        bounds."""
        return _holds(self.plan(np.flatnonzero(mine)), self.w, self.bounds)


def _balance(graph: Graph) -> float:
    return SOFT_BALANCE if graph.soft else 1.0


def _explain(
    nodes: np.ndarray,
    pieces: list[np.ndarray],
    w: np.ndarray,
    xy: np.ndarray,
    bounds: Bounds,
    to_wgs: Transformer,
    notes: list[Note],
    *,
    outcome: ExactOutcome | None,
    budget: Budget,
) -> bool:
    """Note why a region's grids miss the bounds; return True if that is proved unavoidable."""
    lon, lat = _lonlat(to_wgs, *xy[nodes].mean(axis=0))
    total = int(w[nodes].sum())
    where = f"the {total} households around ({lon}, {lat})"
    bad = [int(w[p].sum()) for p in pieces if not bounds.holds(int(w[p].sum()))]
    weights = w[nodes][w[nodes] > 0]
    if outcome is not None and outcome.infeasible:
        culprits = "; ".join(
            f"the unit of {int(w[x])} households at {_lonlat(to_wgs, *xy[x])} touches no units "
            f"it could make {bounds.lo}–{bounds.hi} with"
            for x in outcome.stuck[:3]
        )
        notes.append(
            Note(
                total,
                lon,
                lat,
                f"{where}: their {len(weights)} units cannot be grouped into contiguous "
                f"{bounds.lo}–{bounds.hi}-household grids without splitting a unit "
                "(proved by an exact model over every connected group of units"
                + (f": {culprits})" if culprits else ")"),
                f"kept {len(bad)} grids outside the bounds ({bad}) as exceptions (flagged)"
                + (
                    f", the fewest of any plan whose grids hold at most {outcome.fewest_up_to} "
                    "households (proved by the same model)"
                    if outcome.fewest_up_to is not None
                    else ""
                )
                + "; or allow splitting a unit there",
            )
        )
        return True
    if budget.allows() and lumpy_infeasible(
        weights.astype(int).tolist(), bounds, units=2 * LUMPY_UNITS, budget=budget
    ):
        notes.append(
            Note(
                total,
                lon,
                lat,
                f"{where}: their {len(weights)} units cannot be grouped into "
                f"{bounds.lo}–{bounds.hi}-household grids without splitting a unit "
                "(proved by an exact model)",
                f"kept {len(bad)} grids outside the bounds ({bad}) as exceptions "
                "(flagged); or allow splitting a unit there",
            )
        )
        return True
    # the exact cover's plan, when it drew one it could not prove the fewest exceptions
    searched = "heuristic" if outcome is None or outcome.parts is None else "exact search"
    notes.append(
        Note(
            total,
            lon,
            lat,
            f"{where}: the {searched} left {len(bad)} grids outside the bounds ({bad}); "
            "infeasibility is not proved",
            "review these grids by hand",
        )
    )
    return False


def _split(
    nodes: np.ndarray,
    w: np.ndarray,
    xy: np.ndarray,
    graph: Graph,
    perimeter: np.ndarray,
    bounds: Bounds,
    budget: Budget,
    plans: _Plans,
    *,
    proved: bool = False,
) -> tuple[list[np.ndarray], ExactOutcome | None]:
    """Split one region; return its parts and the exact method's outcome when it was run.

    While ``budget`` lasts, exact set partitioning (HiGHS) finds the most compact plan of a
    lumpy region (or proves none within the bounds exists), and of any region where the
    heuristic (from the plan ``plans`` drew if the lumpiness check asked for it, then its ReCom
    repair) missed the bounds. On a lumpy region whose budget has at least the exact step's own
    limit (``EXACT_UNITS``) left, as an unlimited one has, the exact step runs first and the
    heuristic only when it found no plan (too many groups, its work limit): its plan would be
    replaced anyway. With less left the heuristic runs first, so its repair keeps the first call
    on the budget. When the exact method proves no plan exists and finds none of fewest
    exceptions, the heuristic's plan is kept and its misses are flagged as proved. ``proved``:
    the region was proved to make no grids within the bounds (:func:`_regions`), so the exact
    step seeks the fewest exceptions at once (see :func:`.exact.exact_partition`). A cover
    replaces a plan the heuristic drew only where it ranks first (:func:`_rank`); under an
    unlimited budget the heuristic's plan is drawn for that only when the cover has exceptions.
    """

    def heuristic() -> list[np.ndarray]:
        k = bounds.choose_k(int(w[nodes].sum())) or 1
        return split_region(
            nodes,
            w,
            xy,
            graph.nbrs,
            bounds,
            k,
            balance=_balance(graph),
            budget=budget,
            plan=plans.plan(nodes),
        )

    def exact() -> ExactOutcome:
        return exact_partition(
            nodes, w, graph.nbrs, perimeter, bounds, units=EXACT_UNITS, budget=budget, proved=proved
        )

    def better(
        drawn: list[np.ndarray], outcome: ExactOutcome
    ) -> tuple[list[np.ndarray], ExactOutcome]:
        # the cover replaces the plan drawn before it only if it ranks first (see _rank)
        if outcome.parts is None:
            return drawn, outcome
        rank = partial(_rank, w=w, bounds=bounds, perimeter=perimeter, nbrs=graph.nbrs)
        if rank(outcome.parts) <= rank(drawn):
            return outcome.parts, outcome
        return drawn, replace(outcome, parts=drawn, fewest_up_to=None)

    if bounds.lo <= 1:
        return heuristic(), None
    lumpy = _lumpy(w[nodes], bounds)
    if _exact_first(w[nodes], bounds, budget):
        outcome = exact()
        if outcome.parts is None:
            return heuristic(), outcome
        if not _holds(outcome.parts, w, bounds):  # its exceptions may outnumber the
            return better(plans.plan(nodes), outcome)  # heuristic's, proved or not (_rank)
        return outcome.parts, outcome
    if lumpy and not _holds(plans.plan(nodes), w, bounds):
        # the exact cover replaces the ReCom repair's plan and costs a tenth of it here: first;
        # when it finds none (too many groups), the repair fixed nothing either (measured)
        if not budget.allows():
            return heuristic(), None
        return better(plans.plan(nodes), exact())
    pieces = heuristic()
    missed = not _holds(pieces, w, bounds)
    if not (missed or lumpy) or not budget.allows():
        return pieces, None
    if not missed and budget.left() < COMPACT_SHARE * (budget.units or 0.0):
        return pieces, None  # within the bounds: compactness only, from the budget's first part
    return better(pieces, exact())


def _apart(
    nodes: np.ndarray, unproved: np.ndarray, w: np.ndarray, nbrs: list[dict[int, float]]
) -> list[np.ndarray]:
    """Return the regions (of ``unproved``: each cell's region when no lumpiness proof runs)
    that the region of cells ``nodes`` merged whole, when it is two or more of them and its
    other cells are empty (each then joins the part it borders most); else none.

    A lumpiness proof runs only where the budget pays for its model (see :func:`_proof_units`),
    and a region it proves lumpy merges across a barrier: the larger region may then miss the
    bounds more often than its parts did apart (its cover too big for what is left, or its
    fewest exceptions more than theirs). On urban at 0.1 units and on 2 of 16 communities of
    the 1M city at one unit (8 grids outside the bounds where 0.2 units left 6, and 8 where 4)
    a smaller budget, which paid no proof, did better; :func:`plan_grids` keeps the parts'
    plans where they rank first."""
    mine = np.zeros(len(unproved), dtype=bool)
    mine[nodes] = True
    owner: dict[int, int] = {}
    for s in np.unique(unproved[nodes]).tolist():
        cells = np.flatnonzero(unproved == s)
        if mine[cells].all():
            owner.update(dict.fromkeys(cells.tolist(), s))
    parts = sorted(set(owner.values()))
    rest = [x for x in nodes.tolist() if x not in owner]
    if len(parts) < 2 or (w[rest] > 0).any():
        return []
    while rest:  # empty cells join a part they touch, so every part stays connected
        left = []
        for x in rest:
            near = [(c, -owner[y]) for y, c in nbrs[x].items() if y in owner]
            if near:
                owner[x] = -max(near)[1]
            else:
                left.append(x)
        if len(left) == len(rest):
            return []
        rest = left
    cells = np.array(sorted(owner))
    part = np.array([owner[x] for x in cells.tolist()])
    return [cells[part == s] for s in parts]


def _rank(
    pieces: Sequence[np.ndarray],
    *,
    w: np.ndarray,
    bounds: Bounds,
    perimeter: np.ndarray,
    nbrs: list[dict[int, float]],
) -> tuple[int, int, float]:
    """Return the engine's order of a region's plans (lower first): its grids above the most
    an exception may hold (:func:`.exact.exception_cap`, the only plans the cover draws), its
    grids outside ``bounds``, then its compactness objective (:func:`.exact.plan_cost`, empty
    cells included).

    A step's plan replaces the one drawn before it only when it ranks first, so a step that
    ran (or a larger budget that let it run) never leaves a region worse: a group of the cover
    bridges at most one empty cell where the region has more than :data:`.exact.BRIDGE_ATOMS`
    (so it may miss a plan within the bounds that the heuristic drew), and a cover stopped by
    its work limit, or whose empty cells were attached
    afterwards, may be less compact than the heuristic's plan (measured on the 1M city)."""
    sizes = [int(w[p].sum()) for p in pieces]
    above = sum(size > exception_cap(bounds) for size in sizes)
    outside = sum(not bounds.holds(size) for size in sizes)
    return above, outside, plan_cost(pieces, perimeter, nbrs)


def _lumpy(weights: np.ndarray, bounds: Bounds) -> bool:
    """Return True if the median inhabited unit of ``weights`` holds ``LUMPY`` of the upper
    bound: the region gets the exact plan."""
    lived = weights[weights > 0]
    return len(lived) > 0 and float(np.median(lived)) >= LUMPY * bounds.hi


def _exact_first(weights: np.ndarray, bounds: Bounds, budget: Budget) -> bool:
    """Return True if :func:`_split` runs the exact cover on a region of units ``weights``
    before the heuristic (lumpy, and ``budget`` has the exact step's own limit left): the
    heuristic's plan is drawn only if the cover finds none."""
    return bounds.lo > 1 and _lumpy(weights, bounds) and budget.left() >= EXACT_UNITS


def _holds(pieces: list[np.ndarray], w: np.ndarray, bounds: Bounds) -> bool:
    """Return True if every one of ``pieces`` holds ``bounds`` households."""
    return all(bounds.holds(int(w[p].sum())) for p in pieces)


def _level_tiles(
    parts: list[np.ndarray],
    cuts: dict[int, dict[int, BaseGeometry]],
    cells: np.ndarray,
    block_of: np.ndarray,
    member_cell: list[np.ndarray],
    lines: Borders | None,
) -> list[Tiles]:
    """Return the tiles of each of ``parts`` (cells of ``cells``; ``member_cell``: each part's
    members' cells): its whole cells, then its shares of the cells ``cuts`` shares out, a tile
    per piece of a share.

    With ``lines`` (the cells' borders), the tiles carry the borders of their whole cells
    (:class:`Tiles`); the shares' are found one level down, among the grid's own tiles (the
    borders a grid's tiles share depend a little on the cells noded with them, so they are
    not found here with the whole level's cells).
    """
    cut = np.zeros(len(cells), dtype=bool)
    cut[list(cuts)] = True
    src = sorted((i, x) for x in cuts for i in cuts[x])  # part by part, cells ascending
    src_part = np.array([i for i, _ in src], dtype=np.int64)
    src_cell = np.array([x for _, x in src], dtype=np.int64)
    # a share may be in pieces that touch different cells: each piece is a tile of its own
    shares, which = shapely.get_parts(
        np.array([cuts[x][i] for i, x in src], dtype=object), return_index=True
    )
    share_part, share_cell = src_part[which], src_cell[which]
    first = np.searchsorted(share_part, np.arange(len(parts) + 1))
    whole_of = [piece[~cut[piece]] for piece in parts]
    per: list[Borders] = []
    if lines is not None:
        owner = np.full(len(cells), -1, dtype=np.int64)
        for i, whole in enumerate(whole_of):
            owner[whole] = i
        per = lines.within(owner, len(parts))
    out = []
    for i, whole in enumerate(whole_of):
        slot = np.full(len(cells), -1, dtype=np.int64)
        slot[whole] = np.arange(len(whole))
        mine = slice(first[i], first[i + 1])
        geoms = np.concatenate([cells[whole], shares[mine]])
        block = np.concatenate([block_of[whole], block_of[share_cell[mine]]])
        known = None
        if lines is not None:  # the shares' borders are yet to be found
            known = Known(per[i].take(slot), np.arange(len(geoms)) >= len(whole))
        out.append(Tiles(geoms, block, slot[member_cell[i]], known))
    return out


@dataclass(frozen=True, slots=True)
class Planned:
    """The grids :func:`plan_grids` drew: each grid's cells and whether it is an exception, and
    the region (see :func:`_regions`) of each cell."""

    parts: list[tuple[np.ndarray, bool]]
    region: np.ndarray


def plan_grids(
    graph: Graph,
    w: np.ndarray,
    xy: np.ndarray,
    perimeter: np.ndarray,
    bounds: Bounds,
    *,
    to_wgs: Transformer,
    notes: list[Note],
    budget: Budget,
    site: np.ndarray | None = None,
) -> Planned:
    """Group the cells of ``graph`` (households ``w``, points ``xy``, perimeters ``perimeter``)
    into grids within ``bounds``: feasible regions (merged across barriers where they must be,
    with a note), each split by the heuristic (bisection, boundary moves, mending), the exact
    cover or both as ``budget`` allows (see :func:`_split`), misses explained in ``notes``.

    This is a level's whole planning on cells and their graph, before any geometry of grids is
    drawn (empty cells are shared out afterwards); ``site`` marks empty cells that stay grids of
    their own. A region merged by a lumpiness proof that still misses the bounds is also split
    as the regions it merged (:func:`_apart`), and keeps the plan that ranks first. It is
    public so a benchmark can run the engine's planner on atoms and a graph it built itself
    (``bench/_methods.py``)."""
    site = np.zeros(graph.n, dtype=bool) if site is None else site
    plans = _Plans(w, xy, graph, bounds)
    label, exceptions, dedicated, merges = _regions(
        graph, w, xy, bounds, to_wgs, notes, budget, site, plans
    )
    rank = partial(_rank, w=w, bounds=bounds, perimeter=perimeter, nbrs=graph.nbrs)
    unproved: np.ndarray | None = None  # the regions no lumpiness proof merged, when asked
    parts: list[tuple[np.ndarray, bool]] = []
    for r in sorted(set(label.tolist())):
        nodes = np.flatnonzero(label == r)
        if r in dedicated:
            parts.append((nodes, False))
            continue
        proved = r in exceptions  # its households proved to make no grids within the bounds
        split = partial(
            _split, w=w, xy=xy, graph=graph, perimeter=perimeter, bounds=bounds, budget=budget
        )
        planned = [(nodes, *split(nodes, plans=plans, proved=proved), proved)]
        if bounds.lo > 1 and not _holds(planned[0][1], w, bounds):
            if unproved is None:
                unproved = _regions(graph, w, xy, bounds, to_wgs, [], Budget(0.0), site, plans)[0]
            apart = [
                (sub, *split(sub, plans=plans), False)
                for sub in _apart(nodes, unproved, w, graph.nbrs)
            ]
            if apart and rank([p for _, ps, _, _ in apart for p in ps]) < rank(planned[0][1]):
                planned = apart
        for mine, pieces, outcome, exception in planned:
            log.debug(
                "region %s: %d households, %d atoms → %s",
                r,
                int(w[mine].sum()),
                len(mine),
                [int(w[p].sum()) for p in pieces],
            )
            if not exception and not _holds(pieces, w, bounds):
                exception = _explain(
                    mine, pieces, w, xy, bounds, to_wgs, notes, outcome=outcome, budget=budget
                )
            parts.extend((piece, exception) for piece in pieces)
    _crossings(merges, parts, graph, w, to_wgs, notes)
    return Planned(parts, label)


def level_graph(
    terr: Territory,
    atoms: AtomColumns,
    *,
    soft: bool = False,
    bridge: bool = False,
    known: Known | None = None,
) -> tuple[np.ndarray, np.ndarray, Graph]:
    """Return the cells a level plans (the ground atoms' cells of ``terr``, then its empty
    cells), a point in each and their graph (see :func:`.graph.build_graph`; ``soft``: soft
    lines cut the territory, ``bridge`` and ``known`` as there): what :func:`plan_grids` takes.
    """
    ground = atoms.grounded
    ground_xy = atoms.xy[ground]
    cells_all = np.concatenate([terr.cells, terr.orphans])
    # empty blocks join the graph as nodes without households, so regions connect through them
    gxy = np.concatenate(
        [
            ground_xy,
            shapely.get_coordinates(shapely.point_on_surface(terr.orphans)).reshape(-1, 2),
        ]
    )
    blank = np.full(len(terr.orphans), "", dtype=object)
    graph = build_graph(
        cells_all,
        np.concatenate([terr.cell_block, terr.orphan_block]),
        np.concatenate([atoms.building[ground], blank]),
        np.concatenate([atoms.compound[ground], blank]),
        soft=None
        if not soft or terr.cell_soft is None or terr.orphan_soft is None
        else np.concatenate([terr.cell_soft, terr.orphan_soft]),
        bridge=bridge,
        known=known,
    )
    return cells_all, gxy, graph


def _draw(
    terr: Territory,
    atoms: AtomColumns,
    w: np.ndarray,
    site: np.ndarray,
    bounds: Bounds,
    soft: bool,
    *,
    bridge: bool,
    to_wgs: Transformer,
    notes: list[Note],
    budget: Budget,
    known: Known | None = None,
    share: bool = True,
) -> tuple[
    list[tuple[np.ndarray, bool]], list[BaseGeometry], dict[int, dict[int, BaseGeometry]], Borders
]:
    """Group the cells of ``terr`` (households ``w``) into grids: each grid's cells and whether
    it is an exception, its polygon, the cuts of empty cells shared out (see
    :func:`.empties.share_empties`) and the cells' borders (``known`` in part beforehand).
    ``soft``: soft lines cut the territory. ``share``: empty cells are shared among the grids
    around them; otherwise each goes whole to the grid the plan gave it."""
    cells_all, gxy, graph = level_graph(terr, atoms, soft=soft, bridge=bridge, known=known)
    perimeter = shapely.length(cells_all)
    planned = plan_grids(
        graph, w, gxy, perimeter, bounds, to_wgs=to_wgs, notes=notes, budget=budget, site=site
    )
    parts, label = planned.parts, planned.region
    empty = np.zeros(len(cells_all), dtype=bool)
    if share:
        empty[len(terr.cells) :] = ~site[len(terr.cells) :]
    assert graph.lines is not None
    geoms, cuts = share_empties(
        [p for p, _ in parts], cells_all, empty, label, graph.nbrs, lines=graph.lines
    )
    return parts, geoms, cuts, graph.lines


def _home_atoms(atoms: AtomColumns) -> np.ndarray:
    """Return the ground atom (its place among the ground atoms) of each household row."""
    local = np.full(len(atoms.stacked), -1, dtype=np.int64)
    local[atoms.grounded] = np.arange(len(atoms.grounded))
    return local[atoms.ground[atoms.member]]


def level_territory(
    outline: BaseGeometry,
    xy: np.ndarray,
    atoms: AtomColumns,
    barriers: np.ndarray | None,
    *,
    soft_barriers: np.ndarray | None = None,
    sites: np.ndarray | None = None,
    areas: tuple[np.ndarray, np.ndarray] | None = None,
) -> Territory:
    """Return the territory a level tessellates ``outline`` into for ``atoms`` (households at
    ``xy``): a cell per ground atom holding its households, empty cells, never across
    ``barriers`` (see :func:`partition_level` for ``soft_barriers``, ``sites``, ``areas``)."""
    ground_xy = atoms.xy[atoms.grounded]
    home_atom = _home_atoms(atoms)
    barriers = with_sites(outline, barriers, sites, ground_xy)
    terr = None
    if areas is not None:
        terr = area_territory(
            outline, ground_xy, barriers, soft_barriers, members=(xy, home_atom), areas=areas
        )
    if terr is None:
        terr = tessellate(
            outline,
            ground_xy,
            barriers,
            soft_barriers,
            members=(xy, home_atom),  # every household inside its atom's cell
        )
    return terr


def partition_level(
    outline: BaseGeometry,
    households: pd.DataFrame | None,
    xy: np.ndarray,
    bounds: Bounds,
    *,
    barriers: np.ndarray | None,
    compounds: pd.Series | None,
    to_wgs: Transformer,
    notes: list[Note],
    soft_barriers: np.ndarray | None = None,
    budget: Budget | None = None,
    atoms: AtomColumns | None = None,
    sites: np.ndarray | None = None,
    areas: tuple[np.ndarray, np.ndarray] | None = None,
    territory: Territory | None = None,
    known: Known | None = None,
    below: bool = True,
) -> list[Cell]:
    """Partition ``outline`` holding ``households`` (rows aligned with ``xy``) into cells.

    ``soft_barriers`` (lines) cut the cells and are cheap to cut along, but may be crossed.
    ``budget`` limits the work the exact solvers may do (unlimited when None).
    ``atoms`` built beforehand for these rows (see :meth:`AtomColumns.restrict`) replace
    ``households``, which may then be None. ``sites`` (footprints of schools, markets, …) make
    dedicated grids: the empty block around each becomes a grid of its own, flagged "dedicated"
    (a site in an inhabited block is cut out of it along its footprint). ``areas`` (area of
    each household row, area polygons in metres) gives areal units their own polygons as
    territory (see :mod:`.area_cells`). ``territory`` (see :func:`inherit`) replaces the
    tessellation of ``outline``; ``known``: the borders of its cells found beforehand.
    ``below``: a level below will partition the cells (each then gets its :class:`Tiles`).
    A level inside another's grids with no lower bound (micro-grids, which follow units and
    floors) gives each empty tile whole to one of its grids: sharing it out cost 9 % of the
    engine's CPU for 0.0005 of micro-grids' mean Polsby–Popper (8-community sample).
    """
    budget = budget if budget is not None else Budget()
    positions = np.arange(len(xy))
    if len(xy) == 0:
        return [Cell(outline, positions, flags=["empty"])]
    if atoms is None:
        assert households is not None, "partition_level needs households or atoms"
        atoms = build_atoms(households, xy, bounds, compounds=compounds).columns()
    ground = atoms.grounded
    n_atoms = len(ground)
    local = np.full(len(atoms.stacked), -1, dtype=np.int64)  # each ground atom's cell
    local[ground] = np.arange(n_atoms)
    home_atom = _home_atoms(atoms)
    terr = territory
    if terr is None:
        terr = level_territory(
            outline, xy, atoms, barriers, soft_barriers=soft_barriers, sites=sites, areas=areas
        )
    cells_all = np.concatenate([terr.cells, terr.orphans])
    w = np.concatenate([atoms.households[ground], np.zeros(len(terr.orphans))])
    block_of = np.concatenate([terr.cell_block, terr.orphan_block])
    site = np.zeros(len(cells_all), dtype=bool)
    site[len(terr.cells) :] = site_cells(terr.orphans, sites)
    if bounds.lo <= 1 and len(cells_all) == 1 and bounds.holds(int(w[0])):
        # one inhabited cell within the bounds (a micro level's single unit): the graph, its
        # regions, the split and the sharing of empty cells below would make it the one grid
        parts: list[tuple[np.ndarray, bool]] = [(np.zeros(1, dtype=np.int64), False)]
        geoms: list[BaseGeometry] = [cells_all[0]]
        cuts: dict[int, dict[int, BaseGeometry]] = {}
        found: Borders | None = None
    else:
        parts, geoms, cuts, found = _draw(
            terr, atoms, w, site, bounds, soft_barriers is not None,
            bridge=territory is not None, to_wgs=to_wgs, notes=notes, budget=budget,
            known=known if territory is not None else None,
            share=territory is None or bounds.lo > 1,
        )  # fmt: skip
    ground_of = atoms.ground
    part_of = np.full(len(atoms.stacked), -1, dtype=np.int64)  # each ground atom's part
    for i, (piece, _) in enumerate(parts):
        part_of[ground[piece[piece < n_atoms]]] = i
    member_part = part_of[atoms.member]
    by_part = np.argsort(member_part, kind="stable")  # positions grouped by part, ascending
    starts = np.searchsorted(member_part[by_part], np.arange(len(parts) + 1))
    groups = [by_part[starts[i] : starts[i + 1]] for i in range(len(parts))]
    if len(geoms) > 1:  # snapping may have bent one grid's edges into another (see .overlaps)
        cell_part = np.full(len(cells_all), -1, dtype=np.int64)
        for i, (piece, _) in enumerate(parts):
            cell_part[piece] = i
        grids = np.array(geoms, dtype=object)
        geoms = list(settle_overlaps(grids, cells_all, cell_part, [xy[m] for m in groups]))
    tiles: list[Tiles | None] = [None] * len(parts)
    if below:
        homes = [home_atom[m] for m in groups]
        tiles = list(_level_tiles([p for p, _ in parts], cuts, cells_all, block_of, homes, found))
    cells: list[Cell] = []
    for i, ((piece, exception), geom) in enumerate(zip(parts, geoms, strict=True)):
        members = groups[i]
        lived = piece[w[piece] > 0]
        cell = Cell(geom, members, blocks=len(set(block_of[lived].tolist())), tiles=tiles[i])
        if site[piece].any() and not len(members):
            cell.flags.append("dedicated")
        elif len(members) == 0:
            cell.flags.append("empty")
        elif exception and not bounds.holds(len(members)):
            cell.flags.append("exception")
        if cell.blocks > 1:
            cell.flags.append("barrier_crossing")
        if len(members) and not bounds.holds(len(members)):
            cell.flags.append("out_of_bounds")
        cells.append(cell)
    floor_lo, floor_hi = atoms.floor_lo, atoms.floor_hi
    for a in np.flatnonzero(atoms.stacked):
        cell_geom = terr.cells[local[ground_of[a]]]
        members = positions[atoms.member == a]
        stacked = Cell(cell_geom, members, int(floor_lo[a]), int(floor_hi[a]), True)
        # one level down, its households' floors share the footprint: one tile for all
        block = terr.cell_block[local[ground_of[a]]]
        if below:
            stacked.tiles = Tiles(
                np.array([cell_geom], dtype=object),
                np.array([block]),
                np.zeros(len(members), dtype=np.int64),
            )
        if not bounds.holds(len(members)):
            stacked.flags.append("out_of_bounds")
        cells.append(stacked)
    return cells
