"""Planner edits on a draft plan's base grids: reassign, redraw, split, merge, and validation.

Pure functions over a :class:`PlanState` (the community outline, its households, the base grids
in EPSG:4326 and which households each grid holds). An edit returns an :class:`Edit`: the new
geometry and households of every grid it changed (``None`` geometry = the grid is gone).
Territory always moves with households, so the grids keep tiling the community; ``validate``
says what the result breaks (``errors``: coverage, contiguity, households in no grid) and what
it only flags (``warnings``: household bounds, split units).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as split_ops

from . import frames
from .errors import InputError, Problem
from .partition import Bounds, check_partition

__all__ = [
    "Edit",
    "PlanState",
    "Validation",
    "apply_edit",
    "locate",
    "merge",
    "reassign",
    "redraw",
    "significant",
    "split",
    "validate",
]

TINY = 1e-13  # deg² (~0.001 m²): pieces smaller than this are rounding dust
DUST = 1e-10  # deg² (~1 m²): a freed piece this small with no neighbour stays where it was
GRID = 1e-7  # deg: edited geometries live on GeoJSON's 7-decimal grid, so they stay valid out
SNAP = 3e-7  # deg (~3 cm): drawn vertices this close to a grid vertex land on it
_HARD = (
    "uncovered",
    "beyond it",
    "overlap",
    "not one connected",
    "in no grid",
    "twice",
    "unknown grids",
)


@dataclass(frozen=True)
class PlanState:
    """A plan's base grids (code, floor_lo, geometry …) and their households, in EPSG:4326."""

    boundary: BaseGeometry
    households: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    members: dict[str, frozenset[str]]

    def geom(self, code: str) -> BaseGeometry:
        """Return the geometry of grid ``code`` or raise InputError naming it."""
        hit = self.grids.loc[self.grids["code"] == code, "geometry"]
        if hit.empty:
            raise InputError(Problem(f"grid {code} is not in this plan", field="grid"))
        return hit.iloc[0]

    def stacked(self) -> set[str]:
        """Return the codes of stacked grids (floor ranges sharing a footprint)."""
        return set(self.grids.loc[self.grids["floor_lo"].notna(), "code"].astype(str))


@dataclass
class Edit:
    """What an edit changed: new geometry (None = gone) and households per touched grid."""

    geoms: dict[str, BaseGeometry | None]
    members: dict[str, frozenset[str]]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Validation:
    """Problems after an edit: ``errors`` refuse it, ``warnings`` only flag it."""

    errors: list[str]
    warnings: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return {"errors": self.errors, "warnings": self.warnings}


def _clean(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Return the polygonal part of ``geom`` without rounding dust; None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    geom = shapely.set_precision(shapely.make_valid(geom), GRID)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > TINY]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts, grid_size=GRID)


def significant(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Return ``geom`` without pieces under ~1 m² (rounding dust); None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    parts = [p for p in shapely.get_parts(geom) if p.area >= DUST]
    return None if not parts else shapely.union_all(parts)


def _refuse_stacked(state: PlanState, codes: Iterable[str]) -> None:
    stacked = sorted(set(codes) & state.stacked())
    if stacked:
        raise InputError(
            Problem(
                f"grids {', '.join(stacked)} are stacked (floor ranges of one building); "
                "they cannot be redrawn, split, merged or reassigned here",
                field="grid",
            )
        )


def _locate(
    state: PlanState, ids: Iterable[str], codes: Sequence[str], geoms: Sequence[BaseGeometry]
) -> dict[str, frozenset[str]]:
    """Give each household in ``ids`` to the grid of ``codes`` covering it (else the nearest)."""
    ids = sorted(ids)
    out: dict[str, set[str]] = {c: set() for c in codes}
    if not ids or not codes:
        return {c: frozenset(v) for c, v in out.items()}
    points = state.households.set_index("id").loc[ids].geometry.to_numpy()
    tree = shapely.STRtree(np.asarray(geoms, dtype=object))
    hit = np.full(len(ids), -1)
    p, g = tree.query(points, predicate="intersects")
    order = np.argsort(p, kind="stable")[::-1]  # last write wins → first hit per point
    hit[p[order]] = g[order]
    missing = np.flatnonzero(hit < 0)
    if len(missing):
        hit[missing] = tree.query_nearest(points[missing], all_matches=False)[1]
    for i, gi in enumerate(hit):
        out[codes[gi]].add(ids[i])
    return {c: frozenset(v) for c, v in out.items()}


def locate(
    state: PlanState, ids: Iterable[str], codes: Sequence[str], geoms: Sequence[BaseGeometry]
) -> dict[str, frozenset[str]]:
    """Give each household in ``ids`` to the grid of ``codes`` covering it (else the nearest)."""
    return _locate(state, ids, codes, geoms)


def _owner(state: PlanState) -> dict[str, str]:
    return {h: code for code, ids in state.members.items() for h in ids}


def reassign(state: PlanState, household_ids: Sequence[str], to: str) -> Edit:
    """Move households (with the territory closest to them) from their grids to grid ``to``."""
    target = state.geom(to)
    owner = _owner(state)
    unknown = sorted(h for h in household_ids if h not in owner)
    if unknown:
        raise InputError(
            Problem(f"households {unknown[:5]} are in no grid of this plan", field="households")
        )
    moved = set(household_ids) - state.members.get(to, frozenset())
    if not moved:
        raise InputError(Problem(f"the households are already in grid {to}", field="households"))
    sources = sorted({owner[h] for h in moved})
    _refuse_stacked(state, [*sources, to])
    geoms: dict[str, BaseGeometry | None] = {}
    members = {to: state.members.get(to, frozenset()) | moved}
    gained = [target]
    for code in sources:
        area = state.geom(code)
        if not shapely.intersects(area.buffer(1e-9), target):
            raise InputError(
                Problem(
                    f"grid {code} does not touch grid {to}; households move "
                    "only between neighbouring grids",
                    field="to",
                )
            )
        taken = _territory(state, code, moved)
        gained.append(taken)
        geoms[code] = _clean(shapely.difference(area, taken))
        members[code] = state.members[code] - moved
    geoms[to] = _clean(shapely.union_all(gained))
    warnings = [
        f"grid {c} gave away all its households and is gone" for c in sources if geoms[c] is None
    ]
    return Edit(geoms, members, warnings)


def _territory(state: PlanState, code: str, moved: set[str]) -> BaseGeometry:
    """Return the part of grid ``code`` nearer to its ``moved`` households than to the rest."""
    area = state.geom(code)
    ids = sorted(state.members[code])
    hh = state.households.set_index("id").loc[ids]
    xy = np.round(shapely.get_coordinates(hh.geometry.to_numpy()), 9)
    spots = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "moved": [i in moved for i in ids]})
    share = spots.groupby(["x", "y"])["moved"].agg(["all", "any"]).reset_index()
    mixed = share[share["any"] & ~share["all"]]
    if len(mixed):
        raise InputError(
            Problem(
                f"{len(mixed)} locations in grid {code} hold households that move and households "
                "that stay (one stairwell unit); move the whole unit",
                field="households",
            )
        )
    if share["all"].all():
        return area
    pts = np.asarray(shapely.points(share[["x", "y"]].to_numpy()), dtype=object)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=area))
    tree = shapely.STRtree(cells)
    p, c = tree.query(pts, predicate="intersects")
    take = cells[np.unique(c[share["all"].to_numpy()[p]])]
    return shapely.intersection(shapely.union_all(take), area)


def redraw(state: PlanState, code: str, polygon: BaseGeometry) -> Edit:
    """Give grid ``code`` the redrawn ``polygon``: neighbours lose what it covers, households
    inside move with it, and the territory it gives up goes to the neighbour sharing the
    longest border with each piece."""
    old = state.geom(code)
    warnings = []
    # GeoJSON carries 7 decimals (~1 cm): snap drawn vertices onto the grids' own vertices
    edges = shapely.union_all([*state.grids.geometry.boundary, state.boundary.boundary])
    polygon = _clean(shapely.snap(polygon, edges, SNAP)) or polygon
    new = _clean(shapely.intersection(polygon, state.boundary))
    if new is None:
        raise InputError(
            Problem("the redrawn polygon lies outside the community", field="geometry")
        )
    outside = shapely.area(shapely.difference(polygon, state.boundary))
    if outside > 1e-10:
        warnings.append(
            f"the redrawn polygon reached {outside / polygon.area:.1%} outside the "
            "community; clipped to its boundary"
        )
    plain = state.grids[state.grids["floor_lo"].isna() & (state.grids["code"] != code)]
    touched = shapely.intersects(plain.geometry.to_numpy(), new) & (
        shapely.area(shapely.intersection(plain.geometry.to_numpy(), new)) > DUST
    )
    _refuse_stacked(state, [code])
    stacked_hit = [
        c
        for c, g in zip(state.grids["code"], state.grids.geometry, strict=True)
        if c in state.stacked() and shapely.area(shapely.intersection(g, new)) > TINY
    ]
    if stacked_hit and not shapely.equals(new, old):
        _refuse_stacked(state, stacked_hit)
    geoms: dict[str, BaseGeometry | None] = {code: new}
    for c, g in zip(plain["code"][touched], plain.geometry[touched], strict=True):
        geoms[str(c)] = _clean(shapely.difference(g, new))
    freed = _clean(shapely.difference(old, new))
    for piece in [] if freed is None else shapely.get_parts(freed):
        best, best_len = None, 0.0
        for c, g in zip(plain["code"], plain.geometry, strict=True):
            g = geoms.get(str(c), g)
            if g is None:
                continue
            shared = shapely.length(shapely.intersection(piece.boundary, g.buffer(1e-9)))
            if shared > best_len:
                best, best_len = str(c), shared
        if best is None and piece.area < DUST:
            geoms[code] = _clean(shapely.union_all([geoms[code], piece]))
            continue
        if best is None:
            raise InputError(
                Problem(
                    f"the redrawn grid {code} gives up {_m2(piece):.0f} m² that no other grid "
                    "borders; draw the polygon so it keeps that area",
                    field="geometry",
                )
            )
        geoms[best] = _clean(shapely.union_all([geoms.get(best, state.geom(best)), piece]))
    changed = [
        c
        for c in geoms
        if c == code or geoms[c] is None or not shapely.equals_exact(geoms[c], state.geom(c), 1e-12)
    ]
    geoms = {c: geoms[c] for c in changed}
    pool: set[str] = set().union(*(state.members.get(c, frozenset()) for c in changed))
    alive = {c: g for c, g in geoms.items() if g is not None}
    members = _locate(state, pool, list(alive), list(alive.values()))
    members.update({c: frozenset() for c in changed if geoms[c] is None})
    warnings += [
        f"grid {c} lost all its territory and is gone" for c in changed if geoms[c] is None
    ]
    return Edit(geoms, members, warnings)


def _m2(geom: BaseGeometry) -> float:
    series = gpd.GeoSeries([geom], crs=frames.WGS84)
    return float(series.to_crs(series.estimate_utm_crs()).area.iloc[0])


def split(state: PlanState, code: str, line: BaseGeometry, *, new_code: str) -> Edit:
    """Cut grid ``code`` along ``line`` into two; the piece with more households keeps the code."""
    _refuse_stacked(state, [code])
    area = state.geom(code)
    pieces = [p for p in shapely.get_parts(split_ops(area, line)) if p.area > TINY]
    if len(pieces) != 2:
        raise InputError(
            Problem(
                f"the line cuts grid {code} into {len(pieces)} pieces; draw a line that crosses "
                "it once, from edge to edge",
                field="line",
            )
        )
    held = _locate(state, state.members[code], ["a", "b"], pieces)
    keep, new = ("a", "b") if len(held["a"]) >= len(held["b"]) else ("b", "a")
    index = {"a": 0, "b": 1}
    return Edit(
        {code: pieces[index[keep]], new_code: pieces[index[new]]},
        {code: held[keep], new_code: held[new]},
    )


def merge(state: PlanState, codes: Sequence[str]) -> Edit:
    """Join neighbouring grids into one that keeps the smallest code."""
    codes = sorted(set(codes))
    if len(codes) < 2:
        raise InputError(Problem("name at least two grids to merge", field="grids"))
    _refuse_stacked(state, codes)
    union = _clean(shapely.union_all([state.geom(c).buffer(0) for c in codes]))
    if union is None or union.geom_type != "Polygon":
        raise InputError(
            Problem(
                f"grids {', '.join(codes)} do not form one connected area; "
                "merge only neighbouring grids",
                field="grids",
            )
        )
    keep = codes[0]
    members: dict[str, frozenset[str]] = {c: frozenset() for c in codes[1:]}
    members[keep] = frozenset().union(*(state.members.get(c, frozenset()) for c in codes))
    geoms: dict[str, BaseGeometry | None] = {c: None for c in codes[1:]}
    geoms[keep] = union
    return Edit(geoms, members)


def apply_edit(state: PlanState, edit: Edit) -> PlanState:
    """Return the state after ``edit``."""
    grids = state.grids.copy()
    gone = [c for c, g in edit.geoms.items() if g is None]
    grids = grids[~grids["code"].isin(gone)]
    for code, geom in edit.geoms.items():
        if geom is None:
            continue
        if (grids["code"] == code).any():
            grids.loc[grids["code"] == code, "geometry"] = geom
        else:
            row = {"code": code, "floor_lo": pd.NA, "floor_hi": pd.NA, "geometry": geom}
            grids = pd.concat([grids, gpd.GeoDataFrame([row], crs=grids.crs)], ignore_index=True)
    members = {c: m for c, m in state.members.items() if c not in gone}
    members.update({c: m for c, m in edit.members.items() if c not in gone})
    return PlanState(
        state.boundary,
        state.households,
        gpd.GeoDataFrame(grids.reset_index(drop=True), crs=frames.WGS84),
        members,
    )


@dataclass(frozen=True)
class _Result:
    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    assignment: pd.DataFrame


def validate(state: PlanState, bounds: Bounds) -> Validation:
    """Run ``check_partition`` on the base grids and sort its findings into errors and warnings."""
    grids = frames.empty("grids")
    codes = state.grids["code"].astype(str).tolist()
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "level": 1,
            "parent_code": None,
            "households": [len(state.members.get(c, ())) for c in codes],
            "floor_lo": state.grids["floor_lo"].to_numpy(),
        },
        geometry=state.grids.geometry.to_numpy(),
        crs=frames.WGS84,
    )
    assignment = pd.DataFrame(
        [(h, c) for c, ids in state.members.items() for h in sorted(ids)],
        columns=["household_id", "grid_code"],
    )
    boundary = gpd.GeoDataFrame(geometry=[state.boundary], crs=frames.WGS84)
    micro = frames.empty("grids")
    problems = check_partition(
        boundary, state.households, _Result(grids, micro, assignment), [bounds], rounded=True
    )
    errors = [p for p in problems if any(word in p for word in _HARD)]
    return Validation(errors, [p for p in problems if p not in errors])
