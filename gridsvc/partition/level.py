"""Partition one territory at one level: atoms → cells → regions → grids.

A region is a set of blocks that are partitioned together. Each block starts as its own region;
a region whose households cannot fill grids within the bounds (too few, or atoms too lumpy) is
merged across the barrier with the neighbouring region it shares the longest border with, and
the crossing is reported. A region with no neighbour becomes an exception grid, flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from .atoms import Bounds, build_atoms
from .exact import ExactOutcome, exact_partition
from .graph import Graph, build_graph
from .split import lumpy_infeasible, split_region
from .territory import GRID_SIZE, tessellate

__all__ = ["Cell", "Note", "partition_level"]

log = logging.getLogger(__name__)
CP_SAT_ATOMS = 80  # regions up to this many atoms get the exact lumpiness proof
LUMPY = 0.2  # atoms whose median size is this share of the upper bound go to the exact method
SOFT_BALANCE = 0.1  # with soft lines, even grid sizes weigh this much against following them


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


def _infeasible(weights: np.ndarray, bounds: Bounds) -> str | None:
    """Return why ``weights`` cannot make grids within ``bounds``, or None if they can."""
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
    if lumpy and len(weights) <= CP_SAT_ATOMS and lumpy_infeasible(weights.tolist(), bounds):
        sizes = ", ".join(str(int(x)) for x in sorted(weights.tolist(), reverse=True)[:8])
        return (
            f"its {len(weights)} units (households {sizes}{'…' if len(weights) > 8 else ''})"
            f" cannot be grouped into {bounds.lo}–{bounds.hi}-household grids without "
            "splitting a unit"
        )
    return None


def _regions(
    graph: Graph,
    w: np.ndarray,
    xy: np.ndarray,
    cells: np.ndarray,
    bounds: Bounds,
    to_wgs: Transformer,
    notes: list[Note],
) -> tuple[np.ndarray, set[int]]:
    """Group cells into feasible regions; return region label per cell and exception labels."""
    label = _components(graph.n, graph, ~graph.barrier)
    exceptions: set[int] = set()
    checked: dict[int, str | None] = {}
    while True:
        changed = False
        for r in sorted(set(label.tolist())):
            if r in exceptions:
                continue
            mine = label == r
            if r not in checked:
                checked[r] = _infeasible(w[mine], bounds)
            why = checked[r]
            if why is None:
                continue
            centre = xy[mine].mean(axis=0)
            lon, lat = _lonlat(to_wgs, *centre)
            where = f"the {int(w[mine].sum())} households around ({lon}, {lat})"
            cross = graph.barrier & (mine[graph.u] != mine[graph.v])
            empty = not w[mine].any()
            if empty and not cross.any():
                exceptions.add(r)  # nobody lives here and it touches nothing: an empty grid
                continue
            if not cross.any():
                exceptions.add(r)
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
            lengths = pd.Series(graph.length[cross]).groupby(others).sum()
            target = int(np.asarray(lengths.idxmax()))
            edge = np.flatnonzero(cross)[
                np.argmax(np.where(others == target, graph.length[cross], -1.0))
            ]
            border = shapely.intersection(cells[graph.u[edge]], cells[graph.v[edge]])
            bx, by = shapely.get_coordinates(shapely.centroid(border))[0]
            blon, blat = _lonlat(to_wgs, bx, by)
            if not empty and w[label == target].any():
                notes.append(
                    Note(
                        int(w[mine].sum()),
                        lon,
                        lat,
                        f"{where} are cut off by barriers: {why}",
                        f"allowed crossing at ({blon}, {blat}) into the neighbouring"
                        " block; or create an exception grid there",
                    )
                )
            new = min(r, target)
            label[mine | (label == target)] = new
            checked.pop(r, None)
            checked.pop(target, None)
            changed = True
            break
        if not changed:
            return label, exceptions


def _explain(
    nodes: np.ndarray,
    pieces: list[np.ndarray],
    w: np.ndarray,
    xy: np.ndarray,
    bounds: Bounds,
    to_wgs: Transformer,
    notes: list[Note],
    *,
    outcome: ExactOutcome | None = None,
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
                f"kept {len(bad)} grids outside the bounds ({bad}) as exceptions "
                "(flagged); or allow splitting a unit there",
            )
        )
        return True
    if lumpy_infeasible(weights.astype(int).tolist(), bounds, seconds=10.0):
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
    notes.append(
        Note(
            total,
            lon,
            lat,
            f"{where}: the heuristic left {len(bad)} grids outside the bounds ({bad}); "
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
) -> tuple[list[np.ndarray], ExactOutcome | None]:
    """Split one region; return its parts and the exact method's outcome when it was run.

    Lumpy atoms go to exact set partitioning first; others to the heuristic, whose result is
    kept when it meets the bounds. When the exact method proves no contiguous plan within the
    bounds exists, the heuristic's plan is kept and its misses are flagged as proved.
    """
    lived = w[nodes][w[nodes] > 0]
    lumpy = bounds.lo > 1 and len(lived) > 0 and float(np.median(lived)) >= LUMPY * bounds.hi
    pieces: list[np.ndarray] | None = None
    if not lumpy:
        k = bounds.choose_k(int(w[nodes].sum())) or 1
        pieces = split_region(
            nodes, w, xy, graph.nbrs, bounds, k, balance=SOFT_BALANCE if graph.soft else 1.0
        )
        if bounds.lo <= 1 or all(bounds.holds(int(w[p].sum())) for p in pieces):
            return pieces, None
    outcome = exact_partition(nodes, w, graph.nbrs, perimeter, bounds)
    if outcome.parts is not None:
        return outcome.parts, outcome
    if pieces is None:
        k = bounds.choose_k(int(w[nodes].sum())) or 1
        pieces = split_region(nodes, w, xy, graph.nbrs, bounds, k)
    return pieces, outcome


def partition_level(
    outline: BaseGeometry,
    households: pd.DataFrame,
    xy: np.ndarray,
    bounds: Bounds,
    *,
    barriers: np.ndarray | None,
    compounds: pd.Series | None,
    to_wgs: Transformer,
    notes: list[Note],
    soft_barriers: np.ndarray | None = None,
) -> list[Cell]:
    """Partition ``outline`` holding ``households`` (rows aligned with ``xy``) into cells.

    ``soft_barriers`` (lines) cut the cells and are cheap to cut along, but may be crossed.
    """
    positions = np.arange(len(households))
    if len(households) == 0:
        return [Cell(outline, positions, flags=["empty"])]
    atoms = build_atoms(households, xy, bounds, compounds=compounds)
    table = atoms.table
    ground = atoms.ground
    n_atoms = len(ground)
    local = {int(g): i for i, g in enumerate(ground)}
    home_atom = np.array([local[int(g)] for g in table["ground"].to_numpy()[atoms.member]])
    terr = tessellate(
        outline,
        table.loc[ground, ["x", "y"]].to_numpy(dtype=float),
        barriers,
        soft_barriers,
        members=None if soft_barriers is None else (xy, home_atom),  # soft lines cut units
    )
    # empty blocks join the graph as nodes without households, so regions connect through them
    cells_all = np.concatenate([terr.cells, terr.orphans])
    gxy = np.concatenate(
        [
            table.loc[ground, ["x", "y"]].to_numpy(dtype=float),
            shapely.get_coordinates(shapely.point_on_surface(terr.orphans)).reshape(-1, 2),
        ]
    )
    blank = np.full(len(terr.orphans), "", dtype=object)
    graph = build_graph(
        cells_all,
        np.concatenate([terr.cell_block, terr.orphan_block]),
        np.concatenate([table.loc[ground, "building"].to_numpy(dtype=object), blank]),
        np.concatenate([table.loc[ground, "compound"].to_numpy(dtype=object), blank]),
        soft=None
        if soft_barriers is None or terr.cell_soft is None or terr.orphan_soft is None
        else np.concatenate([terr.cell_soft, terr.orphan_soft]),
    )
    w = np.concatenate(
        [table.loc[ground, "households"].to_numpy(dtype=float), np.zeros(len(terr.orphans))]
    )
    block_of = np.concatenate([terr.cell_block, terr.orphan_block])
    label, exceptions = _regions(graph, w, gxy, cells_all, bounds, to_wgs, notes)
    perimeter = shapely.length(cells_all)
    parts: list[tuple[np.ndarray, bool]] = []
    for r in sorted(set(label.tolist())):
        nodes = np.flatnonzero(label == r)
        pieces, outcome = _split(nodes, w, gxy, graph, perimeter, bounds)
        log.debug(
            "region %s: %d households, %d atoms → %s",
            r,
            int(w[nodes].sum()),
            len(nodes),
            [int(w[p].sum()) for p in pieces],
        )
        exception = r in exceptions
        if not exception and any(not bounds.holds(int(w[p].sum())) for p in pieces):
            exception = _explain(nodes, pieces, w, gxy, bounds, to_wgs, notes, outcome=outcome)
        for piece in pieces:
            parts.append((piece, exception))
    geoms = [shapely.union_all(cells_all[p], grid_size=GRID_SIZE) for p, _ in parts]
    ground_of = table["ground"].to_numpy()
    cells: list[Cell] = []
    for (piece, exception), geom in zip(parts, geoms, strict=True):
        atom_ids = ground[piece[piece < n_atoms]]
        members = positions[np.isin(atoms.member, atom_ids)]
        lived = piece[w[piece] > 0]
        cell = Cell(geom, members, blocks=len(set(block_of[lived].tolist())))
        if len(members) == 0:
            cell.flags.append("empty")
        elif exception and not bounds.holds(len(members)):
            cell.flags.append("exception")
        if cell.blocks > 1:
            cell.flags.append("barrier_crossing")
        if len(members) and not bounds.holds(len(members)):
            cell.flags.append("out_of_bounds")
        cells.append(cell)
    for a in np.flatnonzero(table["stacked"].to_numpy()):
        row = table.iloc[a]
        cell_geom = terr.cells[local[int(ground_of[a])]]
        members = positions[atoms.member == a]
        stacked = Cell(cell_geom, members, int(row["floor_lo"]), int(row["floor_hi"]), True)
        if not bounds.holds(len(members)):
            stacked.flags.append("out_of_bounds")
        cells.append(stacked)
    return cells
