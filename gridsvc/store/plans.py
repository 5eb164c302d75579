"""Plans in the store: drafts with versioned grids, their edit log, and published grid history.

A plan holds grid versions (``plan_grids``); each edit writes new versions of the grids it
touched and marks the old ones not current. ``revision`` counts a plan's writes and backs its
ETag. Publishing copies a plan's current grids into ``grids`` and keeps ``grid_history`` (one
row per published grid version with ``valid_from``/``valid_to``) in step, so ``grids_as_of``
answers which grid held a place on a past day.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2 import Geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from gridsvc import frames
from gridsvc.errors import InputError, NotFoundError, Problem, StaleError
from gridsvc.store.repo import in_bbox
from gridsvc.store.tables import SRID, TABLES, Base, utc

__all__ = [
    "PlanInfo",
    "bump_revision",
    "create_plan",
    "current_grids",
    "edits",
    "get_draft",
    "get_plan",
    "grids_as_of",
    "list_plans",
    "next_serial",
    "record_edit",
    "set_status",
    "sync_history",
    "versions",
    "write_versions",
]

GRID_ATTRS = (
    "code",
    "community_code",
    "level",
    "kind",
    "parent_code",
    "households",
    "residents",
    "floor_lo",
    "floor_hi",
    "version",
)


def _grid_columns() -> list[Column[Any]]:
    return [
        Column("code", String(40), nullable=False),
        Column("community_code", String(32), nullable=False),
        Column("level", Integer),
        Column("kind", String(32)),
        Column("parent_code", String(40)),
        Column("households", Integer),
        Column("residents", Integer),
        Column("floor_lo", Integer),
        Column("floor_hi", Integer),
        Column("version", Integer, nullable=False),
    ]


plans_table = Table(
    "plans",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_code", String(32), nullable=False),
    Column("name", String),
    Column("status", String(16), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("effective_from", DateTime(timezone=True)),
)
plan_grids_table = Table(
    "plan_grids",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, nullable=False),
    *_grid_columns(),
    Column("current", Boolean, nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("members", Text),
    Column("edit_id", Integer),
    Column("geom", Geometry("GEOMETRY", srid=SRID, spatial_index=True)),
)
plan_edits_table = Table(
    "plan_edits",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, nullable=False),
    Column("op", String(16), nullable=False),
    Column("username", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("payload", Text),
    Column("validation", Text),
)
history_table = Table(
    "grid_history",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_grid_columns(),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True)),
    Column("plan_id", Integer),
    Column("geom", Geometry("GEOMETRY", srid=SRID, spatial_index=True)),
)


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """A plan's header: community, status (draft, published, superseded) and revision."""

    id: int
    community: str
    name: str
    status: str
    revision: int
    created_by: str | None
    created_at: datetime | None
    published_at: datetime | None
    effective_from: datetime | None

    @property
    def etag(self) -> str:
        return f'"plan-{self.id}-r{self.revision}"'

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "community": self.community,
            "name": self.name,
            "status": self.status,
            "revision": self.revision,
            "created_by": self.created_by,
            **{
                k: (None if v is None else v.isoformat())
                for k, v in (
                    ("created_at", self.created_at),
                    ("published_at", self.published_at),
                    ("effective_from", self.effective_from),
                )
            },
        }


def _info(row: Any) -> PlanInfo:
    return PlanInfo(
        row.id,
        row.community_code,
        row.name or "",
        row.status,
        row.revision,
        row.created_by,
        utc(row.created_at),
        utc(row.published_at),
        utc(row.effective_from),
    )


def _wkb(geom: BaseGeometry | None) -> Any:
    if geom is None or geom.is_empty:
        return None
    return func.ST_GeomFromWKB(
        bindparam("wkb", bytes(shapely.to_wkb(geom, output_dimension=2)), type_=LargeBinary), SRID
    )


def _geom_col(table: Table) -> Any:
    return func.ST_AsBinary(table.c.geom, type_=LargeBinary).label("wkb")


def _frame(rows: Sequence[Any], extra: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    names = [*GRID_ATTRS, *extra]
    data = pd.DataFrame([[getattr(r, n) for n in names] for r in rows], columns=names)
    geoms = [None if r.wkb is None else shapely.from_wkb(bytes(r.wkb)) for r in rows]
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=frames.WGS84))
    for name in ("level", "households", "residents", "floor_lo", "floor_hi", "version"):
        out[name] = out[name].astype("Int64")
    return out


def create_plan(
    session: Session,
    community: str,
    *,
    user: str | None,
    name: str,
    grids: gpd.GeoDataFrame,
    members: dict[str, frozenset[str]],
) -> PlanInfo:
    """Create a draft holding ``grids`` (every level) as version 1; return its header."""
    now = datetime.now(UTC)
    plan_id = session.execute(
        insert(plans_table)
        .values(
            community_code=community,
            name=name,
            status="draft",
            revision=1,
            created_by=user,
            created_at=now,
        )
        .returning(plans_table.c.id)
    ).scalar_one()
    _insert_grids(session, plan_id, grids, members, edit_id=None)
    return get_plan(session, plan_id)


def _insert_grids(
    session: Session,
    plan_id: int,
    grids: gpd.GeoDataFrame,
    members: dict[str, frozenset[str]],
    *,
    edit_id: int | None,
) -> None:
    for record in grids.to_dict("records"):
        code = str(record["code"])
        values = {k: _plain(record.get(k)) for k in GRID_ATTRS}
        geom = record["geometry"]
        session.execute(
            insert(plan_grids_table).values(
                plan_id=plan_id,
                **values,
                current=True,
                retired=geom is None,
                members=json.dumps(sorted(members.get(code, ()))),
                edit_id=edit_id,
                geom=_wkb(geom),
            )
        )


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def get_plan(session: Session, plan_id: int, *, hold: bool = False) -> PlanInfo:
    """Return plan ``plan_id`` or raise NotFoundError. ``hold`` locks the plan's row until the
    transaction ends (``SELECT … FOR UPDATE`` on PostGIS; SQLite serialises writers anyway), so
    a concurrent edit of the plan waits for this transaction, or this one for the edit."""
    query = select(plans_table).where(plans_table.c.id == plan_id)
    row = session.execute(query.with_for_update() if hold else query).first()
    if row is None:
        raise NotFoundError(f"plan {plan_id} does not exist")
    return _info(row)


def get_draft(session: Session, plan_id: int, *, hold: bool = False) -> PlanInfo:
    """Return plan ``plan_id`` if it is a draft; InputError (field ``plan``) if not.
    ``hold`` as for :func:`get_plan`."""
    plan = get_plan(session, plan_id, hold=hold)
    if plan.status != "draft":
        raise InputError(
            Problem(
                f"plan {plan_id} is {plan.status}; only drafts change — start a new draft",
                field="plan",
            )
        )
    return plan


def list_plans(session: Session, community: str) -> list[PlanInfo]:
    """Return the plans of ``community``, oldest first."""
    rows = session.execute(
        select(plans_table)
        .where(plans_table.c.community_code == community)
        .order_by(plans_table.c.id)
    ).all()
    return [_info(r) for r in rows]


def bump_revision(session: Session, plan_id: int, *, expected: int) -> int:
    """Advance the plan's revision if it is still ``expected``; else raise StaleError."""
    result = session.execute(
        update(plans_table)
        .where(plans_table.c.id == plan_id, plans_table.c.revision == expected)
        .values(revision=expected + 1)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        current = get_plan(session, plan_id).revision
        raise StaleError(
            f"plan {plan_id} is at revision {current}, not {expected}; "
            "reload it and apply your edit again"
        )
    return expected + 1


def set_status(
    session: Session, plan_id: int, status: str, *, effective_from: datetime | None = None
) -> None:
    """Set a plan's status (stamping publication time and effective date when published)."""
    values: dict[str, Any] = {"status": status}
    if status == "published":
        values.update(published_at=datetime.now(UTC), effective_from=effective_from)
    session.execute(update(plans_table).where(plans_table.c.id == plan_id).values(**values))


def current_grids(
    session: Session, plan_id: int
) -> tuple[gpd.GeoDataFrame, dict[str, frozenset[str]]]:
    """Return the plan's live grids (every level, by code) and the households of each."""
    t = plan_grids_table
    rows = session.execute(
        select(t, _geom_col(t))
        .where(t.c.plan_id == plan_id, t.c.current.is_(True), t.c.retired.is_(False))
        .order_by(t.c.code)
    ).all()
    members = {r.code: frozenset(json.loads(r.members or "[]")) for r in rows}
    return _frame(rows), members


def versions(session: Session, plan_id: int, code: str) -> list[dict[str, Any]]:
    """Return every version of grid ``code`` in the plan (oldest first), with its households."""
    t = plan_grids_table
    rows = session.execute(
        select(t, _geom_col(t))
        .where(t.c.plan_id == plan_id, t.c.code == code)
        .order_by(t.c.version)
    ).all()
    if not rows:
        raise NotFoundError(f"grid {code} is not in plan {plan_id}")
    return [
        {
            "version": r.version,
            "current": r.current,
            "retired": r.retired,
            "edit": r.edit_id,
            "households": json.loads(r.members or "[]"),
            "geometry": None if r.wkb is None else shapely.from_wkb(bytes(r.wkb)),
            "attrs": {k: getattr(r, k) for k in GRID_ATTRS},
        }
        for r in rows
    ]


def write_versions(
    session: Session,
    plan_id: int,
    *,
    edit_id: int,
    grids: gpd.GeoDataFrame,
    members: dict[str, frozenset[str]],
    gone: list[str],
) -> None:
    """Write a new version of each grid in ``grids`` and a retired version of each in ``gone``."""
    t = plan_grids_table
    codes = [*grids["code"].astype(str), *gone]
    last = dict(
        session.execute(
            select(t.c.code, func.max(t.c.version))
            .where(t.c.plan_id == plan_id, t.c.code.in_(codes))
            .group_by(t.c.code)
        ).all()
    )
    session.execute(
        update(t).where(t.c.plan_id == plan_id, t.c.code.in_(codes)).values(current=False)
    )
    grids = grids.copy()
    grids["version"] = [int(last.get(c, 0)) + 1 for c in grids["code"].astype(str)]
    _insert_grids(session, plan_id, grids, members, edit_id=edit_id)
    old, _ = _rows_of(session, plan_id, gone)
    for record in old:
        values = {k: getattr(record, k) for k in GRID_ATTRS}
        values["version"] = int(last.get(record.code, 0)) + 1
        session.execute(
            insert(t).values(
                plan_id=plan_id,
                **values,
                current=True,
                retired=True,
                members="[]",
                edit_id=edit_id,
                geom=None,
            )
        )


def _rows_of(session: Session, plan_id: int, codes: list[str]) -> tuple[list[Any], None]:
    t = plan_grids_table
    rows = session.execute(
        select(t)
        .where(t.c.plan_id == plan_id, t.c.code.in_(codes), t.c.retired.is_(False))
        .order_by(t.c.code, t.c.version.desc())
    ).all()
    seen: dict[str, Any] = {}
    for r in rows:
        seen.setdefault(r.code, r)
    return list(seen.values()), None


def next_serial(session: Session, plan_id: int, community: str) -> str:
    """Return a new base-grid code: the community code + the serial after every one in use."""
    codes = set(
        session.execute(
            select(plan_grids_table.c.code).where(plan_grids_table.c.plan_id == plan_id)
        ).scalars()
    )
    codes |= set(
        session.execute(
            select(history_table.c.code).where(history_table.c.community_code == community)
        ).scalars()
    )
    codes |= set(
        session.execute(
            select(TABLES["grids"].c.code).where(TABLES["grids"].c.community_code == community)
        ).scalars()
    )
    tails = [c[len(community) : len(community) + 3] for c in codes if c.startswith(community)]
    serial = max((int(t) for t in tails if t.isdigit()), default=0) + 1
    return f"{community}{serial:03d}"


def record_edit(
    session: Session,
    plan_id: int,
    *,
    op: str,
    user: str | None,
    payload: dict[str, Any],
    validation: dict[str, Any],
) -> int:
    """Append an edit to the plan's log; return its id."""
    return int(
        session.execute(
            insert(plan_edits_table)
            .values(
                plan_id=plan_id,
                op=op,
                username=user,
                at=datetime.now(UTC),
                payload=json.dumps(payload, ensure_ascii=False, default=str),
                validation=json.dumps(validation, ensure_ascii=False),
            )
            .returning(plan_edits_table.c.id)
        ).scalar_one()
    )


def edits(session: Session, plan_id: int) -> list[dict[str, Any]]:
    """Return the plan's edit log, oldest first."""
    t = plan_edits_table
    rows = session.execute(select(t).where(t.c.plan_id == plan_id).order_by(t.c.id)).all()
    return [
        {
            "id": r.id,
            "op": r.op,
            "user": r.username,
            "at": utc(r.at).isoformat(),
            "payload": json.loads(r.payload or "{}"),
            "validation": json.loads(r.validation or "{}"),
        }
        for r in rows
    ]


def _published(session: Session, community: str) -> gpd.GeoDataFrame:
    t = TABLES["grids"]
    rows = session.execute(select(t, _geom_col(t)).where(t.c.community_code == community)).all()
    frame = _frame(rows, ("valid_from",))
    frame["valid_from"] = [utc(v) for v in frame["valid_from"]]
    return frame


def sync_history(
    session: Session, community: str, *, at: datetime | None = None, plan_id: int | None = None
) -> int:
    """Bring ``grid_history`` in step with the published ``grids``; return versions opened.

    A grid whose geometry or household count changed gets its open version closed at ``at``
    (default: the row's ``valid_from`` in ``grids``) and a new version opened there; so do new
    grids. Grids no longer published are closed. ``grids.version`` follows the history.
    """
    h, g = history_table, TABLES["grids"]
    now = utc(at) or datetime.now(UTC)
    live = _published(session, community)
    rows = session.execute(
        select(h, _geom_col(h)).where(h.c.community_code == community, h.c.valid_to.is_(None))
    ).all()
    open_ = {r.code: r for r in rows}
    last = dict(
        session.execute(
            select(h.c.code, func.max(h.c.version))
            .where(h.c.community_code == community)
            .group_by(h.c.code)
        ).all()
    )
    opened = 0
    seen = set()
    for record in live.to_dict("records"):
        code = str(record["code"])
        seen.add(code)
        start = now if at is not None else (record["valid_from"] or now)
        prev = open_.get(code)
        if prev is not None and _same(prev, record):
            continue
        if prev is not None:
            session.execute(update(h).where(h.c.id == prev.id).values(valid_to=start))
        version = int(last.get(code) or 0) + 1
        values = {k: _plain(record.get(k)) for k in GRID_ATTRS}
        values["version"] = version
        session.execute(
            insert(h).values(
                **values, valid_from=start, plan_id=plan_id, geom=_wkb(record["geometry"])
            )
        )
        session.execute(update(g).where(g.c.code == code).values(version=version, valid_from=start))
        opened += 1
    for code, prev in open_.items():
        if code not in seen:
            session.execute(update(h).where(h.c.id == prev.id).values(valid_to=now))
    return opened


def _same(prev: Any, record: dict[str, Any]) -> bool:
    geom = None if prev.wkb is None else shapely.from_wkb(bytes(prev.wkb))
    new = record["geometry"]
    if geom is None or new is None:
        return geom is None and new is None
    return (
        _plain(record.get("households")) == prev.households
        and _plain(record.get("floor_lo")) == prev.floor_lo
        and bool(shapely.equals_exact(geom, new, 1e-9))
    )


def grids_as_of(
    session: Session,
    community: str,
    at: datetime,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Return the grids of ``community`` that were published at ``at`` (every level).

    ``bbox`` (min lon, min lat, max lon, max lat) keeps those intersecting it (spatial index).
    """
    h = history_table
    query = select(h, _geom_col(h)).where(h.c.community_code == community)
    if bbox is not None:
        query = query.where(in_bbox(session, h, bbox))
    rows = session.execute(query.order_by(h.c.code, h.c.version)).all()
    at = utc(at)
    keep = [
        r for r in rows if utc(r.valid_from) <= at and (r.valid_to is None or utc(r.valid_to) > at)
    ]
    frame = _frame(keep, ("valid_from", "valid_to"))
    for name in ("valid_from", "valid_to"):
        frame[name] = [None if v is None else utc(v).isoformat() for v in frame[name]]
    return frame
