"""The arrays every staffing step shares: grids, workers, eligibility and a capacity ledger.

Everything is computed in a metric CRS (UTM of the grids). Workers serve grids of their own
community (``community_code`` column, else the community of the nearest grid); that rule is what
lets the solver decompose by community exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gridsvc.geo import metric_crs
from gridsvc.staffing.model import StaffingModel
from gridsvc.staffing.roster import split_roles

__all__ = ["LOADS", "Context", "Ledger", "build_context"]

LOADS = ("households", "residents", "visits")


@dataclass
class Context:
    """Grids (with workload) and workers as aligned arrays, plus the model they are judged by."""

    model: StaffingModel
    grid_codes: np.ndarray
    grid_comm: np.ndarray
    grid_beat: np.ndarray
    grid_xy: np.ndarray
    grid_poly: np.ndarray
    grid_radius: np.ndarray
    load: np.ndarray  # (G, 3): households, residents, visits
    worker_ids: np.ndarray
    worker_names: np.ndarray
    worker_phone: np.ndarray
    worker_roles: list[list[str]]
    slot_quals: list[np.ndarray]  # per slot: bool (W,) has an eligible qualification
    party: np.ndarray
    beat: np.ndarray
    hours: np.ndarray
    xy: np.ndarray
    comm: np.ndarray
    centre: np.ndarray  # bool (W,): kept at the community centre, off the grids
    grid_index: dict[str, int] = field(default_factory=dict)
    worker_index: dict[str, int] = field(default_factory=dict)
    seats: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # centre, per community

    def travel(self, gi: np.ndarray, wi: np.ndarray) -> np.ndarray:
        """Return metres from each worker's home to each grid's representative point."""
        return np.hypot(*(self.grid_xy[gi] - self.xy[wi]).T)

    def eligible(self, s: int, gi: np.ndarray, wi: np.ndarray) -> np.ndarray:
        """Return which (grid, worker) pairs may fill slot ``s`` (capacity aside)."""
        slot = self.model.slots[s]
        ok = self.slot_quals[s][wi] & ~self.centre[wi] & (self.comm[wi] == self.grid_comm[gi])
        if slot.same_beat:
            gb = self.grid_beat[gi]
            ok &= (gb == "") | (gb == self.beat[wi])
        if slot.party_member:
            ok &= self.party[wi]
        if slot.min_hours:
            ok &= self.hours[wi] >= slot.min_hours
        if slot.max_km is None and slot.home_within_m is None:
            return ok
        dist = self.travel(gi, wi)
        if slot.max_km is not None:
            ok &= dist <= slot.max_km * 1000.0
        if slot.home_within_m is not None:
            near = ok & (dist <= slot.home_within_m + self.grid_radius[gi])
            ok &= near
            idx = np.flatnonzero(near)
            if len(idx):
                homes = shapely.points(self.xy[wi[idx]])
                ok[idx] = shapely.distance(homes, self.grid_poly[gi[idx]]) <= slot.home_within_m
        return ok


def build_context(
    grids: gpd.GeoDataFrame,
    workload: pd.DataFrame,
    workers: gpd.GeoDataFrame,
    model: StaffingModel,
) -> Context:
    """Align grids (``workload`` rows in the same order) and workers into a :class:`Context`."""
    crs = metric_crs(grids)
    polys = np.asarray(grids.to_crs(crs).geometry.values, dtype=object)
    rep = shapely.point_on_surface(polys)
    grid_xy = shapely.get_coordinates(rep)
    b = shapely.bounds(polys)
    corners = np.stack([b[:, [0, 1]], b[:, [0, 3]], b[:, [2, 1]], b[:, [2, 3]]])
    radius = np.hypot(*(corners - grid_xy[None]).transpose(2, 0, 1)).max(axis=0)
    homes = workers.to_crs(crs).geometry.values
    xy = shapely.get_coordinates(homes)
    grid_comm = workload["community_code"].astype(str).to_numpy()
    roles = [split_roles(v) for v in workers["roles"].to_numpy()]
    comm = _worker_communities(workers, grid_xy, grid_comm, xy)
    beat_col = grids["police_beat"] if "police_beat" in grids else pd.Series([""] * len(grids))
    ctx = Context(
        model=model,
        grid_codes=workload["grid_code"].astype(str).to_numpy(),
        grid_comm=grid_comm,
        grid_beat=beat_col.astype(object).fillna("").astype(str).to_numpy(),
        grid_xy=grid_xy,
        grid_poly=polys,
        grid_radius=radius,
        load=workload[list(LOADS)].to_numpy(dtype=float),
        worker_ids=workers["id"].astype(str).to_numpy(),
        worker_names=workers["name"].astype(object).fillna("").astype(str).to_numpy(),
        worker_phone=_text(workers, "phone"),
        worker_roles=roles,
        slot_quals=[
            np.array([bool(s.eligible & set(r)) for r in roles], bool) for s in model.slots
        ],
        party=workers["party_member"].astype(object).fillna(False).astype(bool).to_numpy(),
        beat=_text(workers, "police_beat"),
        hours=pd.to_numeric(workers["hours"], errors="coerce").fillna(0).to_numpy(float),
        xy=xy,
        comm=comm,
        centre=np.zeros(len(workers), bool),
    )
    ctx.grid_index = {c: i for i, c in enumerate(ctx.grid_codes)}
    ctx.worker_index = {w: i for i, w in enumerate(ctx.worker_ids)}
    return ctx


def _text(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame[col].astype(object).fillna("").astype(str).to_numpy()


def _worker_communities(
    workers: gpd.GeoDataFrame, grid_xy: np.ndarray, grid_comm: np.ndarray, xy: np.ndarray
) -> np.ndarray:
    """Return each worker's community: the roster's, else that of the nearest grid."""
    if len(grid_xy) == 0 or len(xy) == 0:
        return np.full(len(xy), "", dtype=object)
    _, nearest = cKDTree(grid_xy).query(xy)
    comm = grid_comm[nearest].astype(object)
    if "community_code" in workers:
        given = workers["community_code"].astype(object).fillna("").astype(str).to_numpy()
        known = set(grid_comm.tolist())
        use = np.fromiter((c in known for c in given), bool, len(given))
        comm[use] = given[use]
    return comm


class Ledger:
    """What each worker already carries, to tell whether one more (grid, slot) fits."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.grids: dict[tuple[int, int], int] = defaultdict(int)
        self.loads: dict[tuple[int, int], np.ndarray] = {}
        self.role: dict[int, set[int]] = defaultdict(set)
        self.in_grid: set[tuple[int, int]] = set()
        self.filled: dict[tuple[int, int], int] = defaultdict(int)
        self.triples: list[tuple[int, int, int]] = []  # (grid, worker, slot) in order added

    def why_not(self, w: int, g: int, s: int) -> str:
        """Return why worker ``w`` cannot also take slot ``s`` of grid ``g`` ('' if it can)."""
        slot = self.ctx.model.slots[s]
        if (w, g) in self.in_grid:
            return "already serves this grid"
        if self.ctx.model.one_role_per_worker and self.role[w] - {s}:
            other = self.ctx.model.slots[min(self.role[w] - {s})]
            return f"already holds another role ({other.label})"
        if self.grids[(w, s)] >= slot.max_grids:
            return f"at max {slot.max_grids} grid{'s' if slot.max_grids != 1 else ''}"
        have = self.loads.get((w, s))
        for name, limit in slot.capacity_limits.items():
            k = LOADS.index(name)
            carried = 0.0 if have is None else have[k]
            if carried + self.ctx.load[g, k] > limit + 1e-9:
                return f"at max {limit:g} {name}"
        return ""

    def add(self, w: int, g: int, s: int) -> None:
        """Record that worker ``w`` fills slot ``s`` of grid ``g``."""
        self.grids[(w, s)] += 1
        self.loads[(w, s)] = self.loads.get((w, s), np.zeros(3)) + self.ctx.load[g]
        self.role[w].add(s)
        self.in_grid.add((w, g))
        self.filled[(g, s)] += 1
        self.triples.append((g, w, s))
