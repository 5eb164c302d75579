"""Generate a city: many communities and villages side by side in a grid of streets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from ..domain import is_division_code
from ._plan import CommunityData, Plan, assemble
from .community import community_plan

__all__ = ["SIZES", "generate_city", "iter_city"]

log = logging.getLogger(__name__)

_FIRST = "和平安康幸福文明胜利建设新华光明团结长青东风朝阳红旗先锋兴盛永乐富民"
_SECOND = "里园苑路街坊门桥湾城"
_STREET = 40.0  # metres of street between neighbouring communities
SIZES = (1000, 8000)  # households per community (villages up to 2/7 of the way: 3,000)


def _sizes(
    rng: np.random.Generator, households: int, sizes: tuple[int, int] = SIZES
) -> list[tuple[int, bool]]:
    """Split ``households`` into communities of ``sizes`` households (villages smaller)."""
    lo, hi = sizes
    rural_hi = max(lo, round(lo + (hi - lo) * 2 / 7))
    out = []
    left = households
    while left > 0:
        rural = bool(rng.random() < 0.2)
        h = min(int(rng.integers(lo, (rural_hi if rural else hi) + 1)), left)
        if left - h < lo:
            h = left if left <= hi else left - lo
        out.append((h, rural))
        left -= h
    return out


def _name(rng: np.random.Generator, rural: bool) -> str:
    a = _FIRST[2 * int(rng.integers(len(_FIRST) // 2)) :][:2]
    if rural:
        return f"{a}村"
    return f"{a}{_SECOND[int(rng.integers(len(_SECOND)))]}社区"


def _check(households: int, district_code: str, sizes: tuple[int, int]) -> None:
    if households < 1:
        raise ValueError(f"households must be positive, got {households}")
    if not is_division_code(district_code + "000000"):
        raise ValueError(f"district_code {district_code!r} is not 6 digits")
    if not 1 <= 2 * sizes[0] <= sizes[1]:
        raise ValueError(f"sizes must be (lo, hi) with 1 <= lo and 2 * lo <= hi, got {sizes}")


def _plans(
    rng: np.random.Generator, seed: int, sizes: list[tuple[int, bool]], district_code: str
) -> Iterator[Plan]:
    """Yield the plan of each community in turn, numbered into streets (街道) of 8–14."""
    street, in_street, urban_no, rural_no = 0, 0, 0, 0
    per_street = 0
    for i, (count, rural) in enumerate(sizes):
        if in_street >= per_street:
            street += 1
            in_street, urban_no, rural_no = 0, 0, 0
            per_street = int(rng.integers(8, 15))
        in_street += 1
        if rural:
            rural_no += 1
            serial = 200 + rural_no
        else:
            urban_no += 1
            serial = urban_no
        prefix = f"{district_code}{street:03d}"
        sub = np.random.default_rng([seed, i])
        yield community_plan(
            sub,
            code=f"{prefix}{serial:03d}",
            name=_name(sub, rural),
            kind="rural" if rural else "urban",
            households=count,
            parent_code=f"{prefix}000",
        )


def generate_city(
    *,
    seed: int,
    households: int,
    origin: tuple[float, float] = (111.0, 35.03),
    district_code: str = "140802",
    sizes: tuple[int, int] = SIZES,
) -> CommunityData:
    """Generate ``households`` households in communities of 1,000–8,000, about 20% villages.

    Communities are grouped into streets (街道) of 8–14; urban ones are numbered 001…, villages
    200… within their street (the statistical division code convention). The whole city is
    held in memory; :func:`iter_city` yields it a row of communities at a time.
    """
    _check(households, district_code, sizes)
    rng = np.random.default_rng(seed)
    plans = list(_plans(rng, seed, _sizes(rng, households, sizes), district_code))
    bounds = np.array([p.bounds for p in plans])
    size = bounds[:, 2:] - bounds[:, :2]
    ncols = int(np.ceil(np.sqrt(len(plans))))
    nrows = -(-len(plans) // ncols)
    widths = np.zeros(ncols)
    heights = np.zeros(nrows)
    np.maximum.at(widths, np.arange(len(plans)) % ncols, size[:, 0])
    np.maximum.at(heights, np.arange(len(plans)) // ncols, size[:, 1])
    xs = np.concatenate([[0.0], np.cumsum(widths + _STREET)[:-1]])
    ys = -np.concatenate([[0.0], np.cumsum(heights + _STREET)[:-1]])  # rows run north to south
    half_w, half_h = (xs[-1] + widths[-1]) / 2, (heights.sum() + _STREET * (nrows - 1)) / 2
    placed = []
    for i, plan in enumerate(plans):  # centred on the origin
        col, row = i % ncols, i // ncols
        dx = xs[col] - bounds[i, 0] + (widths[col] - size[i, 0]) / 2 - half_w
        dy = ys[row] - bounds[i, 3] - (heights[row] - size[i, 1]) / 2 + half_h
        placed.append(plan.moved(dx=dx, dy=dy))
    log.info("city of %d households in %d communities", households, len(plans))
    return assemble(placed, origin)


def iter_city(
    *,
    seed: int,
    households: int,
    origin: tuple[float, float] = (111.0, 35.03),
    district_code: str = "140802",
    sizes: tuple[int, int] = SIZES,
) -> Iterator[CommunityData]:
    """Yield a city like :func:`generate_city`'s one row of communities at a time.

    Same communities (codes, households, layouts); rows are packed west to east from the
    origin (its north-west corner) southwards, so memory holds one row, whatever the size.
    """
    _check(households, district_code, sizes)
    rng = np.random.default_rng(seed)
    sizes_ = _sizes(rng, households, sizes)
    ncols = int(np.ceil(np.sqrt(len(sizes_))))
    plans = _plans(rng, seed, sizes_, district_code)
    top = 0.0
    for start in range(0, len(sizes_), ncols):
        row = [next(plans) for _ in range(min(ncols, len(sizes_) - start))]
        bounds = np.array([p.bounds for p in row])
        widths = bounds[:, 2] - bounds[:, 0]
        lefts = np.concatenate([[0.0], np.cumsum(widths + _STREET)[:-1]])
        height = float((bounds[:, 3] - bounds[:, 1]).max())
        yield assemble(
            [p.moved(dx=lefts[i] - bounds[i, 0], dy=top - bounds[i, 3]) for i, p in enumerate(row)],
            origin,
        )
        top -= height + _STREET
