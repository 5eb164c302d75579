"""Check departmental layers and tile each one over the community.

A layer arrives as rows of the ``layer_grids`` kind (layer, department, policy, grid_id, name).
:func:`check_layers` rejects what cannot be merged, naming the layer and grid:
a layer without a department, an unknown policy, duplicate or blank grid ids, coordinates that
are not in the declared CRS (projected values declared as lon/lat, or GCJ-02/BD-09 values
declared as WGS 84) and layers covering none of the community.

:func:`tile` turns one layer into a clean tiling of the community: grids are clipped to the
community, an overlap stays with the grid listed first, and each gap joins the grid it shares
the longest border with. Households are placed in the tiled layer, so each has one grid a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .. import geo
from ..errors import InputError, Problem
from ..partition.territory import GRID_SIZE, attach_orphans
from .overlay import TOLERANCE_M2, polygonal

__all__ = ["POLICIES", "Layer", "build_layers", "check_layers", "tile"]

POLICIES = ("hard", "soft")
COVERS_NONE = 1e-6  # share of the community a layer must cover to count as covering it
DATUM_FIX = 0.9  # a layer covering this share once read as GCJ-02/BD-09 was declared wrongly


@dataclass(frozen=True, slots=True)
class Layer:
    """One departmental layer in metres: its raw grids and the tiling made of them."""

    name: str
    department: str
    policy: str
    raw: gpd.GeoDataFrame  # grid_id, name, geometry (as drawn)
    tiled: gpd.GeoDataFrame  # grid_id, name, geometry (a tiling of the community)
    # each tiled grid's geometry by grid id (the first where ids repeat), looked up per move
    tiled_by_id: dict[str, BaseGeometry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = self.tiled["grid_id"].astype(str).tolist()
        geoms = self.tiled.geometry.tolist()
        object.__setattr__(self, "tiled_by_id", dict(reversed(list(zip(ids, geoms, strict=True)))))

    @property
    def hard(self) -> bool:
        """Tell whether unified grids must nest inside this layer's grids."""
        return self.policy == "hard"


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("").str.strip()


def _coverage(geoms: Any, outline: BaseGeometry) -> float:
    covered = shapely.intersection(shapely.union_all(np.asarray(geoms, dtype=object)), outline)
    return float(shapely.area(covered) / max(outline.area, 1e-9))


def _datum_hint(rows: gpd.GeoDataFrame, outline: BaseGeometry, metric: Any) -> str:
    """Return a hint when the rows cover the community once read as GCJ-02 or BD-09."""
    if rows.crs is None or not rows.crs.is_geographic:
        return ""
    for datum in (geo.GCJ02, geo.BD09):
        try:
            fixed = geo.to_wgs84(rows.to_crs(geo.WGS84), datum).to_crs(metric)
        except Exception:  # a failed conversion just means no hint
            continue
        if _coverage(fixed.geometry.to_numpy(), outline) >= DATUM_FIX:
            return (
                f"; its coordinates look like {datum} (they cover the community once read "
                f"as {datum}): declare crs={datum.lower()}"
            )
    return ""


def _frame_problems(layers: gpd.GeoDataFrame) -> list[Problem]:
    missing = [c for c in ("layer", "grid_id") if c not in layers.columns]
    if missing:
        return [
            Problem(
                f"layers need columns {', '.join(missing)} (kind layer_grids)",
                source="layers",
                field=missing[0],
            )
        ]
    problems = []
    geoms = layers.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6]) & ~shapely.is_empty(geoms)
    for i in np.flatnonzero(~polygonal):
        problems.append(
            Problem(
                "grid geometry is missing or not a polygon",
                source=str(layers["layer"].iloc[i]),
                feature=str(layers["grid_id"].iloc[i]),
                field="geometry",
            )
        )
    if layers.crs is not None and layers.crs.is_geographic and polygonal.any():
        x0, y0, x1, y1 = shapely.total_bounds(geoms[polygonal])
        if min(x0, y0) < -180 or x1 > 180 or y1 > 90 or y0 < -90:
            problems.append(
                Problem(
                    f"coordinates ({x0:.0f}, {y0:.0f}) are not lon/lat in the "
                    f"declared CRS {layers.crs.to_string()}; they look projected "
                    "(metres): declare the file's CRS",
                    source="layers",
                    field="crs",
                )
            )
    return problems


def check_layers(
    layers: gpd.GeoDataFrame, outline: BaseGeometry, metric: Any
) -> list[tuple[str, str, str, gpd.GeoDataFrame]]:
    """Validate ``layers``; return (name, department, policy, metric rows) per layer.

    Raises InputError listing every problem, each naming its layer (``source``) and grid.
    """
    if layers is None or len(layers) == 0:
        raise InputError(
            Problem("no departmental layers given; pass at least one", source="layers")
        )
    problems = _frame_problems(layers)
    if problems:
        raise InputError(problems)
    frame = layers.copy()
    if frame.crs is None:
        frame = frame.set_crs(geo.WGS84)
    for col in ("department", "policy", "name"):
        frame[col] = _text(frame[col]) if col in frame.columns else ""
    frame["layer"] = _text(frame["layer"])
    frame["grid_id"] = _text(frame["grid_id"])
    frame["policy"] = frame["policy"].str.lower().replace("", "soft")
    out = []
    for name, rows in frame.groupby("layer", sort=False):
        name = str(name)
        if not name:
            problems.append(Problem("rows without a layer name", source="layers", field="layer"))
            continue
        departments = sorted(set(rows["department"]) - {""})
        if not departments:
            problems.append(
                Problem(
                    f"layer {name!r} has no department; tag it with party, "
                    "police, governance, civil_affairs, urban_management or a "
                    "custom name",
                    source=name,
                    field="department",
                )
            )
        elif len(departments) > 1:
            problems.append(
                Problem(
                    f"layer {name!r} has several departments ({', '.join(departments)}); use one",
                    source=name,
                    field="department",
                )
            )
        policies = sorted(set(rows["policy"]))
        if len(policies) != 1 or policies[0] not in POLICIES:
            problems.append(
                Problem(
                    f"layer {name!r} has policy {'/'.join(policies)}; use one of hard or soft",
                    source=name,
                    field="policy",
                )
            )
        for gid in rows.loc[rows["grid_id"] == "", "name"].head(3):
            problems.append(
                Problem(
                    f"a grid of layer {name!r} has no grid id (name {gid!r})",
                    source=name,
                    field="grid_id",
                )
            )
        counts = rows.loc[rows["grid_id"] != "", "grid_id"].value_counts()
        for gid, n in counts[counts > 1].items():
            problems.append(
                Problem(
                    f"grid id {gid!r} appears {n} times in layer {name!r}; grid "
                    "ids must be unique within a layer",
                    source=name,
                    feature=str(gid),
                    field="grid_id",
                )
            )
        metric_rows = rows.to_crs(metric)
        if _coverage(metric_rows.geometry.to_numpy(), outline) < COVERS_NONE:
            problems.append(
                Problem(
                    f"layer {name!r} covers none of the community; check its "
                    f"CRS (declared {rows.crs.to_string()})" + _datum_hint(rows, outline, metric),
                    source=name,
                    field="geometry",
                )
            )
            continue
        hint = _datum_hint(rows, outline, metric)
        if hint and _coverage(metric_rows.geometry.to_numpy(), outline) < 0.5:
            problems.append(
                Problem(
                    f"layer {name!r} is in another CRS than declared "
                    f"({rows.crs.to_string()}){hint}",
                    source=name,
                    field="crs",
                )
            )
        out.append(
            (
                name,
                departments[0] if departments else "",
                policies[0],
                metric_rows[["grid_id", "name", "geometry"]].reset_index(drop=True),
            )
        )
    if problems:
        raise InputError(problems)
    # one canonical order (hard layers first, then by name): the result must not depend on the
    # order layers were given or stored in
    return sorted(out, key=lambda layer: (layer[2] != "hard", layer[0]))


def tile(name: str, raw: gpd.GeoDataFrame, outline: BaseGeometry) -> gpd.GeoDataFrame:
    """Return ``raw`` (metres) as a tiling of ``outline``: clipped, overlaps and gaps resolved."""
    geoms = shapely.intersection(
        shapely.make_valid(raw.geometry.to_numpy()), outline, grid_size=GRID_SIZE
    )
    taken: BaseGeometry = shapely.Polygon()
    tiled = []
    for g in geoms:  # an overlap stays with the grid listed first
        mine = polygonal(shapely.difference(polygonal(g), taken, grid_size=GRID_SIZE))
        tiled.append(mine)
        taken = polygonal(shapely.union(taken, mine, grid_size=GRID_SIZE))
    gaps = shapely.get_parts(polygonal(shapely.difference(outline, taken, grid_size=GRID_SIZE)))
    gaps = gaps[shapely.area(gaps) > 0]
    nonempty = [i for i, g in enumerate(tiled) if shapely.area(g) > TOLERANCE_M2]
    if len(gaps) and nonempty:
        grown, _left = attach_orphans([tiled[i] for i in nonempty], gaps)
        for i, g in zip(nonempty, grown, strict=True):
            tiled[i] = g
    return gpd.GeoDataFrame(
        {"grid_id": raw["grid_id"].to_numpy(), "name": raw["name"].to_numpy()},
        geometry=np.array(tiled, dtype=object),
        crs=raw.crs,
    )


def build_layers(
    checked: list[tuple[str, str, str, gpd.GeoDataFrame]], outline: BaseGeometry
) -> list[Layer]:
    """Return a :class:`Layer` (raw + tiled) for each checked layer."""
    return [Layer(n, d, p, raw, tile(n, raw, outline)) for n, d, p, raw in checked]
