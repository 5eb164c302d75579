"""The body of ``GET /me/assignments``: a worker's grids (simplified), roles, micro-grids and
households, built from keyed and index-backed reads of plain rows (no DataFrames), and the
version it is filed under in the answer cache.

The version holds everything the body is built from: the account (username, worker id,
scope), the worker's assignment rows, and the change stamps of the communities of his grids
(:mod:`gridsvc.store.stamps`, bumped by the database on every write to their grids, households
or assignments). It is read before the rows, so a cached body is never older than its version.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy.orm import Session

from ..geo import collection_text, record_feature_texts, round_coordinates
from ..planning import assign_points
from ..privacy import PERSONAL, mask_value, reveals
from ..store import repo
from ..store.assignments import worker_assignments
from ..store.stamps import read_stamps
from ..store.users import User
from .scope import worker_communities

__all__ = ["HOUSEHOLD_COLUMNS", "SIMPLIFY_DEGREES", "Assignments", "body", "version"]

SIMPLIFY_DEGREES = 0.00001  # about 1 m: enough for a phone map, a fraction of the vertices
HOUSEHOLD_COLUMNS = [
    "id",
    "grid",
    "microgrid",
    "building_id",
    "unit",
    "floor",
    "room",
    "size",
    "care_tags",
    "visit_cadence",
    "phone",
    "id_number",
    "lon",
    "lat",
]
BASE_PROPERTIES = ["code", "community_code", "kind", "households", "residents"]
MICRO_PROPERTIES = ["code", "parent_code", "level", "households", "floor_lo", "floor_hi"]
Assignments = tuple[tuple[str, str, datetime], ...]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def version(session: Session, user: User) -> tuple[Assignments, Hashable]:
    """Return the worker's assignment rows and the version of his body (see the module)."""
    rows = worker_assignments(session, user.worker_id) if user.worker_id else ()
    stamps = read_stamps(session, worker_communities(user))
    return rows, (user.username, user.worker_id, tuple(sorted(user.scope)), rows, stamps)


def _floats(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _features(rows: repo.Rows, properties: list[str], extra: dict[str, list[Any]]) -> str:
    columns = {name: rows.column(name) for name in properties} | extra
    geometry = shapely.simplify(rows.geometry, SIMPLIFY_DEGREES, preserve_topology=True)
    return collection_text(record_feature_texts(columns, geometry, id_column="code"))


def _grids(session: Session, user: User) -> tuple[repo.Rows, repo.Rows]:
    """Return the worker's base grids and the micro-grids in or under them, by code."""
    communities = worker_communities(user)
    scope = sorted(user.scope)
    mine = repo.read_rows(session, "grids", ids=scope)
    keep = [i for i, c in enumerate(mine.column("community_code")) if c in communities]
    levels = mine.column("level")
    base = _subset(mine, [i for i in keep if levels[i] == 1])
    scoped_micro = _subset(mine, [i for i in keep if levels[i] >= 2])
    codes = base.column("code")
    under = repo.read_rows(session, "grids", parents=codes, min_level=2) if codes else None
    micro = scoped_micro
    if under is not None and len(under):
        in_community = [i for i, c in enumerate(under.column("community_code")) if c in communities]
        micro = _merge(scoped_micro, _subset(under, in_community))
    return base, micro


def _subset(rows: repo.Rows, keep: list[int]) -> repo.Rows:
    return repo.Rows(rows.names, [rows.records[i] for i in keep], rows.geometry[keep])


def _merge(a: repo.Rows, b: repo.Rows) -> repo.Rows:
    """Rows of ``a`` and ``b`` (same kind) without repeats, by code."""
    by_code = dict(zip(a.column("code"), zip(a.records, a.geometry, strict=True), strict=True))
    by_code |= dict(zip(b.column("code"), zip(b.records, b.geometry, strict=True), strict=True))
    codes = sorted(by_code)
    geometry = np.empty(len(codes), dtype=object)
    geometry[:] = [by_code[c][1] for c in codes]
    return repo.Rows(a.names, [by_code[c][0] for c in codes], geometry)


def _households(
    session: Session, user: User, base: repo.Rows, micro: repo.Rows
) -> tuple[repo.Rows, np.ndarray, np.ndarray]:
    """Return the households in the worker's grids and, per household, the position of its
    base grid and micro-grid in ``base`` / ``micro`` (-1 for none)."""
    shapes = np.concatenate([base.geometry, micro.geometry])
    empty = repo.Rows((), [], np.empty(0, dtype=object))
    if len(shapes) == 0:
        return empty, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(shapes))
    parts = [
        repo.read_rows(session, "households", community=c, bbox=(x0, y0, x1, y1))
        for c in sorted(worker_communities(user))
    ]
    names = parts[0].names
    records = [r for p in parts for r in p.records]
    points = np.concatenate([p.geometry for p in parts])
    floors = _floats([r[names.index("floor")] for r in records])
    in_grid = assign_points(
        points, floors, base.geometry, _floats(base.column("floor_lo")),
        _floats(base.column("floor_hi")),
    )  # fmt: skip
    in_micro = assign_points(
        points, floors, micro.geometry, _floats(micro.column("floor_lo")),
        _floats(micro.column("floor_hi")),
    )  # fmt: skip
    keep = np.flatnonzero((in_grid >= 0) | (in_micro >= 0))
    rows = repo.Rows(names, [records[i] for i in keep], points[keep])
    return rows, in_grid[keep], in_micro[keep]


def body(session: Session, user: User, assignments: Assignments) -> bytes:
    """Return the compact JSON body of ``GET /me/assignments`` for worker ``user``."""
    roles: dict[str, set[str]] = {}
    for grid, role, _ in assignments:
        roles.setdefault(grid, set()).add(role)
    base, micro = _grids(session, user)
    households, in_grid, in_micro = _households(session, user, base, micro)
    base_codes, micro_codes = base.column("code"), micro.column("code")
    grid_of: list[str | None] = [base_codes[i] if i >= 0 else None for i in in_grid.tolist()]
    micro_of: list[str | None] = [micro_codes[i] if i >= 0 else None for i in in_micro.tolist()]
    xy = round_coordinates(shapely.get_coordinates(households.geometry)).tolist()
    names = households.names
    at = {name: names.index(name) for name in names}
    personal = [(field, at[field]) for field in PERSONAL]
    table = []
    for record, in_base, in_sub, (lon, lat) in zip(
        households.records, grid_of, micro_of, xy, strict=True
    ):
        shown = reveals("worker", roles.get(str(in_base), ()))
        values = list(record)
        for field, i in personal:
            if not shown[field]:
                values[i] = mask_value(field, values[i])
        row = {**dict(zip(names, values, strict=True)), "grid": in_base, "microgrid": in_sub}
        row["lon"], row["lat"] = lon, lat
        table.append([row[c] for c in HOUSEHOLD_COLUMNS])
    grid_roles = {"roles": [sorted(roles.get(code, ())) for code in base_codes]}
    parts = [
        '{"worker":',
        _dumps({"username": user.username, "worker_id": user.worker_id}),
        ',"assignments":',
        _dumps([{"grid": g, "role": r, "since": t.isoformat()} for g, r, t in assignments]),
        ',"grids":',
        _features(base, BASE_PROPERTIES, grid_roles),
        ',"microgrids":',
        _features(micro, MICRO_PROPERTIES, {}),
        ',"households":',
        _dumps({"columns": HOUSEHOLD_COLUMNS, "rows": table}),
        "}",
    ]
    return "".join(parts).encode()
