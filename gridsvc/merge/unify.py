"""Build the unified grid with the partition engine and label it with every layer's grid.

Hard layers' tiled grids are barriers (never crossed unless a region cannot meet the bounds
otherwise, which the partition report flags), soft layers' tiled grids are soft barriers (cheap
to cut along, allowed to cross). Each unified grid records, per layer, the grid holding most of
its households, or, when it has none, the grid covering most of its area.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..partition import Bounds, PartitionResult, partition
from ..partition.territory import GRID_SIZE, shared_lengths
from .layers import Layer
from .overlay import TOLERANCE_M2, area_pairs, locate, polygonal

__all__ = ["column", "hard_crossings", "label_unified", "nest_in_hard", "run_partition"]


def column(layer: str) -> str:
    """Return the unified-grid column holding ``layer``'s grid id."""
    return f"{layer}_grid"


def _lines(layers: Sequence[Layer], hard: bool) -> gpd.GeoDataFrame | None:
    chosen = [la.tiled for la in layers if la.hard == hard]
    if not chosen:
        return None
    frame = pd.concat([c[["geometry"]] for c in chosen], ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=chosen[0].crs)


def run_partition(
    boundary: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    layers: Sequence[Layer],
    *,
    buildings: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    levels: Sequence[Bounds],
    seed: int,
    budget: float | None = None,
    dedicated: bool = False,
    areas: gpd.GeoDataFrame | None = None,
    count_field: str | None = None,
) -> PartitionResult:
    """Partition the community with hard layers as barriers and soft layers as soft barriers.

    ``budget`` and ``dedicated`` are the partition's (see :func:`gridsvc.partition.partition`).
    """
    hard = _lines(layers, hard=True)
    if barriers is not None and len(barriers):
        extra = barriers[[barriers.geometry.name]].to_crs(
            hard.crs if hard is not None else barriers.crs
        )
        extra = extra.rename_geometry("geometry") if extra.geometry.name != "geometry" else extra
        hard = (
            extra
            if hard is None
            else gpd.GeoDataFrame(
                pd.concat([hard, extra], ignore_index=True), geometry="geometry", crs=hard.crs
            )
        )
    return partition(
        boundary,
        None if areas is not None else households,
        areas=areas,
        count_field=count_field,
        buildings=buildings,
        barriers=hard,
        soft_barriers=_lines(layers, hard=False),
        levels=levels,
        seed=seed,
        budget=budget,
        dedicated=dedicated,
    )


def label_unified(
    unified: np.ndarray,
    grid_of_household: np.ndarray,
    points: np.ndarray,
    layer: Layer,
    *,
    home: np.ndarray | None = None,
    only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return each unified grid's grid id in ``layer`` and each household's tiled grid index.

    ``unified`` holds the metric geometries; ``grid_of_household`` the unified index per
    household (-1 when none). A grid's label depends on its own geometry and households
    alone, so ``only`` (grid indices) labels just those grids (the others get ""), and
    ``home`` (each household's tiled grid index, as returned) saves locating them again.
    """
    unified = np.asarray(unified, dtype=object)
    tiled = layer.tiled.geometry.to_numpy()
    ids = layer.tiled["grid_id"].astype(str).to_numpy()
    if home is None:
        home = locate(points, tiled)
    which = np.arange(len(unified)) if only is None else np.asarray(only, dtype=int)
    areas = area_pairs(unified[which], tiled)
    areas["i"] = which[areas["i"].to_numpy()]
    by_area = areas.sort_values(["i", "area", "j"], ascending=[True, False, True])
    best_area = by_area.drop_duplicates("i")
    label = np.full(len(unified), -1)
    label[best_area["i"].to_numpy()] = best_area["j"].to_numpy()
    ok = (grid_of_household >= 0) & (home >= 0)
    if only is not None:
        ok &= np.isin(grid_of_household, which)
    if ok.any():
        pairs = pd.DataFrame({"u": grid_of_household[ok], "g": home[ok]})
        counts = pairs.groupby(["u", "g"]).size().rename("n").reset_index()
        counts = counts.merge(
            areas.rename(columns={"i": "u", "j": "g"}), on=["u", "g"], how="left"
        ).fillna({"area": 0.0})
        counts = counts.sort_values(["u", "n", "area", "g"], ascending=[True, False, False, True])
        best = counts.drop_duplicates("u")
        label[best["u"].to_numpy()] = best["g"].to_numpy()
    out = np.where(label >= 0, ids[np.maximum(label, 0)], "")
    return out.astype(object), home


def hard_crossings(
    unified: np.ndarray,
    codes: np.ndarray,
    grid_of_household: np.ndarray,
    home: np.ndarray,
    layer: Layer,
    lower: int,
) -> list[dict[str, Any]]:
    """Return the unified grids spanning more than one grid of ``layer`` (by households or area).

    A crossing is ``forced`` when a grid it reaches into holds fewer than ``lower`` households
    in all (too few for a unified grid of its own, so the bounds force it to join others).
    """
    ids = layer.tiled["grid_id"].astype(str).to_numpy()
    total = np.bincount(home[home >= 0], minlength=len(ids))
    areas = area_pairs(unified, layer.tiled.geometry.to_numpy(), min_area=TOLERANCE_M2)
    by_area = areas.groupby("i")["j"].nunique()
    ok = (grid_of_household >= 0) & (home >= 0)
    by_hh = pd.Series(home[ok]).groupby(grid_of_household[ok]).nunique()
    out = []
    for u in sorted(set(by_area[by_area > 1].index) | set(by_hh[by_hh > 1].index)):
        reached = set(areas.loc[areas["i"] == u, "j"]) | set(home[ok][grid_of_household[ok] == u])
        small = sorted(ids[j] for j in reached if total[j] < lower)
        out.append(
            {
                "unified": str(codes[u]),
                "grids": sorted(ids[j] for j in reached),
                "households_split": bool(by_hh.get(u, 1) > 1),
                "forced": bool(small),
                "why": (
                    f"hard grid(s) {', '.join(small)} hold fewer than {lower} households"
                    if small
                    else ""
                ),
            }
        )
    return out


def nest_in_hard(
    geoms: np.ndarray,
    labels: np.ndarray,
    stacked: np.ndarray,
    points: np.ndarray,
    unified_of: np.ndarray,
    layer: Layer,
) -> tuple[np.ndarray, int]:
    """Hand each empty piece of a unified grid lying in another hard grid to a neighbour there.

    A piece holding none of the grid's households moves to the touching unified grid labelled
    with that hard grid (longest shared border); households never move. Returns the new
    geometries and the number of pieces moved.
    """
    geoms = np.array(geoms, dtype=object)
    tiled = layer.tiled.geometry.to_numpy()
    ids = layer.tiled["grid_id"].astype(str).to_numpy()
    pairs = area_pairs(geoms, tiled, min_area=TOLERANCE_M2)
    foreign = pairs[
        (ids[pairs["j"].to_numpy()] != labels[pairs["i"].to_numpy()])
        & ~stacked[pairs["i"].to_numpy()]
    ]
    moved = 0
    for i, j in zip(foreign["i"].tolist(), foreign["j"].tolist(), strict=True):
        piece = polygonal(shapely.intersection(geoms[i], tiled[j], grid_size=GRID_SIZE))
        mine = points[unified_of == i]
        if shapely.area(piece) <= TOLERANCE_M2 or shapely.intersects(piece, mine).any():
            continue
        hosts = np.flatnonzero((labels == ids[j]) & ~stacked)
        lengths = shared_lengths(np.array([piece] * len(hosts), dtype=object), geoms[hosts])
        if not len(hosts) or lengths.max() <= 0:
            continue
        v = int(hosts[np.argmax(lengths)])
        geoms[v] = polygonal(shapely.union(geoms[v], piece, grid_size=GRID_SIZE))
        geoms[i] = polygonal(shapely.difference(geoms[i], piece, grid_size=GRID_SIZE))
        moved += 1
    return geoms, moved
