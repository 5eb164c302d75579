"""Check features against the stored communities: assign codes, flag outside and far features.

Messages name the feature, the distance and, when another lon/lat datum would put the feature
inside, which one ("values look like GCJ-02").
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc import frames, geo
from gridsvc.errors import Problem

__all__ = ["SINGULAR", "check_places"]

SINGULAR = {
    "communities": "community",
    "buildings": "building",
    "households": "household",
    "layer_grids": "layer grid",
    "grids": "grid",
    "workers": "worker",
}
_ALTERNATIVES = ((geo.WGS84, "WGS 84"), (geo.GCJ02, "GCJ-02"), (geo.BD09, "BD-09"))


def check_places(
    values: gpd.GeoDataFrame,
    raw: np.ndarray,
    good: np.ndarray,
    spec: frames.Kind,
    source: str,
    declared: str,
    communities: gpd.GeoDataFrame,
    far_km: float,
    problems: list[Problem],
) -> None:
    """Assign missing community codes by location; flag unknown, outside and far features."""
    noun = SINGULAR[spec.name]
    key = spec.key[0]
    wgs84 = geo.crs_of(geo.WGS84)
    if communities.crs != wgs84:  # a frame in WGS 84 already is not transformed again
        communities = communities.to_crs(wgs84)
    communities = communities.set_index("code", drop=False)
    if "community_code" not in values:
        values["community_code"] = None
    geoms = np.asarray(values.geometry.array)
    # a point is its own point on surface (a polygon's is inside it): points are not rebuilt
    points = geoms if spec.geometry.startswith("point") else shapely.point_on_surface(geoms)
    codes = values["community_code"]
    known = (codes.isna() | codes.isin(communities.index)).to_numpy()
    for i in values.index[good & ~known]:
        problems.append(
            Problem(
                f"unknown community {codes[i]!r}; import the community first",
                source=source,
                feature=int(i),
                field="community_code",
            )
        )
    todo = good & codes.isna().to_numpy()
    if todo.any():
        areas = communities[["code", "geometry"]].reset_index(drop=True)
        inside = gpd.GeoSeries(points[todo], index=values.index[todo], crs=wgs84)
        hits = gpd.sjoin(gpd.GeoDataFrame(geometry=inside), areas, predicate="within", how="left")
        first = hits.sort_values("code").groupby(level=0)["code"].first()
        values.loc[first.index, "community_code"] = first
        outside = first.index[first.isna()]
        hint = _hints(raw, outside, declared, communities, None)
        for i in outside:
            problems.append(
                Problem(
                    f"{noun} {values.at[i, key]} lies outside every community{hint.get(i, '')}",
                    source=source,
                    feature=int(i),
                    field="geometry",
                )
            )
    codes = values["community_code"]
    assigned = good & codes.isin(communities.index).to_numpy()
    if not assigned.any():
        return
    if len(communities) == 1:  # a city run's one community: every assigned code is its code
        where = np.zeros(int(assigned.sum()), dtype=np.intp)
    else:
        where = communities.index.get_indexer(codes.to_numpy()[assigned])
    own = np.asarray(communities.geometry.array)[where]
    # a point its community covers is 0 km from it: measure only the others (few or none)
    shapely.prepare(own)
    away = ~shapely.covers(own, points[assigned])
    if not away.any():
        return
    idx, own = values.index[assigned][away], own[away]
    metric = geo.metric_crs(communities)
    pts = gpd.GeoSeries(points[assigned][away], index=idx, crs=wgs84).to_crs(metric)
    polys = gpd.GeoSeries(own, index=idx, crs=wgs84).to_crs(metric)
    km = pts.distance(polys) / 1000.0
    far = km[km > far_km]
    hint = _hints(raw, far.index, declared, communities, codes)
    for i, dist in far.items():
        code = codes[i]
        problems.append(
            Problem(
                f"{noun} {values.at[i, key]} lies {dist:.1f} km outside community {code}; "
                f"check its CRS (got {_crs_name(declared)}{hint.get(i, '')})",
                source=source,
                feature=int(i),
                field="geometry",
            )
        )


def _hints(
    raw: np.ndarray,
    index: pd.Index,
    declared: str,
    communities: gpd.GeoDataFrame,
    codes: pd.Series | None,
) -> dict[int, str]:
    """Say which other lon/lat datum would put each feature inside its (or any) community."""
    if len(index) == 0:
        return {}
    pts = shapely.point_on_surface(raw[np.asarray(index)])
    xy = shapely.get_coordinates(pts)
    hints: dict[int, str] = {}
    for crs, name in _ALTERNATIVES:
        if crs == declared or declared not in (geo.WGS84, "EPSG:4490", geo.GCJ02, geo.BD09):
            continue
        frame = gpd.GeoDataFrame(geometry=shapely.points(xy), index=index)
        moved = geo.to_wgs84(frame, crs).geometry
        if codes is None:
            inside = moved.within(shapely.union_all(communities.geometry.values))
        else:
            targets = communities.loc[codes[index], "geometry"].to_numpy()
            inside = pd.Series(shapely.within(moved.values, targets), index=index)
        for i in index[inside.to_numpy()]:
            hints.setdefault(int(i), f", values look like {name}; import with crs={crs.lower()}")
    return hints


def _crs_name(crs: str) -> str:
    return {geo.GCJ02: "GCJ-02", geo.BD09: "BD-09"}.get(crs, crs)
