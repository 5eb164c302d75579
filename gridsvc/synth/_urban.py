"""Urban layouts: gated compounds (小区) of slab buildings between a road grid, with a river."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box

from ._plan import Plan, place_households, rect_corners

__all__ = ["Compound", "Slab", "modern_compound", "old_compound", "site_compound", "urban_plan"]

_MARGIN = 8.0  # metres between a compound wall and its buildings
_RIVER_GAP = 60.0
_ROADS = (
    "解放路",
    "人民路",
    "红旗街",
    "河东街",
    "学苑路",
    "工农街",
    "中银大道",
    "槐东路",
    "凤凰路",
    "魏风街",
    "舜帝街",
    "南风路",
)
_RIVERS = ("姚暹渠", "涑水河", "盐湖排洪渠")
_MODERN = (
    "锦绣苑",
    "翠湖园",
    "阳光花园",
    "康馨小区",
    "盛世华庭",
    "金色家园",
    "御景湾",
    "和谐家园",
    "银湖小区",
    "南风苑",
    "凤凰城",
    "盐化小区",
    "星河湾",
    "学府名苑",
)
_OLD = (
    "机械厂家属院",
    "盐化局家属院",
    "纺织厂宿舍",
    "粮食局家属院",
    "电业局宿舍",
    "和平里",
    "建设里",
    "印刷厂家属院",
)


@dataclass(frozen=True)
class Slab:
    """One building to place: footprint size, floors, stairwell units, households per floor."""

    length: float
    depth: float
    floors: int
    units: int
    per_floor: int
    use: str = "residential"
    name: str = ""


@dataclass(frozen=True)
class Compound:
    """A walled compound (小区) or site filling one street block."""

    name: str
    slabs: tuple[Slab, ...]
    pad: tuple[float, float] = (0.0, 0.0)  # extra open space (playground, yard)


def _slab(rng: np.random.Generator, floors: int, units: int, per_floor: int, n: int) -> Slab:
    unit_width = rng.uniform(11.0, 14.0) + 3.0 * (per_floor - 2)
    depth = rng.uniform(11.0, 13.5) + (2.5 if floors > 18 else 0.0)
    return Slab(
        round(units * unit_width, 1), round(depth, 1), floors, units, per_floor, name=f"{n}号楼"
    )


def modern_compound(rng: np.random.Generator, name: str) -> list[Slab]:
    """Return the slabs of a commercial compound: 多层, 小高层 or 高层, 6–15 buildings."""
    style = rng.choice(4, p=[0.35, 0.3, 0.15, 0.2])  # multi, mid, high, mixed
    slabs = []
    for n in range(1, int(rng.integers(6, 16)) + 1):
        kind = style if style < 3 else rng.choice(3, p=[0.4, 0.4, 0.2])
        if kind == 0:
            floors, units, per_floor = int(rng.integers(6, 8)), int(rng.integers(3, 7)), 2
        elif kind == 1:
            floors, units = int(rng.integers(11, 19)), int(rng.integers(2, 5))
            per_floor = int(rng.integers(2, 4))
        else:
            floors, units = int(rng.integers(24, 34)), int(rng.integers(2, 4))
            per_floor = int(rng.integers(2, 5))
        slabs.append(_slab(rng, floors, units, per_floor, n))
    return slabs


def old_compound(rng: np.random.Generator, name: str) -> list[Slab]:
    """Return the slabs of an old low-rise quarter: 3–6 floors, 1–3 units, 6–14 buildings."""
    slabs = []
    for n in range(1, int(rng.integers(6, 15)) + 1):
        units = int(rng.integers(1, 4))
        slabs.append(
            Slab(
                round(units * rng.uniform(10.0, 12.0), 1),
                round(rng.uniform(9, 10.5), 1),
                int(rng.integers(3, 7)),
                units,
                2,
                name=f"{n}号楼",
            )
        )
    return slabs


def site_compound(rng: np.random.Generator, use: str, name: str) -> Compound:
    """Return a school or market block: one building, no households, open ground around it."""
    if use == "school":
        slab = Slab(
            round(rng.uniform(60, 80), 1),
            round(rng.uniform(16, 20), 1),
            int(rng.integers(4, 6)),
            1,
            0,
            use,
            "教学楼",
        )
        return Compound(name, (slab,), (60.0, 50.0))
    slab = Slab(
        round(rng.uniform(40, 60), 1),
        round(rng.uniform(25, 35), 1),
        int(rng.integers(1, 3)),
        1,
        0,
        use,
        name,
    )
    return Compound(name, (slab,), (20.0, 20.0))


def compound_names(rng: np.random.Generator, n: int, *, old: bool) -> list[str]:
    """Return ``n`` distinct-looking compound names."""
    pool = _OLD if old else _MODERN
    picks = rng.permutation(len(pool))
    return [
        pool[picks[i % len(pool)]] + ("" if i < len(pool) else f"{i // len(pool) + 1}期")
        for i in range(n)
    ]


def _pack(rng: np.random.Generator, comp: Compound) -> tuple[float, float, np.ndarray]:
    """Pack slabs into rows; return compound width, height and slab centres (lower-left origin)."""
    widest = max(s.length for s in comp.slabs)
    max_width = max(widest, float(rng.uniform(140.0, 200.0)))
    rows: list[list[tuple[Slab, float]]] = [[]]
    width = 0.0
    for s in comp.slabs:
        x = width + rng.uniform(8.0, 14.0) if rows[-1] else 0.0
        if rows[-1] and x + s.length > max_width:
            rows.append([])
            x = 0.0
        rows[-1].append((s, x))
        width = x + s.length
    inner_w = max(x + s.length for row in rows for s, x in row) + comp.pad[0]
    centres = []
    y = _MARGIN
    for r, row in enumerate(rows):
        depth = max(s.depth for s, _ in row)
        row_w = row[-1][1] + row[-1][0].length
        shift = _MARGIN + rng.uniform(0.0, inner_w - row_w)
        for s, x in row:
            centres.append(
                (
                    shift + x + s.length / 2,
                    y + depth / 2 + rng.uniform(-1, 1) * (depth - s.depth) / 2,
                )
            )
        floors = max(s.floors for s, _ in row)
        if r < len(rows) - 1:
            y += depth + float(np.clip(2.1 * floors, 10.0, 40.0))
        else:
            y += depth
    return inner_w + 2 * _MARGIN, y + _MARGIN + comp.pad[1], np.array(centres)


def _boundary(
    rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float, margin: float
) -> Polygon:
    """Return a bevelled, outward-jittered polygon containing the box grown by ``margin``."""
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    c = rng.uniform(0.2, 1.4, 4) * margin
    corners = [
        ((x0, y0), (1, 0), (0, 1)),
        ((x1, y0), (0, 1), (-1, 0)),
        ((x1, y1), (-1, 0), (0, -1)),
        ((x0, y1), (0, -1), (1, 0)),
    ]
    pts: list[tuple[float, float]] = []
    for i, ((cx, cy), out_dir, in_dir) in enumerate(corners):
        pts.append((cx + in_dir[0] * c[i], cy + in_dir[1] * c[i]))
        pts.append((cx + out_dir[0] * c[i], cy + out_dir[1] * c[i]))
        (nx, ny), _, _ = corners[(i + 1) % 4]
        normal = (out_dir[1], -out_dir[0])
        edge = abs(nx - cx) + abs(ny - cy)
        lo, hi = (c[i] + 10.0) / edge, 1.0 - (c[(i + 1) % 4] + 10.0) / edge
        for t in np.sort(rng.uniform(lo, hi, int(rng.integers(1, 4)) if hi > lo else 0)):
            push = rng.uniform(3.0, 30.0)
            pts.append(
                (cx + (nx - cx) * t + normal[0] * push, cy + (ny - cy) * t + normal[1] * push)
            )
    return Polygon(pts)


def _lines(boundary: Polygon, lines: list[tuple[str, str, LineString]]) -> list[tuple]:
    """Clip barrier lines to the boundary and split multi-part results into LineStrings."""
    out = []
    for kind, name, line in lines:
        clipped = shapely.intersection(line, boundary)
        for part in shapely.get_parts(
            shapely.line_merge(clipped) if clipped.geom_type == "MultiLineString" else clipped
        ):
            if part.geom_type == "LineString" and part.length > 1.0:
                out.append((kind, name, part))
    return out


def urban_plan(
    rng: np.random.Generator,
    compounds: list[Compound],
    *,
    households: int | None,
    code: str,
    name: str,
    parent_code: str,
    river: bool = True,
) -> Plan:
    """Lay compounds out in a grid of street blocks and fill their dwellings with households.

    ``households=None`` fills every dwelling; otherwise that many dwellings, chosen at random.
    """
    n = len(compounds)
    ncols = max(1, round(float(np.sqrt(n * 0.8))))
    nrows = -(-n // ncols)
    packed = [_pack(rng, c) for c in compounds]
    widths = np.zeros(ncols)
    heights = np.zeros(nrows)
    for i, (w, h, _) in enumerate(packed):
        widths[i % ncols] = max(widths[i % ncols], w)
        heights[i // ncols] = max(heights[i // ncols], h)
    road_w = rng.uniform(18.0, 26.0, max(ncols, nrows) + 1)
    river_row = (int(rng.integers(1, nrows)) if nrows > 1 else 0) if river else -1
    xs = np.concatenate([[0.0], np.cumsum(widths + road_w[:ncols])[:-1]])
    gaps = np.array(
        [(_RIVER_GAP if r == river_row else (road_w[r] if r else 0.0)) for r in range(nrows)]
    )
    ys = np.cumsum(gaps) + np.concatenate([[0.0], np.cumsum(heights)[:-1]])
    x_end = xs[-1] + widths[-1]
    y_end = ys[-1] + heights[-1]

    slabs: list[Slab] = []
    comp_names: list[str] = []
    centres = []
    walls: list[tuple[str, str, LineString]] = []
    for i, (comp, (_w, _h, rel)) in enumerate(zip(compounds, packed, strict=True)):
        col, row = i % ncols, i // ncols
        bx, by = xs[col], ys[row]
        free_x, free_y = widths[col] - _w, heights[row] - _h
        centres.append(rel + np.array([bx + rng.uniform(0, free_x), by + rng.uniform(0, free_y)]))
        slabs.extend(comp.slabs)
        comp_names.extend([comp.name] * len(comp.slabs))
        block = box(bx, by, bx + widths[col], by + heights[row])
        walls.append(("wall", comp.name, LineString(block.exterior.coords)))
    xy = np.concatenate(centres)
    margin = float(rng.uniform(12.0, 20.0))
    boundary = _boundary(rng, 0.0, 0.0, x_end, y_end, margin)

    lines: list[tuple[str, str, LineString]] = []
    road_names = rng.permutation(len(_ROADS))
    span = (-margin - 60.0, x_end + margin + 60.0)
    for j in range(1, ncols):
        x = (xs[j - 1] + widths[j - 1] + xs[j]) / 2
        lines.append(
            (
                "road",
                _ROADS[road_names[j % len(_ROADS)]],
                LineString([(x, -margin - 60), (x, y_end + margin + 60)]),
            )
        )
    for r in range(1, nrows):
        y = ys[r] - gaps[r] / 2
        if r != river_row:
            lines.append(
                (
                    "road",
                    _ROADS[road_names[(ncols + r) % len(_ROADS)]],
                    LineString([(span[0], y), (span[1], y)]),
                )
            )
    if river_row >= 0:
        y = ys[river_row] - _RIVER_GAP / 2
        t = np.linspace(span[0], span[1], max(8, int((span[1] - span[0]) / 20)))
        wave = rng.uniform(3.0, 8.0) * np.sin(
            2 * np.pi * t / rng.uniform(150, 400) + rng.uniform(0, 6)
        )
        lines.append(
            (
                "river",
                _RIVERS[int(rng.integers(len(_RIVERS)))],
                LineString(np.column_stack([t, y + wave])),
            )
        )

    floors = np.array([s.floors for s in slabs])
    units = np.array([s.units for s in slabs])
    per_floor = np.array([s.per_floor for s in slabs])
    corners = rect_corners(
        xy[:, 0],
        xy[:, 1],
        np.array([s.length for s in slabs]),
        np.array([s.depth for s in slabs]),
        np.zeros(len(slabs)),
    )
    capacity = int((floors * units * per_floor).sum())
    people = place_households(
        rng,
        corners,
        floors,
        units,
        per_floor,
        capacity if households is None else households,
        rural=False,
    )
    return Plan(
        code=code,
        name=name,
        level="community",
        parent_code=parent_code,
        boundary=boundary,
        corners=corners,
        floors=floors,
        units=units,
        use=np.array([s.use for s in slabs], dtype=object),
        compound=np.array(comp_names, dtype=object),
        bname=np.array([s.name for s in slabs], dtype=object),
        barriers=tuple(_lines(boundary, lines) + walls),
        **people,
    )
