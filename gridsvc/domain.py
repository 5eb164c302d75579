"""Domain types: administrative units, buildings, households, grids, layers, workers.

Frozen dataclasses with shapely geometries in WGS 84 lon/lat (EPSG:4326). Bulk work uses
GeoDataFrames whose columns are documented in :mod:`gridsvc.frames`; the two are converted only in
:mod:`gridsvc.frames` (``to_records`` / ``from_records``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "CARE_TAGS",
    "AdminLevel",
    "AdminUnit",
    "Building",
    "BuildingUse",
    "CareTag",
    "Grid",
    "GridKind",
    "Household",
    "Layer",
    "LayerGrid",
    "LayerPolicy",
    "MicroGrid",
    "VisitCadence",
    "Worker",
    "is_division_code",
]

DIVISION_CODE = re.compile(r"^\d{12}$")


def is_division_code(code: str) -> bool:
    """Return True if ``code`` is a 12-digit statistical division code."""
    return bool(DIVISION_CODE.match(code))


class AdminLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    VILLAGE = "village"


class BuildingUse(StrEnum):
    RESIDENTIAL = "residential"
    SCHOOL = "school"
    MARKET = "market"
    ENTERPRISE = "enterprise"
    HOSPITAL = "hospital"
    OFFICE = "office"
    MIXED = "mixed"
    OTHER = "other"


class CareTag(StrEnum):
    """Special groups named by the policy texts (five of seven are named; the set is open)."""

    ELDERLY_ALONE = "独居老人"
    LEFT_BEHIND_CHILD = "留守儿童"
    PREGNANT = "孕妇"
    IN_DIFFICULTY = "困难家庭"
    KEY_PERSON = "重点人员"


CARE_TAGS: frozenset[str] = frozenset(t.value for t in CareTag)


class VisitCadence(StrEnum):
    NONE = "none"
    DAILY = "daily"  # 日访户
    WEEKLY = "weekly"  # 周访户
    MONTHLY = "monthly"  # 月访户

    @property
    def visits_per_month(self) -> float:
        return {"none": 0.0, "daily": 30.0, "weekly": 4.3, "monthly": 1.0}[self.value]


class GridKind(StrEnum):
    COMMUNITY = "community"  # 社区网格
    RURAL = "rural"  # 农村网格
    DEDICATED = "dedicated"  # 专属网格 (school, market, enterprise …)


class LayerPolicy(StrEnum):
    HARD = "hard"  # unified grids nest inside its grids
    SOFT = "soft"  # followed where the household bounds allow


@dataclass(frozen=True, slots=True)
class AdminUnit:
    """City, district, street or community with its 12-digit division code."""

    code: str
    name: str
    level: AdminLevel
    geometry: Polygon | MultiPolygon
    parent_code: str | None = None


@dataclass(frozen=True, slots=True)
class Building:
    """A building (楼栋): footprint, floors and stairwell units (单元) along its long axis."""

    id: str
    community_code: str
    geometry: Polygon | MultiPolygon
    floors: int = 1
    units: int = 1
    use: BuildingUse = BuildingUse.RESIDENTIAL
    name: str = ""
    compound: str = ""  # 小区 the building stands in, if any


@dataclass(frozen=True, slots=True)
class Household:
    """A household (户): where it lives, how many people, and which care it needs."""

    id: str
    community_code: str
    geometry: Point
    size: int = 1
    building_id: str | None = None
    unit: int | None = None
    floor: int | None = None
    room: str = ""
    care_tags: frozenset[str] = field(default_factory=frozenset)
    visit_cadence: VisitCadence = VisitCadence.NONE


@dataclass(frozen=True, slots=True)
class Grid:
    """A grid at some level: base grids are level 1, micro-grids level 2, and so on.

    ``floor_range`` is set only on stacked grids, which share a footprint and split one
    stairwell unit that alone holds more households than the upper bound.
    """

    code: str
    community_code: str
    level: int
    kind: GridKind
    geometry: Polygon | MultiPolygon
    households: int = 0
    residents: int = 0
    parent_code: str | None = None
    version: int = 1
    floor_range: tuple[int, int] | None = None
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class MicroGrid(Grid):
    """A micro-grid (微网格): a grid whose parent is a base grid."""


@dataclass(frozen=True, slots=True)
class Layer:
    """A departmental layer (party, police, governance …) with its merge policy."""

    name: str
    department: str
    policy: LayerPolicy = LayerPolicy.SOFT


@dataclass(frozen=True, slots=True)
class LayerGrid:
    """One grid of a departmental layer, as the department drew it."""

    layer: str
    grid_id: str
    geometry: BaseGeometry
    name: str = ""


@dataclass(frozen=True, slots=True)
class Worker:
    """A person who can staff grids: police, grid leader, grid worker, social force."""

    id: str
    name: str
    phone: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    party_member: bool = False
    home: Point | None = None
    police_beat: str = ""
    hours: float = 0.0
