"""The metric plan of generated communities and its conversion to EPSG:4326 frames.

Layouts (urban, rural) build a :class:`Plan` in local metres around (0, 0); :func:`assemble` turns
one or many plans into the frames of :mod:`gridsvc.frames` in one vectorised pass.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from ..domain import CareTag

__all__ = [
    "BARRIER_COLUMNS",
    "SITE_USES",
    "CommunityData",
    "Plan",
    "assemble",
    "place_households",
    "rect_corners",
]

WGS84 = "EPSG:4326"
SITE_USES = ("school", "market", "enterprise")
BARRIER_COLUMNS = ("id", "kind", "name")

# Care tags in bit order, with the yearly rates of (urban, rural) households and the cadence rank
# each one asks for (0 none, 1 monthly, 2 weekly, 3 daily).
_TAGS = (
    CareTag.ELDERLY_ALONE,
    CareTag.LEFT_BEHIND_CHILD,
    CareTag.PREGNANT,
    CareTag.IN_DIFFICULTY,
    CareTag.KEY_PERSON,
)
_RATES = np.array([[0.08, 0.02, 0.01, 0.03, 0.005], [0.10, 0.05, 0.01, 0.04, 0.005]])
_RANK = np.array([2, 2, 1, 1, 2])
_CADENCES = np.array(["none", "monthly", "weekly", "daily"], dtype=object)
# Household sizes 1..6 of households that are not elderly living alone (mean ≈ 2.7; with the
# elderly alone at size 1 the overall mean is ≈ 2.6).
_SIZE_P = np.array([0.20, 0.29, 0.24, 0.16, 0.08, 0.03])


def _tag_tables() -> tuple[np.ndarray, np.ndarray]:
    tags = np.empty(32, dtype=object)
    cadence = np.empty(32, dtype=object)
    for code in range(32):
        bits = [(code >> i) & 1 for i in range(5)]
        tags[code] = ";".join(t.value for t, b in zip(_TAGS, bits, strict=True) if b)
        rank = max([r for r, b in zip(_RANK, bits, strict=True) if b], default=0)
        if bits[0] and bits[3]:  # elderly alone in a household in difficulty: 日访户
            rank = 3
        cadence[code] = _CADENCES[rank]
    return tags, cadence


_TAG_TEXT, _CADENCE_TEXT = _tag_tables()


@dataclass(frozen=True)
class CommunityData:
    """Generated frames in EPSG:4326, conformed to :mod:`gridsvc.frames` kinds.

    ``community`` (kind communities), ``buildings``, ``households`` and ``barriers`` (id, kind in
    road | river | wall, name; LineString geometries). ``sites`` are the buildings used as a
    school, market or enterprise.
    """

    community: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Return the buildings used as a school, market or enterprise."""
        return self.buildings[self.buildings["use"].isin(SITE_USES)]


@dataclass(frozen=True)
class Plan:
    """One community in local metres: boundary, footprints, barriers and households."""

    code: str
    name: str
    level: str
    parent_code: str
    boundary: Polygon
    corners: np.ndarray  # (n, 4, 2) footprint corners, counter-clockwise
    floors: np.ndarray
    units: np.ndarray
    use: np.ndarray  # object array of str
    compound: np.ndarray
    bname: np.ndarray
    barriers: tuple[tuple[str, str, BaseGeometry], ...]  # (kind, name, geometry)
    hx: np.ndarray
    hy: np.ndarray
    hbuilding: np.ndarray  # index into the footprints
    hunit: np.ndarray
    hfloor: np.ndarray
    hroom: np.ndarray  # object array of str
    size: np.ndarray
    care: np.ndarray  # (m, 5) bool, columns in _TAGS order

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Return (xmin, ymin, xmax, ymax) of the boundary."""
        x0, y0, x1, y1 = self.boundary.bounds
        return x0, y0, x1, y1

    def moved(self, *, angle: float = 0.0, dx: float = 0.0, dy: float = 0.0) -> Plan:
        """Return the plan rotated by ``angle`` degrees about (0, 0), then shifted."""
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))

        def move(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(
                [c * xy[:, 0] - s * xy[:, 1] + dx, s * xy[:, 0] + c * xy[:, 1] + dy]
            )

        corners = move(self.corners.reshape(-1, 2)).reshape(self.corners.shape)
        hxy = move(np.column_stack([self.hx, self.hy]))
        return replace(
            self,
            boundary=shapely.transform(self.boundary, move),
            corners=corners,
            barriers=tuple((k, n, shapely.transform(g, move)) for k, n, g in self.barriers),
            hx=hxy[:, 0],
            hy=hxy[:, 1],
        )


def rect_corners(
    cx: np.ndarray, cy: np.ndarray, length: np.ndarray, depth: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Return (n, 4, 2) counter-clockwise corners of rectangles, long axis at ``angle`` radians."""
    ex = np.column_stack([np.cos(angle), np.sin(angle)]) * (np.asarray(length) / 2)[:, None]
    ny = np.column_stack([-np.sin(angle), np.cos(angle)]) * (np.asarray(depth) / 2)[:, None]
    centre = np.column_stack([cx, cy])
    return np.stack(
        [centre - ex - ny, centre + ex - ny, centre + ex + ny, centre - ex + ny], axis=1
    )


def place_households(
    rng: np.random.Generator,
    corners: np.ndarray,
    floors: np.ndarray,
    units: np.ndarray,
    per_floor: np.ndarray,
    households: int,
    *,
    rural: bool,
) -> dict[str, np.ndarray]:
    """Fill ``households`` of the dwelling slots (unit × floor × position) of the buildings.

    Slots are chosen at random when there are more than ``households`` (vacant flats); each
    household is a point inside its unit's part of the footprint, with sizes and care tags drawn.
    """
    slots = units * floors * per_floor
    total = int(slots.sum())
    if households > total:
        raise ValueError(f"{households} households do not fit in {total} dwellings")
    chosen = (
        np.sort(rng.choice(total, households, replace=False))
        if households < total
        else (np.arange(total))
    )
    starts = np.concatenate([[0], np.cumsum(slots)[:-1]])
    b = np.searchsorted(starts, chosen, side="right") - 1
    k = chosen - starts[b]
    per_unit = floors[b] * per_floor[b]
    unit = k // per_unit
    floor = (k % per_unit) // per_floor[b]
    pos = k % per_floor[b]
    c0, c1, c3 = corners[b, 0], corners[b, 1], corners[b, 3]
    along_v, across_v = c1 - c0, c3 - c0
    length = np.hypot(along_v[:, 0], along_v[:, 1])
    depth = np.hypot(across_v[:, 0], across_v[:, 1])
    cell = length / units[b] / per_floor[b]
    along = (unit * per_floor[b] + pos + 0.5) * cell + rng.uniform(-0.3, 0.3, households) * cell
    across = depth / 2 + rng.uniform(-1, 1, households) * np.maximum(depth / 2 - 1.5, 0.1)
    xy = c0 + along_v * (along / length)[:, None] + across_v * (across / depth)[:, None]
    care, size = _people(rng, households, rural=rural)
    room = np.array([f"{f}{p:02d}" for f, p in zip(floor + 1, pos + 1, strict=True)], dtype=object)
    if rural:
        room[:] = ""
    return {
        "hx": xy[:, 0],
        "hy": xy[:, 1],
        "hbuilding": b,
        "hunit": unit + 1,
        "hfloor": floor + 1,
        "hroom": room,
        "size": size,
        "care": care,
    }


def _people(rng: np.random.Generator, n: int, *, rural: bool) -> tuple[np.ndarray, np.ndarray]:
    care = rng.random((n, 5)) < _RATES[int(rural)]
    alone = care[:, 0]
    care[alone, 1] = False  # a left-behind child never lives alone
    care[alone, 2] = False
    size = rng.choice(np.arange(1, 7), size=n, p=_SIZE_P)
    size[alone] = 1
    size[(care[:, 1] | care[:, 2]) & (size < 2)] = 2
    return care, size


def fit_sizes(rng: np.random.Generator, size: np.ndarray, care: np.ndarray, total: int) -> None:
    """Adjust household sizes in place (±1 at random households) until they sum to ``total``."""
    floor = np.where(care[:, 0], 1, np.where(care[:, 1] | care[:, 2], 2, 1))
    ceiling = np.where(care[:, 0], 1, 6)
    while (delta := total - int(size.sum())) != 0:
        step = 1 if delta > 0 else -1
        movable = np.flatnonzero(size < ceiling) if step > 0 else np.flatnonzero(size > floor)
        if movable.size == 0:
            raise ValueError(f"cannot make {len(size)} households hold {total} residents")
        pick = rng.choice(movable, min(abs(delta), movable.size), replace=False)
        size[pick] += step


_MOBILE_PREFIXES = np.array(["135", "138", "139", "150", "158", "186", "187", "199"])
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
_BIRTH_FIRST = np.datetime64("1935-01-01")
_BIRTH_DAYS = int((np.datetime64("2005-12-31") - _BIRTH_FIRST).astype(int))


def _contacts(codes: list[str], counts: np.ndarray) -> dict[str, pd.api.extensions.ExtensionArray]:
    """Draw a mobile number and an 18-digit identity number (GB 11643) per household.

    Each community draws from its own stream seeded by its code, so adding these columns left
    every other generated value unchanged.
    """
    phones, ids = [], []
    for code, n in zip(codes, counts, strict=True):
        rng = np.random.default_rng([zlib.crc32(code.encode()), 11])
        prefix = rng.choice(_MOBILE_PREFIXES, n)
        tail = rng.integers(0, 100_000_000, n)
        phones.append(np.char.add(prefix, np.char.zfill(tail.astype(str), 8)))
        birth = (_BIRTH_FIRST + rng.integers(0, _BIRTH_DAYS, n)).astype(str)
        born = np.char.replace(birth, "-", "")
        serial = np.char.zfill(rng.integers(1, 1000, n).astype(str), 3)
        body = np.char.add(np.char.add(code[:6], born), serial)
        digits = np.array([list(b) for b in body], dtype=np.int64).reshape(n, 17)
        ids.append(np.char.add(body, _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]))
    return {
        "phone": _strings(np.concatenate(phones) if phones else []),
        "id_number": _strings(np.concatenate(ids) if ids else []),
    }


def _strings(values: object) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(values, dtype=object), dtype="string")


def _ints(values: object) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(values, dtype=np.int64), dtype="Int64")


def _transformer(origin: tuple[float, float]) -> Transformer:
    lon, lat = origin
    local = f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m"
    return Transformer.from_crs(local, WGS84, always_xy=True)


def assemble(plans: list[Plan], origin: tuple[float, float]) -> CommunityData:
    """Convert metric plans (metres around ``origin`` lon/lat) to EPSG:4326 frames."""
    tr = _transformer(origin)

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    community = gpd.GeoDataFrame(
        {
            "code": _strings([p.code for p in plans]),
            "name": _strings([p.name for p in plans]),
            "level": _strings([p.level for p in plans]),
            "parent_code": _strings([p.parent_code for p in plans]),
        },
        geometry=shapely.transform(np.array([p.boundary for p in plans]), to_lonlat),
        crs=WGS84,
    )

    nb = np.array([len(p.floors) for p in plans])
    codes_b = np.repeat(np.array([p.code for p in plans], dtype=object), nb)
    serial_b = np.concatenate([np.arange(1, n + 1) for n in nb])
    corners = to_lonlat(np.concatenate([p.corners for p in plans]).reshape(-1, 2))
    rings = np.concatenate([corners.reshape(-1, 4, 2), corners.reshape(-1, 4, 2)[:, :1]], axis=1)
    building_ids = np.array([f"{c}-B{i:03d}" for c, i in zip(codes_b, serial_b, strict=True)])
    buildings = gpd.GeoDataFrame(
        {
            "id": _strings(building_ids),
            "community_code": _strings(codes_b),
            "name": _strings(np.concatenate([p.bname for p in plans])),
            "floors": _ints(np.concatenate([p.floors for p in plans])),
            "units": _ints(np.concatenate([p.units for p in plans])),
            "use": _strings(np.concatenate([p.use for p in plans])),
            "compound": _strings(np.concatenate([p.compound for p in plans])),
        },
        geometry=shapely.polygons(rings),
        crs=WGS84,
    )

    nh = np.array([len(p.hx) for p in plans])
    codes_h = np.repeat(np.array([p.code for p in plans], dtype=object), nh)
    serial_h = np.concatenate([np.arange(1, n + 1) for n in nh])
    offsets = np.repeat(np.concatenate([[0], np.cumsum(nb)[:-1]]), nh)
    hb = np.concatenate([p.hbuilding for p in plans]) + offsets
    care = np.concatenate([p.care for p in plans])
    bits = care.astype(np.int64) @ (1 << np.arange(5))
    hxy = to_lonlat(
        np.column_stack(
            [np.concatenate([p.hx for p in plans]), np.concatenate([p.hy for p in plans])]
        )
    )
    households = gpd.GeoDataFrame(
        {
            "id": _strings([f"{c}-H{i:05d}" for c, i in zip(codes_h, serial_h, strict=True)]),
            "community_code": _strings(codes_h),
            "building_id": _strings(building_ids[hb]),
            "unit": _ints(np.concatenate([p.hunit for p in plans])),
            "floor": _ints(np.concatenate([p.hfloor for p in plans])),
            "room": _strings(np.concatenate([p.hroom for p in plans])),
            "size": _ints(np.concatenate([p.size for p in plans])),
            "care_tags": _strings(_TAG_TEXT[bits]),
            "visit_cadence": _strings(_CADENCE_TEXT[bits]),
            **_contacts([p.code for p in plans], nh),
        },
        geometry=shapely.points(hxy),
        crs=WGS84,
    )

    rows = [(p.code, k, n, g) for p in plans for k, n, g in p.barriers]
    letters = {"road": "R", "river": "V", "wall": "W"}
    counters: dict[tuple[str, str], int] = {}
    ids = []
    for code, k, _, _ in rows:
        counters[code, k] = counters.get((code, k), 0) + 1
        ids.append(f"{code}-{letters[k]}{counters[code, k]:02d}")
    barriers = gpd.GeoDataFrame(
        {
            "id": _strings(ids),
            "kind": _strings([r[1] for r in rows]),
            "name": _strings([r[2] for r in rows]),
        },
        geometry=shapely.transform(np.array([r[3] for r in rows], dtype=object), to_lonlat)
        if rows
        else gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )
    return CommunityData(community, buildings, households, barriers)
