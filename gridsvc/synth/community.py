"""Generate one community (社区) or village (村), or 禹都花园 with its published totals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..domain import is_division_code
from ._plan import CommunityData, Plan, assemble, fit_sizes
from ._rural import rural_plan
from ._urban import (
    Compound,
    Slab,
    compound_names,
    modern_compound,
    old_compound,
    site_compound,
    urban_plan,
)

__all__ = ["YUDU", "CommunityFacts", "community_plan", "generate_community", "generate_yudu"]


@dataclass(frozen=True)
class CommunityFacts:
    """Published facts about a real community that a generated one reproduces exactly."""

    code: str
    name: str
    parent_code: str
    origin: tuple[float, float]
    buildings: int
    units: int
    households: int
    residents: int
    clusters: int


# 运城 盐湖区 (140802) is real; the street and community digits are made up, and the origin is an
# illustrative point in 盐湖区, not the surveyed site.
YUDU = CommunityFacts(
    "140802002011",
    "禹都花园社区",
    "140802002000",
    (111.0265, 35.0310),
    buildings=40,
    units=108,
    households=1856,
    residents=4860,
    clusters=4,
)
_CLUSTER_NAMES = ("一片区", "二片区", "三片区", "四片区")


def _check(code: str, parent_code: str, households: int | None, kind: str) -> None:
    for label, value in (("code", code), ("parent_code", parent_code)):
        if not is_division_code(value):
            raise ValueError(f"{label} {value!r} is not a 12-digit division code")
    if kind not in ("urban", "rural"):
        raise ValueError(f"kind {kind!r} is not 'urban' or 'rural'")
    least = 8 if kind == "rural" else 1
    if households is not None and households < least:
        raise ValueError(f"a {kind} community needs at least {least} households, got {households}")


def _urban_compounds(rng: np.random.Generator, households: int) -> list[Compound]:
    target = households * rng.uniform(1.03, 1.10)  # a few vacant flats
    modern = iter(compound_names(rng, 64, old=False))
    old = iter(compound_names(rng, 64, old=True))
    compounds = []
    capacity = 0
    while capacity < target:
        is_old = rng.random() < 0.25
        name = next(old) if is_old else next(modern)
        slabs = old_compound(rng, name) if is_old else modern_compound(rng, name)
        keep = []
        for s in slabs:
            keep.append(s)
            capacity += s.floors * s.units * s.per_floor
            if capacity >= target:
                break
        compounds.append(Compound(name, tuple(keep)))
    compounds.append(site_compound(rng, "school", "实验小学"))
    compounds.append(site_compound(rng, "market", "农贸市场"))
    return [compounds[i] for i in rng.permutation(len(compounds))]


def community_plan(
    rng: np.random.Generator,
    *,
    code: str,
    name: str,
    kind: str,
    households: int | None,
    parent_code: str,
) -> Plan:
    """Return the metric plan of one community, centred on (0, 0) and slightly rotated."""
    if kind == "rural":
        count = int(rng.integers(150, 601)) if households is None else households
        plan = rural_plan(rng, households=count, code=code, name=name, parent_code=parent_code)
    else:
        count = int(rng.integers(1500, 4001)) if households is None else households
        plan = urban_plan(
            rng,
            _urban_compounds(rng, count),
            households=count,
            code=code,
            name=name,
            parent_code=parent_code,
        )
    rotated = plan.moved(angle=float(rng.uniform(-12.0, 12.0)))
    cx, cy = rotated.boundary.centroid.coords[0]
    return rotated.moved(dx=-cx, dy=-cy)


def generate_community(
    *,
    seed: int,
    code: str,
    name: str,
    kind: str = "urban",
    households: int | None = None,
    origin: tuple[float, float] = (111.0, 35.03),
    parent_code: str | None = None,
) -> CommunityData:
    """Generate an urban community of compounds or a rural village centred on ``origin`` lon/lat.

    ``households=None`` draws 1,500–4,000 (urban) or 150–600 (rural). ``parent_code`` defaults to
    the street code ``code[:9] + "000"``.
    """
    parent = parent_code or code[:9] + "000"
    _check(code, parent, households, kind)
    rng = np.random.default_rng(seed)
    plan = community_plan(
        rng, code=code, name=name, kind=kind, households=households, parent_code=parent
    )
    return assemble([plan], origin)


def _exact_configs(
    rng: np.random.Generator,
    units: np.ndarray,
    menu: list[tuple[int, int]],
    weights: np.ndarray,
    target: int,
) -> list[tuple[int, int]]:
    """Pick (floors, per_floor) per building so Σ units × floors × per_floor == target."""
    per_unit = np.array([f * p for f, p in menu])
    n = len(units)
    reach = np.zeros((n + 1, target + 1), dtype=bool)
    reach[n, 0] = True
    for i in range(n - 1, -1, -1):
        for h in per_unit:
            step = int(units[i] * h)
            if step <= target:
                reach[i, step:] |= reach[i + 1, : target + 1 - step]
    if not reach[0, target]:
        raise ValueError(f"no floor plan gives exactly {target} households")
    left = target
    picks = []
    for i in range(n):
        steps = units[i] * per_unit
        ok = np.array([s <= left and reach[i + 1, left - s] for s in steps])
        p = weights * ok
        choice = int(rng.choice(len(menu), p=p / p.sum()))
        picks.append(menu[choice])
        left -= int(steps[choice])
    return picks


def generate_yudu(seed: int = 0) -> CommunityData:
    """Generate 禹都花园 (运城): 40 buildings, 108 units, 1,856 households, 4,860 residents.

    The buildings stand in 4 clusters (片区, the ``compound`` column) of 10, all 多层 and 小高层
    slabs with two households per floor (一梯两户).
    """
    rng = np.random.default_rng(seed)
    units = rng.permutation(np.array([3] * 28 + [2] * 12))
    menu = [(6, 2), (7, 2), (11, 2), (18, 2)]
    configs = _exact_configs(rng, units, menu, np.array([0.45, 0.15, 0.3, 0.1]), YUDU.households)
    compounds = []
    for c, cluster in enumerate(_CLUSTER_NAMES):
        slabs = []
        for j in range(10):
            b = c * 10 + j
            floors, per_floor = configs[b]
            unit_width = rng.uniform(11.5, 13.5)
            slabs.append(
                Slab(
                    round(int(units[b]) * unit_width, 1),
                    round(rng.uniform(11, 13), 1),
                    floors,
                    int(units[b]),
                    per_floor,
                    name=f"{b + 1}号楼",
                )
            )
        compounds.append(Compound(f"禹都花园{cluster}", tuple(slabs)))
    plan = urban_plan(
        rng,
        compounds,
        households=None,
        code=YUDU.code,
        name=YUDU.name,
        parent_code=YUDU.parent_code,
        river=False,
    )
    fit_sizes(rng, plan.size, plan.care, YUDU.residents)
    rotated = plan.moved(angle=float(rng.uniform(-8.0, 8.0)))
    cx, cy = rotated.boundary.centroid.coords[0]
    return assemble([rotated.moved(dx=-cx, dy=-cy)], YUDU.origin)
