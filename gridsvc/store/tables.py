"""ORM tables of the store (SQLAlchemy 2 declarative + GeoAlchemy2), one per frame kind.

The schema is created only by the Alembic migrations in ``store/migrations``; these classes
describe it for queries. Every geometry is SRID 4326 (WGS 84 lon/lat) in column ``geom``:
generic GEOMETRY for areas (Polygon and MultiPolygon round-trip as stored), POINT for points.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, DateTime, Float, Integer, String, Table, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "SRID",
    "TABLES",
    "Base",
    "BuildingRow",
    "CommunityRow",
    "GridRow",
    "HouseholdRow",
    "LayerGridRow",
    "LayerRow",
    "WorkerRow",
    "area_type",
    "point_type",
    "utc",
]

SRID = 4326


def area_type() -> Geometry:
    """Return the column type of polygon-kind geometries (Polygon or MultiPolygon)."""
    return Geometry("GEOMETRY", srid=SRID, spatial_index=True)


def point_type() -> Geometry:
    """Return the column type of point geometries."""
    return Geometry("POINT", srid=SRID, spatial_index=True)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class CommunityRow(Base):
    __tablename__ = "communities"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String)
    level: Mapped[str | None] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    geom = mapped_column(area_type())


class BuildingRow(Base):
    # on PostGIS the spatial index of ``geom`` is SP-GiST, not GiST (migration 0008)
    __tablename__ = "buildings"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(String)
    floors: Mapped[int | None] = mapped_column(Integer)
    units: Mapped[int | None] = mapped_column(Integer)
    use: Mapped[str | None] = mapped_column(String(32))
    compound: Mapped[str | None] = mapped_column(String)
    geom = mapped_column(area_type())


class HouseholdRow(Base):
    # on PostGIS the spatial index of ``geom`` is SP-GiST, not GiST (migration 0008)
    __tablename__ = "households"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    building_id: Mapped[str | None] = mapped_column(String)  # not indexed (0008)
    unit: Mapped[int | None] = mapped_column(Integer)
    floor: Mapped[int | None] = mapped_column(Integer)
    room: Mapped[str | None] = mapped_column(String)
    size: Mapped[int | None] = mapped_column(Integer)
    care_tags: Mapped[str | None] = mapped_column(String)
    visit_cadence: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    geom = mapped_column(point_type())


class LayerRow(Base):
    __tablename__ = "layers"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    department: Mapped[str | None] = mapped_column(String)
    policy: Mapped[str | None] = mapped_column(String(16))


class LayerGridRow(Base):
    __tablename__ = "layer_grids"
    layer: Mapped[str] = mapped_column(String, primary_key=True)
    grid_id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str | None] = mapped_column(String)
    geom = mapped_column(area_type())


class GridRow(Base):
    __tablename__ = "grids"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(40), index=True)
    households: Mapped[int | None] = mapped_column(Integer)
    residents: Mapped[int | None] = mapped_column(Integer)
    floor_lo: Mapped[int | None] = mapped_column(Integer)
    floor_hi: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp()
    )
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(area_type())


class WorkerRow(Base):
    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    phone: Mapped[str | None] = mapped_column(String(32))
    roles: Mapped[str | None] = mapped_column(String)
    party_member: Mapped[bool | None] = mapped_column(Boolean)
    police_beat: Mapped[str | None] = mapped_column(String)
    hours: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(point_type())


def _table(row: type[Base]) -> Table:
    table = row.__table__
    assert isinstance(table, Table)
    return table


TABLES: dict[str, Table] = {
    row.__tablename__: _table(row)
    for row in (
        CommunityRow,
        BuildingRow,
        HouseholdRow,
        LayerRow,
        LayerGridRow,
        GridRow,
        WorkerRow,
    )
}


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive UTC); None stays."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
