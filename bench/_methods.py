"""The partition methods under comparison, one function shape: ``run(workload, seed) -> Plan``.

- ``gridsvc`` ("gridsvc (full engine)"): the full engine, ``gridsvc.partition.partition`` on
  the raw inputs: it builds its own atoms, tessellates the territory, plans the base level, draws
  the grids' polygons, partitions the micro level below and writes the report; all of that time
  is included.
- ``gridsvc-atoms`` ("gridsvc (same atoms)"): the engine's base-level planner
  (``gridsvc.partition.level.plan_grids``: regions, heuristic split, exact cover, boundary moves,
  mending, as the engine runs them at the base level, unlimited budget as in the full run) on
  the workload's own atoms and graph, the ones spopt gets; no tessellation, no polygons, no micro
  level, no report. Its atom labels are scored like spopt's (unions of atom cells).
- ``spopt``: ``MaxPHeuristic`` with threshold 30 on the household count, the workload's edges as
  a libpysal ``W`` and the atoms' centroid x/y as the attributes (so its homogeneity objective
  rewards compact regions). spopt uses the global numpy RNG; it is seeded with ``seed``.
- ``gerrychain``: ``recursive_tree_part`` with pop target 40 and epsilon 0.25 (30–50) on the
  workload's edges as a networkx graph, once per connected component (it needs a connected
  graph); k = the number of 30–50 grids nearest 40 households each. Any exception it raises is a
  "no plan".

Every method labels every cell of the workload: the ground atoms' and the empty blocks' (holding
nobody); the stacked atoms the workload carries (upper floors of units
above 50 households) are added to every peer's plan as one grid each, as the engine does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import shapely
from _workload import HI, LO, Workload

__all__ = [
    "LABELS",
    "METHODS",
    "Plan",
    "quality",
    "run_gerrychain",
    "run_gridsvc",
    "run_gridsvc_atoms",
    "run_spopt",
]


@dataclass
class Plan:
    """Households per grid and the grid polygons (metric), or the reason there is no plan."""

    sizes: np.ndarray | None = None
    polygons: np.ndarray | None = None
    error: str | None = None
    own_polygons: np.ndarray | None = None  # the method's own grid shapes (gridsvc only)
    crossing: int | None = None  # grids whose atoms lie in two or more barrier blocks
    unions: Callable[[], np.ndarray] | None = None  # draws ``polygons`` when asked (untimed)

    def shapes(self) -> np.ndarray | None:
        """Return the grid polygons scored, drawn now if the method left them for later (the
        worker times the method, then scores its plan: drawing the unions is no method's work).
        """
        if self.polygons is None and self.unions is not None:
            self.polygons = self.unions()
        return self.polygons


def _plan_from_labels(work: Workload, labels: np.ndarray) -> Plan:
    labels = np.asarray(labels)
    if (labels < 0).any():
        return Plan(error=f"{int((labels < 0).sum())} atoms unassigned")
    ids, inv = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inv, weights=work.counts, minlength=len(ids)).astype(np.int64)
    return Plan(
        sizes=np.r_[sizes, np.asarray(work.stacked, dtype=np.int64)],
        crossing=_crossing(inv, work.block, work.counts),
        unions=partial(_lived_unions, work, inv),
    )


def _lived_unions(work: Workload, label: np.ndarray) -> np.ndarray:
    """Return the union of the inhabited cells of each grid (``label``: each cell's grid,
    0..k-1; cells with a negative label are left out): how every method's grids are scored.
    Empty cells (blocks holding nobody) are labelled but not scored: the engine cuts them up
    between grids, a peer would hand them out whole, and a long empty road strip would decide a
    grid's Polsby–Popper either way."""
    keep = (work.counts > 0) & (label >= 0)
    grid, cells = label[keep], work.cells[keep]
    order = np.argsort(grid, kind="stable")
    _, starts = np.unique(grid[order], return_index=True)
    return np.array(
        [shapely.union_all(p) for p in np.split(cells[order], starts[1:])], dtype=object
    )


def _crossing(label: np.ndarray, block: np.ndarray, counts: np.ndarray) -> int:
    """Return how many grids hold inhabited cells of two or more barrier blocks (as the engine
    counts them: empty cells do not count)."""
    lived = counts > 0
    pairs = np.unique(np.column_stack([label[lived], block[lived]]), axis=0)
    return int((np.bincount(pairs[:, 0]) > 1).sum())


def polsby_popper(polys: np.ndarray) -> np.ndarray:
    """Return 4πA/P² of each polygon (1 for a disc)."""
    area = shapely.area(polys)
    perim = shapely.length(polys)
    return np.where(perim > 0, 4.0 * math.pi * area / np.maximum(perim, 1e-12) ** 2, 0.0)


def quality(plan: Plan) -> dict[str, Any]:
    """Return grids, share within 30–50, and mean/min Polsby–Popper of a plan."""
    polygons = plan.shapes()
    if plan.sizes is None or polygons is None:
        return {"grids": None, "in_band": None, "pp_mean": None, "pp_min": None, "max_hh": None}
    pp = polsby_popper(polygons)
    sizes = plan.sizes
    lived = sizes[sizes > 0]
    out = {
        "grids": len(sizes),
        # as the engine's report counts it: among grids holding anybody
        "in_band": float(((lived >= LO) & (lived <= HI)).mean()) if len(lived) else 0.0,
        "pp_mean": float(pp.mean()) if len(pp) else None,
        "pp_min": float(pp.min()) if len(pp) else None,
        "min_hh": int(sizes.min()) if len(sizes) else None,
        "max_hh": int(sizes.max()) if len(sizes) else None,
        "own_pp_mean": None,
        "own_pp_min": None,
        "crossing": plan.crossing,
    }
    if plan.own_polygons is not None and len(plan.own_polygons):
        own = polsby_popper(plan.own_polygons)
        out.update(own_pp_mean=float(own.mean()), own_pp_min=float(own.min()))
    return out


def run_spopt(work: Workload, seed: int) -> Plan:
    """Partition the workload with spopt's MaxPHeuristic (threshold 30)."""
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    np.random.seed(seed)
    cen = shapely.centroid(work.cells)
    gdf = gpd.GeoDataFrame(
        {"count": work.counts, "x": shapely.get_x(cen), "y": shapely.get_y(cen)},
        geometry=work.cells,
        crs=work.crs,
    )
    neighbors: dict[int, list[int]] = {i: [] for i in range(work.n_atoms)}
    for a, b in zip(work.u.tolist(), work.v.tolist(), strict=True):
        neighbors[a].append(b)
        neighbors[b].append(a)
    w = W(neighbors, silence_warnings=True)
    model = MaxPHeuristic(gdf, w, ["x", "y"], "count", LO, top_n=2)
    model.solve()
    return _plan_from_labels(work, np.asarray(model.labels_))


def gerrychain_k(households: int) -> int | None:
    """Return the number of grids for GerryChain: nearest 40 per grid within 30–50."""
    lo_k, hi_k = math.ceil(households / HI), households // LO
    if lo_k > hi_k:
        return None
    return min(max(round(households / 40), lo_k), hi_k)


def run_gerrychain(work: Workload, seed: int) -> Plan:
    """Partition the workload with GerryChain's recursive_tree_part (40 ± 25 %).

    recursive_tree_part needs a connected graph, so it runs once per connected component of the
    atom graph (empty blocks such as road corridors can separate them), with k chosen per
    component; a component that fits one grid is one grid.
    """
    import networkx as nx
    from gerrychain import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part

    g: nx.Graph = nx.Graph()
    g.add_nodes_from((i, {"count": int(c)}) for i, c in enumerate(work.counts.tolist()))
    g.add_edges_from(zip(work.u.tolist(), work.v.tolist(), strict=True))
    labels = np.full(work.n_atoms, -1, dtype=np.int64)
    nxt = 0
    for comp in sorted(nx.connected_components(g), key=min):
        nodes = sorted(comp)
        total = int(work.counts[nodes].sum())
        k = gerrychain_k(total) or max(1, round(total / 40))
        if k == 1:
            labels[nodes] = nxt
            nxt += 1
            continue
        try:
            flips = recursive_tree_part(
                Graph.from_networkx(g.subgraph(nodes).copy()),
                range(k),
                40,
                "count",
                0.25,
                rng=seed,
            )
        except Exception as exc:  # any failure of the peer is "no plan"
            return Plan(error=f"{type(exc).__name__}: {str(exc)[:80]}")
        for node, part in flips.items():
            labels[int(node)] = nxt + int(part)
        nxt += k
    return _plan_from_labels(work, labels)


def run_gridsvc(work: Workload, seed: int) -> Plan:
    """Partition the raw inputs with the full gridsvc engine; measure its base-level grids."""
    from gridsvc.partition import partition

    raw = work.engine
    if "areas" in raw:
        result = _gridsvc_areas(raw, seed)
    else:
        result = partition(
            raw["boundary"],
            raw["households"],
            buildings=raw.get("buildings"),
            barriers=raw.get("barriers"),
            seed=seed,
        )
    grids = result.grids
    if "level" in grids.columns:
        grids = grids[grids["level"].astype(int) == 1]
    metric = grids.to_crs(work.crs)
    sizes = metric["households"].to_numpy(dtype=np.int64)
    stacked = (
        metric["kind"].astype(str).str.contains("stack").to_numpy()
        if "kind" in metric.columns
        else np.zeros(len(metric), dtype=bool)
    )
    # stacked grids share a footprint with a ground grid: count them, but not their shape twice
    own = metric.geometry.to_numpy()[~stacked]
    label = _cells_by_overlap(work.cells, own)
    crossing = _crossing(label[label >= 0], work.block[label >= 0], work.counts[label >= 0])
    unions = partial(_lived_unions, work, label)
    return Plan(sizes=sizes, own_polygons=own, crossing=crossing, unions=unions)


def _cells_by_overlap(cells: np.ndarray, grids: np.ndarray) -> np.ndarray:
    """Return the grid each cell overlaps most (-1: none), to score the engine's plan on the same
    footing as the peers' (unions of inhabited cells, see :func:`_lived_unions`)."""
    a, b = shapely.STRtree(grids).query(cells, predicate="intersects")
    area = shapely.area(shapely.intersection(cells[a], grids[b]))
    order = np.lexsort((-area, a))
    first = order[np.r_[True, np.diff(a[order]) != 0]]
    label = np.full(len(cells), -1)
    label[a[first]] = b[first]
    return label


def gridsvc_atom_labels(work: Workload) -> np.ndarray:
    """Return the grid of each of the workload's ground atoms as the engine's base-level planner
    draws them on the workload's atoms and graph (unlimited budget, as the full run has)."""
    from pyproj import Transformer

    from gridsvc.geo import WGS84
    from gridsvc.partition.atoms import Bounds
    from gridsvc.partition.budget import Budget
    from gridsvc.partition.level import plan_grids

    if work.graph is None or work.xy is None:
        raise RuntimeError(f"{work.name}: the workload has no gridsvc graph (bench fallback)")
    planned = plan_grids(
        work.graph,
        work.counts.astype(np.float64),
        work.xy,
        shapely.length(work.cells),
        Bounds(LO, HI),
        to_wgs=Transformer.from_crs(work.crs, WGS84, always_xy=True),
        notes=[],
        budget=Budget(),
    )
    pieces = [piece for piece, _ in planned.parts]
    seen = np.bincount(np.concatenate(pieces), minlength=work.n_atoms) if pieces else None
    if seen is None or len(seen) != work.n_atoms or (seen != 1).any():
        raise RuntimeError(f"{work.name}: the planner's grids do not hold every cell once")
    labels = np.empty(work.n_atoms, dtype=np.int64)
    for i, piece in enumerate(pieces):
        labels[piece] = i
    return labels


def run_gridsvc_atoms(work: Workload, seed: int) -> Plan:
    """Plan the workload's atoms with the engine's base-level planner; score like spopt's plan.

    ``seed`` is unused: the engine is deterministic."""
    return _plan_from_labels(work, gridsvc_atom_labels(work))


def _gridsvc_areas(raw: dict[str, Any], seed: int) -> Any:
    """Call the engine on areal units with a count field (census blocks)."""
    from gridsvc.partition import partition

    return partition(raw["boundary"], areas=raw["areas"], count_field=raw["count_field"], seed=seed)


METHODS = {
    "gridsvc": run_gridsvc,
    "gridsvc-atoms": run_gridsvc_atoms,
    "spopt": run_spopt,
    "gerrychain": run_gerrychain,
}
LABELS = {  # the method's name in the table
    "gridsvc": "gridsvc (full engine)",
    "gridsvc-atoms": "gridsvc (same atoms)",
}
