"""Rural layouts: a village (村) of house clusters (村民小组) crossed by a road and a river."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Polygon

from ._plan import Plan, place_households, rect_corners
from ._urban import _lines

__all__ = ["rural_plan"]

_ROADS = ("乡道", "村村通公路", "县道")
_RIVERS = ("涑水河", "青龙河", "排碱渠")
_GROUP_DIGITS = "一二三四五六七八九十"


def _group_name(i: int) -> str:
    if i <= 10:
        return f"第{_GROUP_DIGITS[i - 1]}村民小组"
    return f"第{i}村民小组"


def _cluster(rng: np.random.Generator, houses: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return centres, lengths and depths of ``houses`` houses on a jittered, rotated lattice."""
    sx, sy = rng.uniform(20.0, 26.0), rng.uniform(18.0, 24.0)
    n = int(np.ceil(np.sqrt(houses * 1.3))) + 2
    gx, gy = np.meshgrid(np.arange(n) - (n - 1) / 2, np.arange(n) - (n - 1) / 2)
    sites = np.column_stack([gx.ravel() * sx, gy.ravel() * sy])
    ranking = np.hypot(sites[:, 0], sites[:, 1]) * rng.uniform(0.8, 1.2, len(sites))
    sites = sites[np.argsort(ranking, kind="stable")[:houses]]
    sites += rng.uniform(-1.5, 1.5, sites.shape)
    length = rng.uniform(10.0, 14.5, houses).round(1)
    depth = rng.uniform(8.0, 12.0, houses).round(1)
    return sites, length, depth


def rural_plan(
    rng: np.random.Generator, *, households: int, code: str, name: str, parent_code: str
) -> Plan:
    """Lay out a village of ``households`` one-household houses in clusters."""
    k = max(4, round(households / 60))
    quotas = np.maximum(1, np.floor(rng.dirichlet(np.full(k, 4.0)) * households).astype(int))
    quotas[np.argmax(quotas)] += households - quotas.sum()
    if quotas.min() < 1:  # tiny villages: spread evenly instead
        quotas = np.full(k, households // k)
        quotas[: households % k] += 1
        quotas = quotas[quotas > 0]
        k = len(quotas)
    ncols = int(np.ceil(np.sqrt(k)))
    nrows = -(-k // ncols)
    clusters = []
    for q in quotas:
        centres, length, depth = _cluster(rng, int(q))
        angle = rng.uniform(-0.35, 0.35)
        c, s = np.cos(angle), np.sin(angle)
        centres = centres @ np.array([[c, s], [-s, c]])
        corners = rect_corners(
            centres[:, 0], centres[:, 1], length, depth, np.full(len(centres), angle)
        )
        clusters.append(corners)
    lo = np.array([cl.reshape(-1, 2).min(axis=0) for cl in clusters])
    hi = np.array([cl.reshape(-1, 2).max(axis=0) for cl in clusters])
    size = hi - lo
    widths = np.zeros(ncols)
    heights = np.zeros(nrows)
    for i in range(k):
        widths[i % ncols] = max(widths[i % ncols], size[i, 0])
        heights[i // ncols] = max(heights[i // ncols], size[i, 1])
    col_gap = rng.uniform(36.0, 70.0, ncols)
    row_gap = rng.uniform(36.0, 70.0, nrows)
    xs = np.concatenate([[0.0], np.cumsum(widths + col_gap)[:-1]])
    ys = np.concatenate([[0.0], np.cumsum(heights + row_gap)[:-1]])
    placed = []
    for i, corners in enumerate(clusters):
        col, row = i % ncols, i // ncols
        offset = (
            np.array([xs[col], ys[row]])
            - lo[i]
            + rng.uniform(0, 1, 2) * (np.array([widths[col], heights[row]]) - size[i])
        )
        placed.append(corners + offset)
    corners = np.concatenate(placed)
    group = np.repeat(np.arange(1, k + 1), quotas)
    serial = np.concatenate([np.arange(1, q + 1) for q in quotas])
    compound = np.array([_group_name(int(g)) for g in group], dtype=object)
    bname = np.array([f"{g}组{n}号" for g, n in zip(group, serial, strict=True)], dtype=object)
    use = np.full(len(corners), "residential", dtype=object)
    floors = rng.choice([1, 2, 3], size=len(corners), p=[0.35, 0.5, 0.15])
    x_end = xs[-1] + widths[-1]
    if rng.random() < 0.6:  # a village enterprise (村办企业) east of the houses
        workshop = rect_corners(
            np.array([x_end + 60.0]),
            np.array([heights[0] / 2]),
            np.array([rng.uniform(35.0, 50.0)]),
            np.array([rng.uniform(18.0, 25.0)]),
            np.zeros(1),
        )
        corners = np.concatenate([corners, workshop])
        compound = np.append(compound, "")
        bname = np.append(bname, f"{name}农产品加工厂")
        use = np.append(use, "enterprise")
        floors = np.append(floors, int(rng.integers(1, 3)))
    parts = [*placed, corners[len(group) :]] if len(corners) > len(group) else placed
    hulls = [shapely.convex_hull(MultiPoint(p.reshape(-1, 2))) for p in parts]
    outline = shapely.get_coordinates(hulls)
    boundary = shapely.union_all([shapely.concave_hull(MultiPoint(outline), ratio=0.4), *hulls])
    boundary = boundary.buffer(35.0, quad_segs=2).simplify(4.0)
    if not isinstance(boundary, Polygon):
        boundary = shapely.convex_hull(MultiPoint(corners.reshape(-1, 2))).buffer(35.0, 2)

    x0, y0, x1, y1 = boundary.bounds
    c = int(rng.integers(0, ncols - 1)) if ncols > 1 else 0
    road_x = xs[c] + widths[c] + col_gap[c] / 2
    ty = np.linspace(y0 - 50, y1 + 50, 6)
    road = LineString(np.column_stack([road_x + rng.uniform(-4, 4, len(ty)), ty]))
    r = int(rng.integers(0, nrows - 1)) if nrows > 1 else 0
    river_y = ys[r] + heights[r] + row_gap[r] / 2
    tx = np.linspace(x0 - 50, x1 + 50, max(8, int((x1 - x0) / 20)))
    wave = rng.uniform(3.0, 6.0) * np.sin(2 * np.pi * tx / rng.uniform(150, 400))
    river = LineString(np.column_stack([tx, river_y + wave]))
    lines = [
        ("road", _ROADS[int(rng.integers(len(_ROADS)))], road),
        ("river", _RIVERS[int(rng.integers(len(_RIVERS)))], river),
    ]

    ones = np.ones(len(corners), dtype=np.int64)
    dwelling = (use == "residential").astype(np.int64)
    people = place_households(rng, corners, ones, ones, dwelling, households, rural=True)
    return Plan(
        code=code,
        name=name,
        level="village",
        parent_code=parent_code,
        boundary=boundary,
        corners=corners,
        floors=floors.astype(np.int64),
        units=ones,
        use=use,
        compound=compound,
        bname=bname,
        barriers=tuple(_lines(boundary, lines)),
        **people,
    )
