"""Cut a territory into blocks along barriers and give every atom a cell of it.

Blocks come from polygonizing the territory outline with the barrier lines (polygon barriers by
their outlines), so no cell ever crosses a road or river. Inside each block, atoms get the
Voronoi cells of their points clipped to the block; pieces of a cell cut off from its point join
the neighbouring cell sharing the longest edge. Blocks without atoms are returned as orphans and
join a neighbouring grid after the split (see :func:`attach_orphans`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

__all__ = [
    "GRID_SIZE",
    "Territory",
    "attach_orphans",
    "blocks",
    "clip_cells",
    "crossed_vertices",
    "heal",
    "polygon_parts",
    "polygonal",
    "shared_lengths",
    "snap_cells",
    "tessellate",
    "unique_points",
]

GRID_SIZE = 0.01  # metres; every polygon is snapped to this precision so shared edges match
CLEAR_M = 2 * GRID_SIZE  # rounding moves a vertex 0.71 steps; this far apart, nothing snaps


@dataclass(frozen=True, slots=True)
class Territory:
    """Cells of ground atoms and the pieces nobody lives in.

    ``cells[i]`` is the territory of ground atom ``atoms[i]``; ``cell_block[i]`` its block;
    ``orphans`` polygons without atoms (empty blocks) and ``orphan_block`` their blocks;
    ``blocks`` every block polygon; ``cell_soft``/``orphan_soft`` label the finer blocks that
    soft lines cut (equal to the block labels when there are no soft lines).
    """

    atoms: np.ndarray
    cells: np.ndarray
    cell_block: np.ndarray
    orphans: np.ndarray
    orphan_block: np.ndarray
    blocks: np.ndarray
    cell_soft: np.ndarray | None = None
    orphan_soft: np.ndarray | None = None


def _lines(geoms: np.ndarray) -> np.ndarray:
    """Return the line work of ``geoms`` (polygons by their boundaries)."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    out = np.where(polygonal, shapely.boundary(geoms), geoms)
    return out[~shapely.is_empty(out)]


def blocks(outline: BaseGeometry, barriers: np.ndarray | None = None) -> np.ndarray:
    """Return the blocks ``outline`` falls into once cut by ``barriers`` (metric geometries)."""
    outline = shapely.set_precision(outline, GRID_SIZE)
    if barriers is None or len(barriers) == 0:
        parts = shapely.get_parts(outline)
        return np.array(parts[shapely.get_type_id(parts) == 3], dtype=object)  # no stray lines
    cut = shapely.intersection(_lines(np.asarray(barriers, dtype=object)), outline)
    lines = np.concatenate([[shapely.boundary(outline)], cut[~shapely.is_empty(cut)]])
    noded = shapely.union_all(lines, grid_size=GRID_SIZE)
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    polys = shapely.set_precision(polys, GRID_SIZE)
    # a block is inside when most of it is (a point on its surface may sit on the outline)
    area = shapely.area(polys)
    inside = shapely.area(shapely.intersection(polys, outline)) > 0.5 * area
    result = polys[inside & (area > 0)]
    return result if len(result) else np.array(shapely.get_parts(outline), dtype=object)


def shared_lengths(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the length of the border polygons ``a[i]`` and ``b[i]`` share, pairwise."""
    if len(a) == 0:
        return np.zeros(0)
    common = shapely.intersection(shapely.boundary(a), shapely.boundary(b), grid_size=GRID_SIZE)
    return np.asarray(shapely.length(common))


def unique_points(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return what ``np.unique(xy, axis=0)`` returns for points (rows x, y) with the index of
    each row's first occurrence, each point's row and the counts: the same rows in the same
    order (by x, then y), from a 1-d sort of complex numbers instead of a sort of rows (several
    times faster)."""
    z = np.ascontiguousarray(xy[:, 0]) + 1j * np.ascontiguousarray(xy[:, 1])
    unique, first, inverse, counts = np.unique(
        z, return_index=True, return_inverse=True, return_counts=True
    )
    rows = np.column_stack([unique.real, unique.imag]).reshape(-1, 2)
    return rows, first, inverse.ravel(), counts


def _spread(xy: np.ndarray) -> np.ndarray:
    """Move coincident points apart on a small circle so every Voronoi site is distinct."""
    xy = np.round(xy, 2)
    _, _, inv, counts = unique_points(xy)
    if counts.max() == 1:
        return xy
    out = xy.copy()
    seen: dict[int, int] = {}
    for i in np.flatnonzero(counts[inv] > 1):
        j = seen.get(int(inv[i]), 0)
        seen[int(inv[i])] = j + 1
        angle = 2.0 * np.pi * j / counts[inv[i]]
        out[i] += 0.5 * np.array([np.cos(angle), np.sin(angle)])
    return out


def _block_of(tree: shapely.STRtree, xy: np.ndarray) -> np.ndarray:
    """Return the index of the block holding each point (the nearest one when on no block)."""
    block_of = np.full(len(xy), -1)
    if len(xy) == 0:
        return block_of
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    polys = tree.geometries
    box = shapely.bounds(polys)
    # the points in each block's box tested on the block, no point objects built; the lowest
    # block is tested last, so the first hit wins
    for b in range(len(polys) - 1, -1, -1):
        x0, y0, x1, y1 = box[b]
        near = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if len(near):
            shapely.prepare(polys[b])
            block_of[near[shapely.intersects_xy(polys[b], x[near], y[near])]] = b
    missing = np.flatnonzero(block_of < 0)
    if len(missing):  # on the outline's edge after snapping: nearest block
        points = shapely.points(xy[missing])
        # every block equally near (a point off the corner where a road meets the outline
        # is as near to both sides): the lowest wins, as above
        pt, blk = tree.query_nearest(points, return_distance=False)
        nearest = np.full(len(missing), len(polys))
        np.minimum.at(nearest, pt, blk)
        block_of[missing] = nearest
    return block_of


def polygon_parts(geom: BaseGeometry, min_area: float = 0.0) -> np.ndarray:
    """Return the polygons of ``geom`` larger than ``min_area`` (lines and points dropped)."""
    parts = shapely.get_parts(geom)
    return parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > min_area)]


def polygonal(cells: np.ndarray) -> np.ndarray:
    """Return ``cells`` with the lines and points snapping left in a collection dropped."""
    mixed = np.flatnonzero(shapely.get_type_id(cells) == 7)
    if len(mixed) == 0:
        return cells
    out = cells.copy()
    for i in mixed.tolist():
        parts = polygon_parts(cells[i])
        out[i] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))
    return out


def _cells_in_block(block: BaseGeometry, xy: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Return one cell per atom in ``block``: the union of the Voronoi cells of its sites.

    ``xy`` holds the sites (households) and ``owner`` the atom (0…n-1) of each, so every
    household lies in its own atom's cell. The clipped cells of one diagram match vertex for
    vertex, so each atom's cells are dissolved as a coverage (no overlay).
    """
    n = int(owner.max()) + 1
    if n == 1:
        return np.array([block], dtype=object)
    point = unique_points(np.round(xy, 2))[2]
    _, first = np.unique(point.astype(np.int64) * n + owner, return_index=True)
    xy, owner = xy[np.sort(first)], owner[np.sort(first)]  # a unit's flats share one point
    spread = _spread(xy)
    voronoi = shapely.voronoi_polygons(shapely.multipoints(spread), extend_to=block, ordered=True)
    raw = polygonal(shapely.get_parts(voronoi))  # a cell may come with a zero-length line
    raw[shapely.get_type_id(raw) != 3] = shapely.Polygon()  # sites GEOS merged: no cell
    order = np.argsort(owner, kind="stable")

    def sites() -> np.ndarray:  # each atom's sites, built only if some cell needs healing
        return np.asarray(shapely.multipoints(spread[order], indices=owner[order]), dtype=object)

    # every household cell clipped on the grid, then each unit's cells dissolved: clipping
    # the dissolved units instead (cheaper) left hairline gaps between neighbouring units
    # that split grids their graph thinks are connected
    cells = polygonal(snap_cells(raw[order], block))
    regions = cells if len(owner) == n else _dissolve(cells, owner[order], n)
    return heal(regions, sites)


def snap_cells(cells: np.ndarray, block: BaseGeometry) -> np.ndarray:
    """Return the Voronoi ``cells`` of one diagram clipped to ``block`` on the ``GRID_SIZE`` grid,
    still a coverage.

    Snapped one by one (:func:`clip_cells`), a cell bends its edges through the grid points of
    its own vertices only: where a vertex of the diagram lies within :data:`CLEAR_M` of an edge
    of a cell not ending there (edges under a centimetre, near-cocircular sites), one cell
    bends and its neighbour does not, and the cells open gaps that can cut an atom's cells
    apart. Those cells are snapped together instead (:func:`_snap_together`).
    """
    clear, convex = _clearance(cells)
    bad = _invalid(cells, sure=convex)
    if len(bad):
        cells = _repair(cells, bad)
        clear[bad] = _clearance(cells[bad])[0]
    out = np.empty(len(cells), dtype=object)
    crowded = _crowded(cells, clear)
    out[~crowded] = clip_cells(cells[~crowded], block, clear=True)
    if crowded.any():
        out[crowded] = _snap_together(cells, crowded, out[~crowded], block)
    return out


def _crowded(cells: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Return, per cell of one diagram, whether a vertex of the diagram lies within
    :data:`CLEAR_M` of its edges without ending them (``clear``: whether each cell passes
    :func:`_clear`, see :func:`_clearance`).

    Such a vertex is a vertex of a cell failing :func:`_clear` or lies that close to another
    vertex: on its short way to the edge it enters a cell (convex) and leaves it through an edge
    not ending at it, making that cell fail, or through a vertex that close. So only those
    vertices are looked up among the cells' edges; the cells failing :func:`_clear` count too.
    """
    out = (shapely.get_type_id(cells) == 3) & ~shapely.is_empty(cells) & ~clear
    xy, ring = shapely.get_coordinates(cells, return_index=True)
    vertex, unique = pd.factorize(xy[:, 0] + 1j * xy[:, 1])  # hashed, not sorted
    vertices = np.column_stack([unique.real, unique.imag])
    suspect = np.zeros(len(vertices), dtype=bool)
    near_pairs = cKDTree(vertices, balanced_tree=False, compact_nodes=False).query_pairs(
        CLEAR_M, output_type="ndarray"
    )  # a tree queried once: cheaper to build unbalanced
    suspect[near_pairs.ravel()] = True
    suspect[vertex[out[ring]]] = True
    suspects = np.flatnonzero(suspect)
    if len(suspects) == 0:
        return out
    # a vertex is never inside a cell, so near the cell is near its edges
    near, cell = shapely.STRtree(cells).query(
        shapely.points(vertices[suspects]), predicate="dwithin", distance=CLEAR_M
    )
    found = np.zeros(len(cells), dtype=bool)
    found[cell] = True
    mine = found[ring]  # the vertices of the cells found, a few of all
    own = np.sort(ring[mine] * len(vertices) + vertex[mine])
    key = cell * len(vertices) + suspects[near]
    at = np.minimum(np.searchsorted(own, key), len(own) - 1)
    out[cell[own[at] != key]] = True
    return out


def _snap_together(
    cells: np.ndarray, crowded: np.ndarray, others: np.ndarray, block: BaseGeometry
) -> np.ndarray:
    """Return the ``crowded`` of ``cells`` (convex polygons of one diagram) clipped to ``block``
    and snapped to the grid as one line work, so their shared edges bend alike.

    ``others`` are the other cells, snapped one by one; no vertex bends their edges, so the
    line work meets them edge for edge and its faces inside them are dropped. Every other face
    goes to the crowded cell its inner point lies in; snapping moves no edge more than a grid
    step, so a face whose point lies closer than that to an edge goes to the crowded cell
    holding most of it. A cell whose edges all collapse comes back empty.
    """
    mine = cells[crowded]
    lines = np.concatenate([shapely.boundary(mine), [shapely.boundary(block)]])
    noded = shapely.union_all(lines, grid_size=GRID_SIZE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    points = shapely.point_on_surface(faces)
    inside = shapely.covered_by(points, block)
    # a tree of the few points, not of the block's many other cells
    inside[shapely.STRtree(points).query(others, predicate="intersects")[1]] = False
    faces, points = faces[inside], points[inside]
    tree = shapely.STRtree(mine)
    face, cell = tree.query(points, predicate="intersects")
    owner = np.full(len(faces), -1)
    owner[face[::-1]] = cell[::-1]  # first hit
    clear = owner >= 0
    clear[clear] = shapely.distance(points[clear], shapely.boundary(mine[owner[clear]])) > GRID_SIZE
    for f in np.flatnonzero(~clear).tolist():  # next to an edge: the cell holding most of it
        options = tree.query(faces[f], predicate="intersects")
        share = shapely.area(shapely.intersection(mine[options], faces[f]))
        owner[f] = options[np.argmax(share)] if len(options) else tree.query_nearest(faces[f])[0]
    out = np.array([shapely.Polygon()] * len(mine), dtype=object)
    for c in np.unique(owner).tolist():
        parts = faces[owner == c]
        out[c] = parts[0] if len(parts) == 1 else shapely.coverage_union_all(parts)
    return out


def clip_cells(cells: np.ndarray, block: BaseGeometry, *, clear: bool = False) -> np.ndarray:
    """Return ``cells`` (convex polygons) clipped to ``block`` on the ``GRID_SIZE`` grid.

    Equal, coordinate for coordinate, to the snap-rounding overlay
    ``intersection(cells, block, grid_size=GRID_SIZE)``, which is what cells crossing the
    block's edge get. A cell well inside (more than :data:`CLEAR_M` from the block's edge,
    with no two of its vertices or edges that close) only has its vertices rounded, which is
    all the overlay would do to it (:func:`_rounded_rings`), at a tenth of the cost.
    ``clear``: the caller knows every cell passes :func:`_clear`.
    """
    inner = _well_inside(cells, block) & (shapely.get_num_interior_rings(cells) == 0)
    if not clear:
        inner[inner] = _clear(cells[inner])
    out = np.empty(len(cells), dtype=object)
    out[inner] = _rounded_rings(cells[inner])
    out[~inner] = _overlay(cells[~inner], block)
    return out


def _well_inside(cells: np.ndarray, block: BaseGeometry) -> np.ndarray:
    """Return, per cell, whether it lies inside ``block`` more than :data:`CLEAR_M` from its edge.

    Most cells lie inside the block shrunk by a grid step more (its rounded corners drawn by
    chords 0.1 mm inside the arcs): one prepared test clears them; only the others are measured.
    """
    inner = np.zeros(len(cells), dtype=bool)
    if len(cells) == 0:
        return inner
    core = shapely.buffer(block, -(CLEAR_M + GRID_SIZE))
    if not shapely.is_empty(core):
        shapely.prepare(core)
        inner = shapely.contains_properly(core, cells)
    rest = np.flatnonzero(~inner)
    if len(rest):
        shapely.prepare(block)
        edge = shapely.boundary(block)
        shapely.prepare(edge)
        near = rest[shapely.contains_properly(block, cells[rest])]
        inner[near[~shapely.dwithin(edge, cells[near], CLEAR_M)]] = True
    return inner


def _overlay(cells: np.ndarray, block: BaseGeometry) -> np.ndarray:
    """Return ``cells`` intersected with ``block`` on the grid (cells made :func:`_valid` first
    when GEOS's overlay rejects one)."""
    try:
        return shapely.intersection(cells, block, grid_size=GRID_SIZE)
    except GEOSException:
        return shapely.intersection(_valid(cells), block, grid_size=GRID_SIZE)


def _valid(cells: np.ndarray) -> np.ndarray:
    """Return ``cells`` with each invalid one replaced by its largest polygon. GEOS can draw a
    tiny Voronoi cell of sites centimetres apart with two vertices 1e-13 m apart, a
    self-intersecting ring its overlay rejects (TopologyException)."""
    return _repair(cells, _invalid(cells))


def _invalid(cells: np.ndarray, sure: np.ndarray | None = None) -> np.ndarray:
    """Return the indices of the invalid non-empty ``cells``; ``sure`` marks cells known to be
    valid (strictly convex, see :func:`_clearance`), which GEOS need not check."""
    check = np.ones(len(cells), dtype=bool) if sure is None else ~sure
    check[check] = ~shapely.is_valid(cells[check]) & ~shapely.is_empty(cells[check])
    return np.flatnonzero(check)


def _repair(cells: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Return ``cells`` with the ``bad`` ones replaced by their largest polygon."""
    if len(bad) == 0:
        return cells
    out = cells.copy()
    for i in bad.tolist():
        parts = polygon_parts(shapely.make_valid(cells[i]))
        out[i] = parts[np.argmax(shapely.area(parts))] if len(parts) else shapely.Polygon()
    return out


def _clear(polys: np.ndarray) -> np.ndarray:
    """Return, per polygon without holes, whether each of its vertices lies more than
    :data:`CLEAR_M` from every edge not ending at it (its minimum clearance is larger).

    The same answer as ``shapely.minimum_clearance(polys) > CLEAR_M`` in whole arrays, rings of
    one length at a time; a degenerate edge (a repeated vertex) gives NaN: not clear.
    """
    return _clearance(polys)[0]


def _clearance(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per cell, whether it is a non-empty polygon passing :func:`_clear`, and
    whether it is moreover strictly convex (every turn one way by more than a microradian, one
    full turn in all), hence simple: a valid polygon without asking GEOS."""
    clear = (shapely.get_type_id(cells) == 3) & ~shapely.is_empty(cells)
    convex = clear.copy()
    if clear.any():
        clear[clear], convex[convex] = _clear_convex(cells[clear])
    return clear, convex


def _clear_convex(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`_clear` of ``polys`` (polygons without holes) and, per polygon, whether
    it is clear and strictly convex."""
    xy, ring = shapely.get_coordinates(polys, return_index=True)
    counts = np.bincount(ring, minlength=len(polys))
    start = np.cumsum(counts) - counts
    out = np.zeros(len(polys), dtype=bool)
    convex = np.zeros(len(polys), dtype=bool)
    for k in np.unique(counts[counts >= 4]).tolist():  # closed rings of k-1 vertices
        rows = np.flatnonzero(counts == k)
        at = start[rows, None] + np.arange(k)
        x, y = xy[at, 0], xy[at, 1]
        out[rows] = _gaps(x, y).min(axis=(1, 2)) > CLEAR_M**2
        convex[rows] = out[rows] & _strictly_convex(x, y)
    return out, convex


def _gaps(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the squared distance from each vertex ``i`` to each edge ``j`` of closed rings
    (arrays of rings × k vertices, first = last) as rings × i × j, inf for the edges ending
    at ``i``. Written in place: a few full-size arrays instead of a dozen."""
    ax, ay = x[:, None, :-1], y[:, None, :-1]  # edge j from (ax, ay) …
    dx, dy = x[:, None, 1:] - ax, y[:, None, 1:] - ay  # … by (dx, dy)
    wx, wy = x[:, :-1, None] - ax, y[:, :-1, None] - ay  # vertex i - its start
    t = wx * dx
    t += wy * dy
    t /= dx * dx + dy * dy
    np.clip(t, 0.0, 1.0, out=t)
    gap = t * dx
    np.subtract(wx, gap, out=gap)
    gap *= gap
    np.multiply(t, dy, out=t)
    np.subtract(wy, t, out=t)
    t *= t
    gap += t
    v = np.arange(x.shape[1] - 1)
    gap[:, v, v] = np.inf  # the edges ending at vertex i: i-1 and i
    gap[:, v, v - 1] = np.inf
    return gap


def _strictly_convex(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return, per closed ring (arrays of rings × k vertices, first = last), whether every
    turn goes the same way with a sine over 1e-6 and the turns add up to one full turn: a
    simple, strictly convex ring (float error is far below that margin on edges that long)."""
    ex, ey = np.diff(x, axis=1), np.diff(y, axis=1)
    fx = np.concatenate([ex[:, 1:], ex[:, :1]], axis=1)  # the edge after each
    fy = np.concatenate([ey[:, 1:], ey[:, :1]], axis=1)
    cross = ex * fy - ey * fx
    dot = ex * fx + ey * fy
    length = np.hypot(ex, ey)
    sine = cross / (length * np.concatenate([length[:, 1:], length[:, :1]], axis=1))
    one_way = (sine > 1e-6).all(axis=1) | (sine < -1e-6).all(axis=1)
    turned = np.abs(np.arctan2(cross, dot).sum(axis=1))
    return one_way & (np.abs(turned - 2 * np.pi) < 1e-6)


def _rounded_rings(polys: np.ndarray) -> np.ndarray:
    """Return ``polys`` (polygons without holes) with their vertices on the grid, as the
    overlay writes them: rounded half up like GEOS, the ring clockwise and starting at its
    second vertex."""
    if len(polys) == 0:
        return np.empty(0, dtype=object)
    raw, ring = shapely.get_coordinates(polys, return_index=True)
    scaled = raw * (1 / GRID_SIZE)
    whole = np.trunc(scaled)
    frac = np.abs(scaled - whole)
    up = np.where(frac < 0.5, whole, whole + np.sign(scaled))
    xy = np.where(frac == 0.5, np.ceil(scaled), up) / (1 / GRID_SIZE)
    counts = np.bincount(ring, minlength=len(polys))
    start = (np.cumsum(counts) - counts)[ring]
    step = (np.arange(len(xy)) - start + 1) % (counts[ring] - 1)  # v0 … v0 → v1 … v0 v1
    ccw = (_signed_areas(raw, ring, len(polys)) > 0)[ring]
    shifted = start + np.where(ccw, counts[ring] - 1 - step, step)  # reversed: v(k-2) … v(k-2)
    offsets = np.concatenate([[0], np.cumsum(counts)])  # one ring a polygon
    return np.asarray(
        shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, xy[shifted], (offsets, np.arange(len(polys) + 1))
        )
    )


def _signed_areas(xy: np.ndarray, ring: np.ndarray, n: int) -> np.ndarray:
    """Return twice the signed area of each of ``n`` closed rings (coordinates ``xy``, ring
    ``ring`` of each, in order): positive when counter-clockwise. Relative to each ring's first
    vertex, so metric coordinates lose no precision; the orientation of a ring whose vertices
    all stand clear of its edges (:func:`_clear`), as ``shapely.is_ccw`` gives it."""
    counts = np.bincount(ring, minlength=n)
    local = xy - xy[(np.cumsum(counts) - counts)[ring]]
    cross = local[:-1, 0] * local[1:, 1] - local[1:, 0] * local[:-1, 1]
    same = ring[:-1] == ring[1:]  # consecutive vertices of one ring: an edge
    return np.bincount(ring[:-1][same], weights=cross[same], minlength=n)


def _dissolve(cells: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Return the union of the cells of each owner 0…n-1 (``owner`` sorted; cells a coverage)."""
    rank = np.arange(len(owner)) - np.searchsorted(owner, owner)
    table = np.full((n, int(rank.max()) + 1), None, dtype=object)
    table[owner, rank] = cells
    try:
        merged = np.asarray(shapely.coverage_union_all(table, axis=1), dtype=object)
        bad = np.flatnonzero(~shapely.is_valid(merged) | shapely.is_empty(merged))
    except GEOSException:  # snapping left the cells no clean coverage: overlay them all
        merged, bad = np.empty(n, dtype=object), np.arange(n)
    for a in bad:  # not a clean coverage after all: overlay
        merged[a] = shapely.union_all(table[a], grid_size=GRID_SIZE)
    return merged


def heal(cells: np.ndarray, sites: np.ndarray | Callable[[], np.ndarray]) -> np.ndarray:
    """Give detached pieces of each cell to the neighbour sharing the longest edge.

    The piece of cell ``i`` that ``sites[i]`` touches (within a grid step) stays; the one
    holding most of them when several do, its largest when none does. ``sites`` may be a
    function returning them, called only when some cell is in pieces.
    """
    parts, owner = shapely.get_parts(cells, return_index=True)
    solid = shapely.area(parts) > 0
    parts, owner = parts[solid], owner[solid]
    if np.array_equal(owner, np.arange(len(cells))):
        return parts  # one polygon a cell (slivers of line or point dropped)
    if callable(sites):
        sites = sites()
    keep = np.full(len(parts), -1)
    for c in range(len(cells)):
        mine = np.flatnonzero(owner == c)
        if len(mine) == 0:
            continue
        hit = mine[shapely.dwithin(parts[mine], sites[c], GRID_SIZE)]  # within the snapping
        if len(hit) > 1:  # sites on several parts: the part holding most of them
            held = shapely.get_num_geometries(shapely.intersection(parts[hit], sites[c]))
            hit = hit[np.argsort(-held, kind="stable")]
        keep[hit[0] if len(hit) else mine[np.argmax(shapely.area(parts[mine]))]] = c
    pending = np.flatnonzero(keep < 0)
    while len(pending):
        progress = False
        for p in pending:
            assigned = np.flatnonzero(keep >= 0)
            lengths = shared_lengths(np.repeat(parts[p], len(assigned)), parts[assigned])
            if lengths.max(initial=0.0) > 0:
                keep[p] = keep[assigned[np.argmax(lengths)]]
                progress = True
        pending = np.flatnonzero(keep < 0)
        if not progress:
            keep[pending] = owner[pending]  # touches nothing: stays with its cell
            break
    out = np.array([shapely.Polygon()] * len(cells), dtype=object)
    count = np.bincount(keep, minlength=len(cells))
    single = np.flatnonzero(count[keep] == 1)
    out[keep[single]] = parts[single]
    for m in np.flatnonzero(count > 1):
        out[m] = shapely.union_all(parts[keep == m], grid_size=GRID_SIZE)
    return out


def tessellate(
    outline: BaseGeometry,
    xy: np.ndarray,
    barriers: np.ndarray | None,
    soft: np.ndarray | None = None,
    *,
    members: tuple[np.ndarray, np.ndarray] | None = None,
) -> Territory:
    """Tessellate ``outline`` into one cell per point of ``xy`` (metres), never across barriers.

    ``soft`` lines cut cells too (so grids can follow them) but are no barriers: their pieces
    are labelled in ``cell_soft``, while ``cell_block`` keeps the barrier blocks. ``members``
    (household points, index into ``xy`` of each) makes each cell the union of its households'
    Voronoi cells, across soft lines too, so every household lies in its own atom's cell (a
    unit straddling a barrier reaches across it; its cell keeps the block most of it is in).
    """
    hard = blocks(outline, barriers)
    tree = shapely.STRtree(hard)
    block_of = _block_of(tree, xy)
    if members is None:
        sites, owner, site_block = xy, np.arange(len(xy)), block_of
    else:  # an atom's households, not its mean point, decide where its cell lies
        sites, owner = members
        site_block = _block_of(tree, sites)
        block_of = _majority(owner, site_block, block_of)
        bare = np.setdiff1d(np.arange(len(xy)), owner)  # atoms without households
        sites = np.concatenate([sites, xy[bare]])
        owner = np.concatenate([owner, bare])
        site_block = np.concatenate([site_block, block_of[bare]])
    cells = np.empty(len(xy), dtype=object)
    orphans = []
    for b in range(len(hard)):
        mine = np.flatnonzero(site_block == b)
        if len(mine) == 0:
            orphans.append(b)
            continue
        atoms, local = np.unique(owner[mine], return_inverse=True)
        for a, cell in zip(atoms, _cells_in_block(hard[b], sites[mine], local), strict=True):
            # a unit straddling a barrier reaches across it to its households on the far side
            cells[a] = (
                cell if cells[a] is None else shapely.union(cells[a], cell, grid_size=GRID_SIZE)
            )
    if len(hard) > 1:
        cells = _match_across(cells, hard)
    empty = np.array([hard[b] for b in orphans], dtype=object)
    territory = assemble(cells, block_of, empty, np.array(orphans, dtype=np.int64), hard)
    return cut_soft_lines(territory, outline, barriers, soft, sites, owner)


def crossed_vertices(xy: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Return the index of each vertex of ``xy`` once per line of ``lines`` crossing its grid
    square (it was rounded from a point on that line), not merely passing near it; each line
    is tested (prepared) on the squares in its box."""
    half = GRID_SIZE / 2
    x, y = xy[:, 0], xy[:, 1]
    pixels = shapely.box(x - half, y - half, x + half, y + half)
    return shapely.STRtree(pixels).query(lines, predicate="intersects")[1]


def _match_across(cells: np.ndarray, hard: np.ndarray) -> np.ndarray:
    """Return ``cells`` with the edges they run along where two blocks meet drawn through the
    same vertices on both sides.

    Each block's cells are snapped to the grid on their own: where a cell crosses a slanted
    edge between blocks (a road) the crossing is rounded off the edge, and the cell's edge from
    it to the block's next vertex (the far end of a long road) follows it; the cells across
    never see that vertex, so the two sides overlapped in slivers (grids across a 326 m road
    by 1.6 m²). Every vertex of a cell on two blocks' outlines (they cross its grid cell: it
    was rounded from a point on them) is snapped into the edges of cells running along the
    outlines beside it, so both sides bend alike.
    """
    valid = np.flatnonzero(~shapely.is_empty(cells) & (shapely.get_type_id(cells) >= 3))
    if len(valid) == 0:
        return cells
    xy = shapely.get_coordinates(cells[valid])
    unique = np.unique(xy[:, 0] + 1j * xy[:, 1])
    # not merely near one: a vertex of one block's cells 1.8 cm off the road, snapped into the
    # cells across, made them overlap by 0.7 m²
    near = crossed_vertices(np.column_stack([unique.real, unique.imag]), shapely.boundary(hard))
    shared = np.bincount(near, minlength=len(unique)) > 1  # on two blocks' outlines
    if not shared.any():
        return cells
    # a cell takes the targets beside its edges along the road (both ends shared) and between
    # their ends: one just past an edge's end went into the cell's inner edge there instead,
    # and two cells of a block overlapped by 0.9 m²
    rings, ring_cell = shapely.get_parts(shapely.boundary(cells[valid]), return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    on = np.isin(xy[:, 0] + 1j * xy[:, 1], unique[shared])
    edge = np.flatnonzero((ring[:-1] == ring[1:]) & on[:-1] & on[1:])
    p, d = xy[edge], xy[edge + 1] - xy[edge]
    ref = np.column_stack([unique.real, unique.imag])[shared]
    lines = shapely.linestrings(np.stack([p, p + d], axis=1))
    e, at = shapely.STRtree(np.asarray(shapely.points(ref), dtype=object)).query(
        lines, predicate="dwithin", distance=CLEAR_M
    )
    t = np.einsum("ij,ij->i", ref[at] - p[e], d[e])
    between = (t > 0) & (t < np.einsum("ij,ij->i", d[e], d[e]))
    pair = np.unique(np.column_stack([ring_cell[ring[edge[e[between]]]], at[between]]), axis=0)
    if len(pair) == 0:
        return cells
    mine, cell = np.unique(valid[pair[:, 0]], return_inverse=True)
    targets = shapely.multipoints(ref[pair[:, 1]], indices=cell)
    snapped = shapely.snap(cells[mine], targets, CLEAR_M)
    # most cells already run through every target near them: only the others change
    moved = ~shapely.equals_exact(snapped, cells[mine], tolerance=0.0)
    mine, snapped = mine[moved], snapped[moved]
    ok = shapely.is_valid(snapped)  # a snap folding a cell: left as it was
    out = cells.copy()
    out[mine[ok]] = snapped[ok]
    return _unless_overlapping(cells, out, mine[ok])


def _unless_overlapping(before: np.ndarray, after: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Return ``after`` with the cells of every pair that overlaps more than in ``before``
    put back as they were (repeated until none does).

    Snapping is per cell: a target between two cells of one block (a vertex of the cells across
    the road, 1 cm from their shared corner) may join one cell's inner edge and the other's
    outer one, and the two then overlap.
    """
    out = after.copy()
    moved = np.asarray(changed, dtype=np.int64)
    snapped = np.zeros(len(out), dtype=bool)
    snapped[moved] = True
    while len(moved):
        a, b = shapely.STRtree(out).query(out[moved], predicate="intersects")
        a = moved[a]
        is_moved = np.zeros(len(out), dtype=bool)
        is_moved[moved] = True
        pair = (a != b) & ~(is_moved[b] & (b < a))  # each pair once
        a, b = a[pair], b[pair]
        # cells that only touch overlap by nothing, now or before (a relate, not an overlay)
        inner = ~shapely.touches(out[a], out[b])
        a, b = a[inner], b[inner]
        now = shapely.area(shapely.intersection(out[a], out[b]))
        worse = now > 1e-9  # the least it takes to overlap more than before
        worse[worse] = (
            now[worse]
            > shapely.area(shapely.intersection(before[a[worse]], before[b[worse]])) + 1e-9
        )
        back = np.unique(np.r_[a[worse], b[worse]])
        back = back[snapped[back]]
        snapped[back] = False
        out[back] = before[back]
        moved = back
    return out


def assemble(
    cells: np.ndarray,
    block_of: np.ndarray,
    orphans: np.ndarray,
    orphan_block: np.ndarray,
    hard: np.ndarray,
) -> Territory:
    """Return the territory of atoms 0…n-1 before soft lines cut it."""
    return Territory(
        atoms=np.arange(len(cells)),
        cells=cells,
        cell_block=block_of,
        orphans=orphans,
        orphan_block=orphan_block,
        blocks=hard,
        cell_soft=block_of,
        orphan_soft=orphan_block,
    )


def cut_soft_lines(
    territory: Territory,
    outline: BaseGeometry,
    barriers: np.ndarray | None,
    soft: np.ndarray | None,
    sites: np.ndarray,
    owner: np.ndarray,
) -> Territory:
    """Return ``territory`` cut along ``soft`` lines (unchanged without any)."""
    if soft is None or len(soft) == 0:
        return territory
    lines = np.concatenate([np.asarray([] if barriers is None else barriers, dtype=object), soft])
    return _cut_soft(territory, blocks(outline, lines), sites, owner)


def _majority(owner: np.ndarray, block: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Return per atom the block holding most of its points (``default`` for atoms without).

    Ties go to the lowest block number.
    """
    out = default.copy()
    if len(owner) == 0:
        return out
    low = int(block.min())
    span = int(block.max()) - low + 1
    key, votes = np.unique(owner.astype(np.int64) * span + (block - low), return_counts=True)
    pairs = np.column_stack([key // span, key % span + low])  # by atom, then block
    order = np.lexsort((pairs[:, 1], -votes, pairs[:, 0]))  # by atom, most votes first
    pairs = pairs[order]
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    out[pairs[first, 0]] = pairs[first, 1]
    return out


def _cut_soft(terr: Territory, fine: np.ndarray, sites: np.ndarray, owner: np.ndarray) -> Territory:
    """Cut ``terr`` along soft lines (``fine`` blocks) so grids can follow them.

    Pieces of a cell holding none of its sites become orphans (unless the cell would fall
    apart), so no household is ever left outside its atom's cell.
    """
    shapes = np.concatenate([terr.cells, terr.orphans])
    shape_i, fine_i = shapely.STRtree(fine).query(shapes, predicate="intersects")
    cut = shapely.intersection(shapes[shape_i], fine[fine_i], grid_size=GRID_SIZE)
    parts, which = shapely.get_parts(cut, return_index=True)
    solid = shapely.area(parts) > 0
    parts, shape_i, fine_i = parts[solid], shape_i[which[solid]], fine_i[which[solid]]
    n = len(terr.cells)
    held = np.zeros(len(parts), dtype=bool)
    order = np.argsort(owner, kind="stable")
    atom_sites = np.asarray(shapely.multipoints(sites[order], indices=owner[order]), dtype=object)
    mine = shape_i < n
    held[mine] = shapely.intersects(parts[mine], atom_sites[shape_i[mine]])
    lost = np.setdiff1d(np.arange(n), shape_i[held])  # sites on a cut: keep the largest part
    for a in lost:
        options = np.flatnonzero(shape_i == a)
        held[options[np.argmax(shapely.area(parts[options]))]] = True
    cells = np.array(
        [shapely.union_all(parts[held & (shape_i == a)], grid_size=GRID_SIZE) for a in range(n)],
        dtype=object,
    )
    split = np.flatnonzero(shapely.get_num_geometries(cells) > 1)
    held[np.isin(shape_i, split)] = True  # a cell the cut would break stays whole
    cells[split] = terr.cells[split]
    site_fine = _block_of(shapely.STRtree(fine), sites)
    free = np.flatnonzero(~held)
    hard_of = np.concatenate([terr.cell_block, terr.orphan_block])
    return Territory(
        atoms=terr.atoms,
        cells=cells,
        cell_block=terr.cell_block,
        orphans=parts[free],
        orphan_block=hard_of[shape_i[free]],
        blocks=terr.blocks,
        cell_soft=_majority(owner, site_fine, np.full(n, -1))[terr.atoms],
        orphan_soft=fine_i[free],
    )


def attach_orphans(
    grids: list[BaseGeometry], orphans: np.ndarray
) -> tuple[list[BaseGeometry], list[int]]:
    """Join each orphan piece to the grid sharing its longest edge; return grids and leftovers.

    Leftovers (indices into ``orphans``) touch no grid, not even through other orphans.
    """
    grids = list(grids)
    pending = list(range(len(orphans)))
    while pending:
        tree = shapely.STRtree(np.array(grids, dtype=object))
        left = []
        for o in pending:
            near = tree.query(orphans[o], predicate="intersects")
            lengths = shared_lengths(np.repeat(orphans[o], len(near)), np.array(grids)[near])
            if len(near) and lengths.max() > 0:
                g = int(near[np.argmax(lengths)])
                grids[g] = shapely.union_all([grids[g], orphans[o]], grid_size=GRID_SIZE)
            else:
                left.append(o)
        if len(left) == len(pending):
            return grids, left
        pending = left
    return grids, []
