"""Generate the departmental grid layers of a community, drawn independently and imperfectly.

Per community: ``police`` beats (警格, hard: 2–3 beats that tile the community along its roads
and rivers), ``party`` grids (党建, soft: 8–15 Voronoi cells around households) and
``governance`` grids (综治, soft: 8–15 cells of a tilted lattice). The two soft layers disagree
with each other and carry deliberate defects: a shrunken cell (gaps), a grown cell (overlaps), a
cell shifted by 2 m (slivers on both sides) and, for governance, a cell sticking out of the
community.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPoint, Polygon, box
from shapely.geometry.base import BaseGeometry

from ..frames import conform
from ..geo import metric_crs
from ..ingest.validate import polygonal_part
from ._plan import CommunityData

__all__ = ["generate_layers"]

WGS84 = "EPSG:4326"


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Return the polygonal part of ``geom`` (a Polygon or MultiPolygon), made valid."""
    part = polygonal_part(shapely.make_valid(geom))
    return Polygon() if part is None else part


def _extend(line: BaseGeometry, by: float = 5.0) -> BaseGeometry:
    """Return ``line`` lengthened by ``by`` metres at both ends, so it crosses what it touched."""
    xy = shapely.get_coordinates(line)
    if len(xy) < 2:
        return line
    head = xy[0] - xy[1]
    tail = xy[-1] - xy[-2]
    xy[0] += head / max(np.hypot(*head), 1e-9) * by
    xy[-1] += tail / max(np.hypot(*tail), 1e-9) * by
    return LineString(xy)


def _police(
    rng: np.random.Generator, boundary: BaseGeometry, cuts: list[BaseGeometry], hh: np.ndarray
) -> list[BaseGeometry]:
    """Split the community into 2–3 beats along barriers, balancing households."""
    k = int(rng.integers(2, 4))
    lines = shapely.node(shapely.union_all([boundary.boundary, *(_extend(c) for c in cuts)]))
    pieces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    pieces = [shapely.intersection(p, boundary) for p in pieces]
    pieces = [p for p in pieces if p.area > 1.0]
    if len(pieces) < k:  # nothing to follow: cut across the long axis at household quantiles
        x0, y0, x1, y1 = boundary.bounds
        qs = np.quantile(hh[:, 0], np.linspace(0, 1, k + 1)[1:-1])
        edges = [x0 - 1, *qs, x1 + 1]
        return [
            _polygonal(boundary.intersection(box(a, y0 - 1, b, y1 + 1)))
            for a, b in itertools.pairwise(edges)
        ]
    axis = (
        0
        if (boundary.bounds[2] - boundary.bounds[0]) >= (boundary.bounds[3] - boundary.bounds[1])
        else 1
    )
    centres = np.array([p.representative_point().coords[0][axis] for p in pieces])
    order = np.argsort(centres)
    weight = np.array(
        [shapely.contains_xy(pieces[i], hh[:, 0], hh[:, 1]).sum() + 1 for i in order], dtype=float
    )
    share = np.cumsum(weight) / weight.sum()
    beat = np.minimum((share * k - 1e-9).astype(int), k - 1)
    beat = np.maximum.accumulate(np.minimum(beat, np.arange(len(beat))))
    groups = [[pieces[order[j]] for j in np.flatnonzero(beat == b)] for b in range(k)]
    return _contiguous([_polygonal(shapely.union_all(g)) for g in groups if g])


def _contiguous(beats: list[BaseGeometry]) -> list[BaseGeometry]:
    """Hand the stray parts of a multi-part beat to the beat sharing most border with them."""
    for _ in range(4 * len(beats)):
        split = [i for i, g in enumerate(beats) if g.geom_type == "MultiPolygon"]
        if not split:
            break
        i = split[0]
        parts = sorted(shapely.get_parts(beats[i]), key=lambda p: p.area, reverse=True)
        beats[i] = parts[0]
        for part in parts[1:]:
            shared = [
                -1.0 if j == i else part.boundary.intersection(g.boundary).length
                for j, g in enumerate(beats)
            ]
            j = int(np.argmax(shared))
            beats[j] = _polygonal(shapely.union_all([beats[j], part]))
    return beats


def _defects(
    rng: np.random.Generator, cells: list[BaseGeometry], boundary: BaseGeometry, *, stick_out: bool
) -> list[BaseGeometry]:
    """Shrink one cell, grow another, shift a third by 2 m (and push one out of the boundary)."""
    out = list(cells)
    picks = rng.permutation(len(out))
    shrink, grow, shift, stick = (int(picks[i % len(out)]) for i in range(4))
    out[shrink] = out[shrink].buffer(-float(rng.uniform(3.0, 6.0)), join_style="mitre")
    out[grow] = _polygonal(
        out[grow].buffer(float(rng.uniform(4.0, 8.0)), join_style="mitre").intersection(boundary)
    )
    out[shift] = _polygonal(
        shapely.affinity.translate(out[shift], 2.0, -1.5).intersection(boundary)
    )
    if stick_out:
        out[stick] = _polygonal(out[stick].buffer(10.0, join_style="mitre"))
    return [_polygonal(c) for c in out]


def _voronoi(boundary: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=boundary.envelope.buffer(50))
    clipped = [_polygonal(c.intersection(boundary)) for c in shapely.get_parts(cells)]
    return [c for c in clipped if not c.is_empty and c.area > 1.0]


def _party(rng: np.random.Generator, boundary: BaseGeometry, hh: np.ndarray) -> list[BaseGeometry]:
    n = min(int(rng.integers(8, 16)), len(hh))
    seeds = hh[rng.choice(len(hh), n, replace=False)] + rng.normal(0, 5.0, (n, 2))
    return _voronoi(boundary, seeds)


def _governance(rng: np.random.Generator, boundary: BaseGeometry) -> list[BaseGeometry]:
    n = int(rng.integers(8, 16))
    x0, y0, x1, y1 = boundary.bounds
    nx = max(2, round(float(np.sqrt(n * (x1 - x0) / (y1 - y0)))))
    ny = max(2, -(-n // nx))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) / nx, (np.arange(ny) + 0.5) / ny)
    seeds = np.column_stack([x0 + gx.ravel() * (x1 - x0), y0 + gy.ravel() * (y1 - y0)])
    seeds += rng.normal(0, 0.08, seeds.shape) * [(x1 - x0) / nx, (y1 - y0) / ny]
    inside = shapely.contains_xy(boundary, seeds[:, 0], seeds[:, 1])
    return _voronoi(boundary, seeds[inside] if inside.sum() >= 3 else seeds)


def generate_layers(data: CommunityData, *, seed: int) -> gpd.GeoDataFrame:
    """Return police, party and governance grids (kind layer_grids) for each community."""
    rng = np.random.default_rng(seed)
    crs = metric_crs(data.community)
    communities = data.community.to_crs(crs)
    households = data.households.to_crs(crs)
    barriers = data.barriers.to_crs(crs)
    rows: list[dict[str, object]] = []
    for code, boundary in zip(communities["code"], communities.geometry, strict=True):
        mine = households[households["community_code"] == code]
        hh = shapely.get_coordinates(mine.geometry.values)
        cuts = barriers.geometry[
            barriers["kind"].isin(["road", "river"]).to_numpy()
            & barriers["id"].str.startswith(code).to_numpy()
        ]
        layers = {
            "police": _police(rng, boundary, list(cuts), hh),
            "party": _defects(rng, _party(rng, boundary, hh), boundary, stick_out=False),
            "governance": _defects(rng, _governance(rng, boundary), boundary, stick_out=True),
        }
        meta = {
            "police": ("公安", "hard", "JW", "警务网格"),
            "party": ("党建", "soft", "DJ", "党建网格"),
            "governance": ("综治", "soft", "ZZ", "综治网格"),
        }
        for layer, cells in layers.items():
            department, policy, prefix, label = meta[layer]
            for i, cell in enumerate(c for c in cells if not c.is_empty):
                rows.append(
                    {
                        "layer": layer,
                        "department": department,
                        "policy": policy,
                        "grid_id": f"{code}-{prefix}{i + 1:02d}",
                        "name": f"第{i + 1}{label}",
                        "geometry": cell,
                    }
                )
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs).to_crs(WGS84)
    return conform("layer_grids", frame)
