"""Non-residential sites (schools, markets, enterprises, hospitals) as dedicated (专属) grids.

A site is a building footprint. When the block it stands in (between roads, rivers, compound
walls) holds no households, that whole block becomes the site's grid; when households live in
the block too, the footprint is cut out of it as a block of its own. Either way the site's grid
is an empty region the engine keeps apart (no other region merges into it) and flags
"dedicated", so the grids still tile the community.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .territory import blocks

__all__ = ["DEDICATED_USES", "site_cells", "site_footprints", "with_sites"]

DEDICATED_USES = frozenset({"school", "market", "enterprise", "hospital"})
MIN_OVERLAP_M2 = 1.0  # a cell overlapping a site by less than this is not the site's


def site_footprints(buildings: pd.DataFrame | None) -> np.ndarray:
    """Return the footprints of ``buildings`` that are sites (metric GeoDataFrame in).

    A site has ``use`` in :data:`DEDICATED_USES` or a truthy ``dedicated`` column.
    """
    if buildings is None or len(buildings) == 0:
        return np.empty(0, dtype=object)
    mask = np.zeros(len(buildings), dtype=bool)
    if "use" in buildings.columns:
        mask |= buildings["use"].astype("string").str.lower().isin(DEDICATED_USES).to_numpy()
    if "dedicated" in buildings.columns:
        mask |= buildings["dedicated"].fillna(False).astype(bool).to_numpy()
    geoms = np.asarray(buildings.geometry.to_numpy(), dtype=object)[mask]
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    return geoms[polygonal & ~shapely.is_empty(geoms)]


def with_sites(
    outline: BaseGeometry,
    barriers: np.ndarray | None,
    sites: np.ndarray | None,
    xy: np.ndarray,
) -> np.ndarray | None:
    """Return ``barriers`` plus the footprints of sites standing in inhabited blocks.

    ``xy`` are the atoms' points; a block is inhabited when one of them lies in it.
    """
    if sites is None or len(sites) == 0:
        return barriers
    sites = sites[shapely.intersects(sites, outline)]
    if len(sites) == 0:
        return barriers
    cut = blocks(outline, barriers)
    tree = shapely.STRtree(cut)
    inhabited = np.zeros(len(cut), dtype=bool)
    if len(xy):
        _, hit = tree.query(shapely.points(xy), predicate="intersects")
        inhabited[hit] = True
    site_of, block_of = tree.query(shapely.point_on_surface(sites), predicate="intersects")
    crowded = np.unique(site_of[inhabited[block_of]])
    if len(crowded) == 0:
        return barriers
    extra = np.asarray(sites[crowded], dtype=object)
    if barriers is None or len(barriers) == 0:
        return extra
    return np.concatenate([np.asarray(barriers, dtype=object), extra])


def site_cells(cells: np.ndarray, sites: np.ndarray | None) -> np.ndarray:
    """Return which ``cells`` (empty blocks) overlap a site footprint."""
    out = np.zeros(len(cells), dtype=bool)
    if sites is None or len(sites) == 0 or len(cells) == 0:
        return out
    cell_of, site_of = shapely.STRtree(sites).query(cells, predicate="intersects")
    if len(cell_of) == 0:
        return out
    overlap = shapely.area(shapely.intersection(cells[cell_of], sites[site_of]))
    out[cell_of[overlap > MIN_OVERLAP_M2]] = True
    return out
