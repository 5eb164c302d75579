"""Share empty blocks (road strips, the ring inside a compound wall) among the grids around them.

An empty block attached whole to one grid gives it a long, thin appendage (Polsby–Popper 0.06 on
禹都). Here each empty cell is cut only along lines inside it — the Voronoi edges between points
sampled on its borders with inhabited cells — and each piece goes to the grid of the inhabited
cell it borders. A cut is kept only when it raises the least Polsby–Popper of the grids
involved. The grids of the cell's own region cut it first; where inhabited cells of another
region border it too (empty land around compounds joins the region of one of them, whose grids
alone cut it: one took the strip along the other compounds' walls, Polsby–Popper 0.056 on the 1M
city), the cut among all of them is kept if it beats that one. Such a grid takes only land along
its own cells, across the one line it borders; the engine gets barriers as lines without their
kind, so a road is not told from a wall here (on the 1M city every such border is a compound
wall). The report's barrier crossings count the blocks of a grid's households, so empty land
changes none; :func:`~.check.check_partition` sees one connected polygon per grid, as before.
Where a grid left in more than one piece only lost touch with whole empty cells of its own (a
yard reached through the ring now shared), those go to the neighbour they border; where its
inhabited cells met only through the cut cell, it takes the neighbours' shares that link them
(the arc of the ring between its units) if that is more compact than undoing the cut; otherwise
cuts are undone (the last first, one at a time) while some grid is in pieces, and a cut across
regions undone so gives way to its region's own cut (see :func:`_settle`). The polygons drawn
meet vertex for vertex around empty cells (see :func:`_matched`, :func:`_noded`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from .coverage import SNAP_M, Borders, union_cells, union_groups
from .graph import groups
from .territory import CLEAR_M, GRID_SIZE, crossed_vertices, heal, shared_lengths, unique_points

__all__ = ["share_empties"]

SAMPLE_M = 4.0  # spacing of the border points whose Voronoi cells cut an empty cell
MIN_BORDER_M = 1.0  # shorter common borders do not claim a share (also m² of area slack)
JITTER_M = 0.001


def _shares(
    cell: BaseGeometry, borders: list[tuple[int, BaseGeometry]]
) -> dict[int, BaseGeometry] | None:
    """Cut ``cell`` among the grids of ``borders`` (grid, common border); None if it cannot."""
    pts, owner = [], []
    for grid, line in borders:
        coords = shapely.get_coordinates(shapely.segmentize(line, SAMPLE_M))
        pts.append(coords)
        owner += [grid] * len(coords)
    xy = np.round(np.concatenate(pts), 2)
    xy, first = unique_points(xy)[:2]
    who = np.asarray(owner)[first]
    if len(set(who.tolist())) < 2:
        return None
    # a fixed millimetre jitter: GEOS returns overlapping cells for co-circular sites
    sites = xy + np.random.default_rng(0).uniform(-JITTER_M, JITTER_M, xy.shape)
    regions = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=cell)
    )
    regions = regions[shapely.get_type_id(regions) == 3]
    site, hit = shapely.STRtree(regions).query(shapely.points(sites), predicate="intersects")
    if len(site) != len(xy) or len(np.unique(hit)) != len(regions):
        return None  # a site on a cell edge or a cell without a site: do not guess
    regions = regions[hit[np.argsort(site)]]
    grids = sorted(set(who.tolist()))
    # Voronoi regions match edge for edge: merge each grid's first, then clip once per grid
    merged = union_groups(regions, [np.flatnonzero(who == grid) for grid in grids])
    pieces = shapely.intersection(merged, cell, grid_size=GRID_SIZE)
    # snapping the clip to the grid moves each edge by under a grid step: a sliver along the
    # cell's boundary (≈ 2 m² along the 2.6 km of a ring around two compounds), not a gap
    slack = MIN_BORDER_M + GRID_SIZE * float(shapely.length(cell))
    if abs(float(shapely.area(pieces).sum()) - float(shapely.area(cell))) > slack:
        return None  # the pieces would overlap or leave a gap
    # where the cell also borders grids of another region, a grid's Voronoi share can fall
    # apart (a ring around two compounds): parts off its own border go to the neighbour piece
    pieces = heal(  # each grid's border, drawn only if some share fell apart
        pieces, lambda: np.array([_border_of(grid, borders) for grid in grids], dtype=object)
    )
    if len(pieces) != len(grids):
        return None
    return dict(zip(grids, pieces, strict=True))


def _border_of(grid: int, borders: list[tuple[int, BaseGeometry]]) -> BaseGeometry:
    parts = np.concatenate([shapely.get_parts(line) for g, line in borders if g == grid])
    return shapely.multilinestrings(parts[shapely.get_type_id(parts) == 1])


def share_empties(
    parts: list[np.ndarray],
    cells: np.ndarray,
    empty: np.ndarray,
    region: np.ndarray,
    nbrs: list[dict[int, float]],
    *,
    lines: Borders | None = None,
) -> tuple[list[BaseGeometry], dict[int, dict[int, BaseGeometry]]]:
    """Return each part's polygon, the ``empty`` cells shared among the parts around them, and
    the cuts: empty cell → {part: its piece} (a cell cut is no longer whole in its part).

    ``parts`` index ``cells``; ``region`` labels each cell's region; an empty cell is shared
    among the parts of its own region whose inhabited cells border it, or among all parts whose
    inhabited cells border it where that leaves them more compact (see the module). ``lines``
    (the cells' borders, see :func:`~.coverage.borders`) saves intersecting each pair's
    boundaries again.
    """
    if not empty.any():  # nothing to share: each part is its cells
        return list(union_groups(cells, parts)), {}
    owner = np.full(len(cells), -1)
    for i, p in enumerate(parts):
        owner[p] = i
    cells = _matched(cells, empty, nbrs)
    grids = _Grids(parts, cells)
    row_of = lines.rows() if lines is not None and empty.any() else {}
    shared: dict[int, dict[int, BaseGeometry]] = {}
    bordered: dict[int, list[tuple[int, BaseGeometry]]] = {}  # each cut cell's borders
    fallback: dict[int, tuple[dict[int, BaseGeometry], list[tuple[int, BaseGeometry]]]] = {}
    for x in np.flatnonzero(empty & (owner >= 0)).tolist():
        home = int(owner[x])
        near = sorted(y for y in nbrs[x] if not empty[y] and owner[y] >= 0)
        mine = [y for y in near if region[y] == region[x]]
        kept: list[tuple[dict[int, BaseGeometry], list[tuple[int, BaseGeometry]]]] = []
        for among in (mine, near) if len(mine) < len(near) else (mine,):
            if len({int(owner[y]) for y in among}) < 2:
                continue
            borders = _borders(x, among, owner, cells, lines, row_of)
            cut = _shares(cells[x], borders) if borders else None
            if cut is not None and _helps(x, cut, home, grids, kept[-1][0] if kept else None):
                kept.append((cut, borders))
        if kept:
            shared[x], bordered[x] = kept.pop()
        if kept:
            fallback[x] = kept.pop()  # its own region's cut, should the wider one be undone
    while True:  # a cut across a wall that the settling undid gives way to its region's own
        trial, trial_borders = dict(shared), dict(bordered)
        geoms, given = _settle(
            _Level(parts, cells, empty, region, nbrs, owner, grids), trial, trial_borders
        )
        undone = [x for x in fallback if x not in trial]
        if not undone:
            return _noded(geoms, cells, trial), given
        for x in undone:
            shared[x], bordered[x] = fallback.pop(x)


@dataclass(frozen=True, slots=True)
class _Level:
    """What :func:`share_empties` settles the cuts of a level with (see there): the parts,
    the cells (empty ones drawn through their neighbours' vertices), which are empty, their
    regions, neighbours and parts, and the parts' polygons as cells move."""

    parts: list[np.ndarray]
    cells: np.ndarray
    empty: np.ndarray
    region: np.ndarray
    nbrs: list[dict[int, float]]
    owner: np.ndarray
    grids: _Grids


def _settle(
    level: _Level,
    shared: dict[int, dict[int, BaseGeometry]],
    bordered: dict[int, list[tuple[int, BaseGeometry]]],
) -> tuple[list[BaseGeometry], dict[int, dict[int, BaseGeometry]]]:
    """Return each part's polygon with the cuts ``shared`` (cut cell → its borders in
    ``bordered``), rehomed, bridged or undone (in place) until no part is in pieces or nothing
    is left to undo, and the cells given out (cut, or moved whole); see :func:`share_empties`."""
    parts, cells, empty, region = level.parts, level.cells, level.empty, level.region
    nbrs, owner, grids = level.nbrs, level.owner, level.grids
    moved: dict[int, int] = {}  # whole empty cell → the part it went to (see _rehome)
    bridged: set[int] = set()  # parts joined through others' shares, each once (see _bridge)
    while True:
        given = shared | {x: {j: cells[x]} for x, j in moved.items()}
        geoms = _polygons(parts, given, grids)
        broken = [i for i, g in enumerate(geoms) if shapely.get_type_id(g) != 3]
        if not broken:
            return geoms, given
        if _rehome(broken, geoms, parts, cells, empty, region, nbrs, given, moved):
            continue
        if _bridge(broken, geoms, parts, cells, empty, owner, shared, grids, bridged, bordered):
            moved.clear()
            continue
        undo = [x for x, cut in shared.items() if any(i in cut for i in broken)]
        undo += [x for x in shared if int(owner[x]) in broken]
        if not undo:
            return geoms, given
        del shared[_undo_first(undo, broken, parts, owner, shared, grids)]  # one at a time
        moved.clear()  # the pieces changed: what hangs off them is judged again


def _undo_first(
    undo: list[int],
    broken: list[int],
    parts: list[np.ndarray],
    owner: np.ndarray,
    shared: dict[int, dict[int, BaseGeometry]],
    grids: _Grids,
) -> int:
    """Return the cut cell of ``undo`` to undo first: of those whose undoing leaves some broken
    part in fewer pieces, the one leaving the parts it involves the highest least Polsby–Popper
    (a good share of a cell bordering many parts is not undone for a far one's sake); else the
    last. The others may stand without it: :func:`share_empties` looks again after each undo.
    """
    best, first = -1.0, max(undo)
    for x in sorted(set(undo)):
        involved = sorted({int(owner[x]), *shared[x]})
        trial = {y: cut for y, cut in shared.items() if y != x}
        before = _polygons(parts, shared, grids, involved)
        after = _polygons(parts, trial, grids, involved)
        if any(
            shapely.get_num_geometries(a) < shapely.get_num_geometries(b)
            for i, a, b in zip(involved, after, before, strict=True)
            if i in broken
        ):
            pp = min(_pp(g) for g in after)
            if pp > best:
                best, first = pp, x
    return first


def _matched(cells: np.ndarray, empty: np.ndarray, nbrs: list[dict[int, float]]) -> np.ndarray:
    """Return ``cells`` with each empty cell drawn through its neighbours' vertices on its edge.

    An empty block stays whole in the tessellation: where a cell across the road from it
    crosses the road at a point rounded off it, the cell bends into the block (the village's
    grids overlapped by 0.056 m²); the block now bends alike. Matching here, for the polygons
    drawn, and not in the tessellation leaves the plan as it was: the block's extra vertices
    would move its border lengths, and so the plan. (Block corners come from the same noded
    barriers on both sides, so a cell needs no vertex of the block's.)
    """
    ids = np.flatnonzero(empty)
    near = sorted({y for x in ids.tolist() for y in nbrs[x] if not empty[y]})
    if not near:
        return cells
    return _snapped(cells, ids, unique_points(shapely.get_coordinates(cells[near]))[0])


def _noded(
    geoms: list[BaseGeometry], cells: np.ndarray, shared: dict[int, dict[int, BaseGeometry]]
) -> list[BaseGeometry]:
    """Return ``geoms`` with the parts around each cut cell drawn through the same vertices.

    A share is clipped on the grid, so where a cut meets the cell's edge its end is rounded
    off the edge, and the share's edge from it to the cell's next vertex bends into the part
    across, which runs straight (禹都's grids overlapped by 0.27 m²): the parts there take
    each other's vertices.
    """
    if not shared:
        return geoms
    polys = np.array(geoms, dtype=object)
    edges = shapely.boundary(np.array([cells[x] for x in sorted(shared)], dtype=object))
    around = np.unique(
        shapely.STRtree(polys).query(edges, predicate="dwithin", distance=CLEAR_M)[1]
    )
    xy = unique_points(shapely.get_coordinates(polys[around]))[0]
    # only vertices on an edge (it crosses their grid square: they were rounded from a point
    # on it): one 1–2 cm off the edge, snapped into the part across, made them overlap
    on = np.unique(crossed_vertices(xy, edges))
    return list(_snapped(polys, around, xy[on]))


def _snapped(geoms: np.ndarray, ids: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Return ``geoms`` with each of ``geoms[ids]`` snapped to the points ``xy`` within
    :data:`~.territory.CLEAR_M` of its edges (a snap folding one leaves it as it was)."""
    points = np.asarray(shapely.points(xy), dtype=object)
    g, at = shapely.STRtree(points).query(
        shapely.boundary(geoms[ids]), predicate="dwithin", distance=CLEAR_M
    )
    if not len(g):
        return geoms
    hit, group = np.unique(g, return_inverse=True)  # query answers in order of geometry
    targets = shapely.multipoints(xy[at], indices=group)  # one group of points each
    which = ids[hit]
    snapped = shapely.snap(geoms[which], targets, CLEAR_M)
    moved = ~shapely.equals_exact(snapped, geoms[which], tolerance=0.0)
    ok = moved & shapely.is_valid(snapped)
    out = geoms.copy()
    out[which[ok]] = snapped[ok]
    return out


def _rehome(
    broken: list[int],
    geoms: list[BaseGeometry],
    parts: list[np.ndarray],
    cells: np.ndarray,
    empty: np.ndarray,
    region: np.ndarray,
    nbrs: list[dict[int, float]],
    given: dict[int, dict[int, BaseGeometry]],
    moved: dict[int, int],
) -> bool:
    """Move whole empty cells cut off from their broken part to a neighbouring part.

    An empty block that reaches its part only through an empty cell now shared (a ring around
    compounds) hangs on the share of some other part. Each connected group of such cells goes
    to the part of its region it borders whose Polsby–Popper stays highest with it; ``moved``
    records where. Return True if any cell moved.
    """
    done = False
    for i in broken:
        p = parts[i]
        pieces, held = _held(geoms[i], p, cells, empty)
        if len(held) != 1:
            continue  # no inhabited body, or it fell apart itself (see _bridge)
        main = pieces[held[0]]
        loose = [x for x in p[empty[p]].tolist() if x not in given and x not in moved]
        loose = [x for x in loose if not shapely.within(shapely.point_on_surface(cells[x]), main)]
        for group in groups(loose, nbrs):
            j = _host(group, i, geoms, parts, cells, region)
            if j is not None:
                moved.update(dict.fromkeys(group, j))
                done = True
    return done


def _held(
    geom: BaseGeometry, part: np.ndarray, cells: np.ndarray, empty: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """Return the pieces of a part's polygon ``geom`` and which of them hold its inhabited
    cells (of ``part``)."""
    pieces = shapely.get_parts(geom)
    lived = part[~empty[part]]
    if not len(lived):
        return pieces, []
    body = shapely.STRtree(pieces).query(shapely.point_on_surface(cells[lived]), predicate="within")
    return pieces, sorted(set(body[1].tolist()))


def _bridge(
    broken: list[int],
    geoms: list[BaseGeometry],
    parts: list[np.ndarray],
    cells: np.ndarray,
    empty: np.ndarray,
    owner: np.ndarray,
    shared: dict[int, dict[int, BaseGeometry]],
    grids: _Grids,
    bridged: set[int],
    bordered: dict[int, list[tuple[int, BaseGeometry]]],
) -> bool:
    """Join a broken part's inhabited pieces through other parts' shares of a cut cell.

    A part whose inhabited cells meet only through an empty cell (two units on a ring around a
    compound) falls apart when the cell is shared. Rather than leave it the whole ring, it takes
    either the fewest shares of the cell's other parts that link its pieces (the arc of the ring
    between its units; their parts keep their own cells), or a corridor (see :func:`_corridor`),
    whichever leaves the parts involved the higher least Polsby–Popper, and only if that is
    higher than what undoing those cuts leaves (``bordered``: each cut cell's borders). A part
    is joined so at most once (in ``bridged``): the part it took a share from may fall apart in
    turn, and taking it back would go round for ever. Return True if any share moved.
    """
    done = False
    for i in broken:
        if i in bridged:
            continue
        p = parts[i]
        pieces, need = _held(geoms[i], p, cells, empty)
        if len(need) < 2:
            continue  # the inhabited cells hold together: whole cells hang off (_rehome)
        options = [
            (trial, {x}, True)
            for x in sorted(shared)
            if (x in p or i in shared[x])
            and (trial := _corridor(i, x, cells[x], bordered[x], pieces[need], shared)) is not None
        ]
        arc = _arc(i, p, pieces, need, shared)
        if arc is not None:
            options.append((*arc, False))
        best = None
        for trial, xs, corridor in options:
            involved = sorted(
                {i} | {j for x in xs for j in (*shared[x], *trial[x])} | {int(owner[x]) for x in xs}
            )
            after = _polygons(parts, trial, grids, involved)
            if corridor and shapely.get_type_id(after[involved.index(i)]) != 3:
                continue  # the corridor did not join it
            undone = {x: c for x, c in shared.items() if x not in xs}
            pp = min(_pp(g) for g in after)
            if pp > min(_pp(g) for g in _polygons(parts, undone, grids, involved)) and (
                best is None or pp > best[0]
            ):
                best = (pp, trial)
        if best is not None:
            shared.update(best[1])
            bridged.add(i)
            done = True
    return done


def _arc(
    i: int,
    p: np.ndarray,
    pieces: np.ndarray,
    need: list[int],
    shared: dict[int, dict[int, BaseGeometry]],
) -> tuple[dict[int, dict[int, BaseGeometry]], set[int]] | None:
    """Return ``shared`` with part ``i`` (cells ``p``, its polygon's ``pieces``, those holding
    its inhabited cells ``need``) given the fewest other parts' shares of the cells it gave or
    got that link its pieces, and those cells; None if none link them."""
    # nodes: the part's pieces, then the other parts' shares of the cells it gave or got
    links = [(x, j) for x in sorted(shared) for j in sorted(shared[x]) if j != i]
    links = [(x, j) for x, j in links if i in shared[x] or x in p]
    nodes = np.concatenate([pieces, np.array([shared[x][j] for x, j in links], dtype=object)])
    a, b = shapely.STRtree(nodes).query(nodes, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    touch = shared_lengths(nodes[a], nodes[b]) > MIN_BORDER_M
    adj: dict[int, list[int]] = {}
    for u, v in zip(a[touch].tolist(), b[touch].tolist(), strict=True):
        adj.setdefault(u, []).append(v)
        adj.setdefault(v, []).append(u)
    take = _path(need, len(pieces), adj)
    if take is None:
        return None
    trial = dict(shared)
    for n in take:
        x, j = links[n - len(pieces)]
        cut = dict(trial[x])
        piece = cut.pop(j)
        cut[i] = piece if i not in cut else _union([cut[i], piece])
        trial[x] = cut
    return trial, {links[n - len(pieces)][0] for n in take}


def _corridor(
    i: int,
    x: int,
    cell: BaseGeometry,
    borders: list[tuple[int, BaseGeometry]],
    held: np.ndarray,
    shared: dict[int, dict[int, BaseGeometry]],
) -> dict[int, dict[int, BaseGeometry]] | None:
    """Return ``shared`` with ``cell`` (cell ``x``, cut from ``borders``) cut again so that part
    ``i``'s pieces ``held`` (those of its polygon holding its inhabited cells) join through it
    along its free edge (its wall, not a border with inhabited cells): the shortest stretches of
    that edge between the points on it nearest the pieces join ``i``'s border, so ``i`` gets the
    strip along them and the parts there keep the strip along their own cells; None if the
    cut fails.

    Taking the other parts' whole shares between them instead gave 105's grid the ring around a
    compound on its far side (Polsby–Popper 0.084): a share touching the next only at a corner
    does not link them.
    """
    lived = shapely.union_all(np.array([b for _, b in borders], dtype=object))
    free = shapely.difference(shapely.boundary(cell), shapely.buffer(lived, SNAP_M))
    lines = shapely.get_parts(shapely.line_merge(free))
    lines = lines[shapely.get_type_id(lines) == 1]
    if not len(lines):
        return None
    # the line of the edge nearest all the pieces (the farthest the nearest), then where along it
    line = lines[int(np.argmin(shapely.distance(held[:, None], lines[None, :]).max(axis=0)))]
    nearest = shapely.get_point(shapely.shortest_line(held, line), 1)
    at = np.sort(shapely.line_locate_point(line, nearest))
    total = float(shapely.length(line))
    stretches = [(float(s), float(e)) for s, e in pairwise(at.tolist())]
    if shapely.is_ring(line):  # the pieces sit around a loop: leave out its longest stretch
        stretches.append((float(at[-1]), float(at[0]) + total))
        stretches.pop(int(np.argmax([e - s for s, e in stretches])))
    chosen = [_substring(line, s, e, total) for s, e in stretches]
    cut = _shares(cell, [*borders, (i, shapely.union_all(np.array(chosen, dtype=object)))])
    return None if cut is None or i not in cut else {**shared, x: cut}


def _substring(line: LineString, start: float, end: float, total: float) -> BaseGeometry:
    """Return the stretch of ``line`` from ``start`` to ``end`` along it (past its length
    round a ring)."""
    if end <= total:
        return substring(line, start, end)
    return shapely.union(substring(line, start, total), substring(line, 0.0, end - total))


def _path(need: list[int], own: int, adj: dict[int, list[int]]) -> list[int] | None:
    """Return the fewest nodes (numbered from ``own`` on) linking nodes ``need`` (pieces of
    one part, numbered below ``own``) in the graph ``adj``, grown from ``need[0]``; None if none."""
    reached = {need[0]}
    take: list[int] = []
    while not all(n in reached for n in need):
        prev = dict.fromkeys(reached, -1)
        queue, end = sorted(reached), -1
        while queue and end < 0:
            nxt = []
            for u in queue:
                for v in sorted(adj.get(u, [])):
                    if v in prev or (v < own and v not in need):
                        continue
                    prev[v] = u
                    if v < own:
                        end = v
                        break
                    nxt.append(v)
                if end >= 0:
                    break
            queue = nxt
        if end < 0:
            return None
        v = prev[end]
        reached.add(end)
        while v >= 0 and v not in reached:
            take.append(v)
            reached.add(v)
            v = prev[v]
    return take


def _host(
    group: list[int],
    home: int,
    geoms: list[BaseGeometry],
    parts: list[np.ndarray],
    cells: np.ndarray,
    region: np.ndarray,
) -> int | None:
    """Return the part other than ``home`` that ``group`` borders (over ``MIN_BORDER_M``) and
    whose Polsby–Popper is highest with it, among the parts holding a cell of its region."""
    blob = union_cells(cells[group])
    near = shapely.STRtree(np.array(geoms, dtype=object)).query(blob, predicate="intersects")
    best, host = -1.0, None
    for j in sorted(int(j) for j in near):
        if j == home or not np.isin(region[group], region[parts[j]]).all():
            continue
        edge = shapely.intersection(shapely.boundary(blob), geoms[j], grid_size=GRID_SIZE)
        if shapely.length(edge) <= MIN_BORDER_M:
            continue
        pp = _pp(_union([geoms[j], blob]))
        if pp > best:
            best, host = pp, j
    return host


def _borders(
    x: int,
    near: list[int],
    owner: np.ndarray,
    cells: np.ndarray,
    lines: Borders | None,
    row_of: dict[tuple[int, int], int],
) -> list[tuple[int, BaseGeometry]]:
    """Return the borders empty cell ``x`` shares with each of the inhabited cells ``near``
    (ascending) that claim a share of it (over ``MIN_BORDER_M``), each with its part."""
    common = _common(x, near, cells, lines, row_of)
    return [
        (int(owner[y]), b)
        for y, b in zip(near, common, strict=True)
        if shapely.length(b) > MIN_BORDER_M
    ]


def _common(
    x: int,
    near: list[int],
    cells: np.ndarray,
    lines: Borders | None,
    row_of: dict[tuple[int, int], int],
) -> np.ndarray:
    """Return the border cell ``x`` shares with each of ``near``."""
    rows = [row_of.get((min(x, y), max(x, y)), -1) for y in near]
    if lines is not None and min(rows) >= 0:
        return lines.lines(np.array(rows, dtype=np.int64))
    return shapely.intersection(
        shapely.boundary(cells[x]), shapely.boundary(cells[near]), grid_size=GRID_SIZE
    )


class _Grids:
    """Each part's polygon once it gives away some of its cells and gets some pieces.

    Each outcome is computed once: judging a cut (:func:`_helps`) and drawing the parts
    (:func:`_polygons`) ask for the same ones.
    """

    def __init__(self, parts: list[np.ndarray], cells: np.ndarray) -> None:
        self.parts, self.cells = parts, cells
        self.wholes = union_groups(cells, parts)  # each part's cells unioned, all at once
        # key → (the pieces, kept so that their ids stay theirs; the polygon)
        self.done: dict[tuple[object, ...], tuple[list[BaseGeometry], BaseGeometry]] = {}

    def whole(self, i: int) -> BaseGeometry:
        """Return part ``i``'s cells unioned."""
        return self.wholes[i]

    def get(self, i: int, gave: list[int], got: list[tuple[int, BaseGeometry]]) -> BaseGeometry:
        """Return part ``i`` without its cells ``gave``, with the pieces ``got`` (cell, piece)."""
        if not gave and not got:
            return self.wholes[i]
        key = (i, tuple(gave), tuple((x, id(g)) for x, g in got))
        if key not in self.done:
            pieces = [g for _, g in got]
            p = self.parts[i]
            kept = p[~np.isin(p, gave)]
            mine = [self.whole(i) if not gave else union_cells(self.cells[kept])]
            geom = _union((mine if len(kept) else []) + pieces)
            self.done[key] = (pieces, geom)
        return self.done[key][1]


def _pp(geom: BaseGeometry) -> float:
    perimeter = float(shapely.length(geom))
    return 4.0 * np.pi * float(shapely.area(geom)) / perimeter**2 if perimeter else 0.0


def _union(geoms: list[BaseGeometry]) -> BaseGeometry:
    """Return a grid's cells (``geoms[0]``) joined with the shares it gets.

    A share that stops a few millimetres short of the grid (its cell met the empty cell at a
    T-junction and snapping opened a gap) is snapped onto the grid first.
    """
    merged = shapely.union_all(np.array(geoms, dtype=object), grid_size=GRID_SIZE)
    if shapely.get_type_id(merged) == 6 and shapely.get_num_geometries(merged) == 1:
        merged = shapely.get_parts(merged)[0]  # a MultiPolygon of one part is one polygon
    if len(geoms) < 2 or shapely.get_type_id(merged) == 3:
        return merged
    base = geoms[0]
    snapped = [base] + [shapely.snap(g, base, SNAP_M) for g in geoms[1:]]
    joined = shapely.union_all(np.array(snapped, dtype=object), grid_size=GRID_SIZE)
    return joined if shapely.get_type_id(joined) == 3 else merged


def _helps(
    x: int,
    cut: dict[int, BaseGeometry],
    home: int,
    grids: _Grids,
    rival: dict[int, BaseGeometry] | None = None,
) -> bool:
    """Return True if sharing cell ``x`` as ``cut`` raises the least Polsby–Popper of the grids
    involved over the ``rival`` cut of it (its own region's), or over ``home`` holding the
    whole cell when there is none.
    """
    involved = sorted({home, *cut, *(rival or {})})
    return _least(x, cut, home, involved, grids) > _least(x, rival, home, involved, grids)


def _least(
    x: int, cut: dict[int, BaseGeometry] | None, home: int, involved: list[int], grids: _Grids
) -> float:
    """Return the least Polsby–Popper of the parts ``involved`` with cell ``x`` shared as
    ``cut`` (None: ``home`` holds it whole)."""
    if cut is None:
        return min(_pp(grids.whole(i)) for i in involved)
    return min(
        _pp(grids.get(i, [x] if i == home else [], [(x, cut[i])] if i in cut else []))
        for i in involved
    )


def _polygons(
    parts: list[np.ndarray],
    shared: dict[int, dict[int, BaseGeometry]],
    grids: _Grids,
    which: list[int] | None = None,
) -> list[BaseGeometry]:
    """Return each part's polygon (of the parts ``which`` only, if given) with ``shared``."""
    got: dict[int, list[tuple[int, BaseGeometry]]] = {}
    for x, cut in shared.items():
        for grid, piece in cut.items():
            got.setdefault(grid, []).append((x, piece))
    return [
        grids.get(i, [x for x in parts[i].tolist() if x in shared], got.get(i, []))
        for i in (range(len(parts)) if which is None else which)
    ]
