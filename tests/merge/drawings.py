"""Tiny hand-checkable drawings for the merge tests (drawn in metres, served in WGS 84)."""

from __future__ import annotations

import geopandas as gpd
import shapely

UTM = "EPSG:32649"  # zone of 111°E; X0, Y0 put the drawings near 111.0°E 35.0°N
X0, Y0 = 500_000.0, 3_873_000.0


def to_wgs(geoms: list, **columns: object) -> gpd.GeoDataFrame:
    """Return a WGS 84 frame of geometries drawn in local metres."""
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoDataFrame(columns, geometry=moved, crs=UTM).to_crs("EPSG:4326")


def strip(
    width: float = 200.0, height: float = 40.0, step: float = 10.0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return a ``width`` × ``height`` m community and one house every ``step`` m on a lattice.

    With the defaults: 20 columns (x = 5, 15, …, 195) × 4 rows = 80 one-household houses.
    """
    xs = [step / 2 + i * step for i in range(int(width / step))]
    ys = [step / 2 + j * step for j in range(int(height / step))]
    pts = [shapely.Point(x, y) for x in xs for y in ys]
    community = to_wgs([shapely.box(0, 0, width, height)], code=["140802002098"], name=["t"])
    households = to_wgs(
        pts,
        id=[f"H{i:03d}" for i in range(len(pts))],
        building_id=[f"B{i:03d}" for i in range(len(pts))],
    )
    return community, households


def vertical(x: float, height: float = 40.0) -> gpd.GeoDataFrame:
    """Return a soft line crossing the strip at ``x`` metres."""
    return to_wgs([shapely.LineString([(x, -1), (x, height + 1)])], id=["line"])


def layer(name: str, department: str, policy: str, boxes: dict[str, tuple]) -> gpd.GeoDataFrame:
    """Return ``layer_grids`` rows, one per named box (x0, y0, x1, y1) in metres."""
    return to_wgs(
        [shapely.box(*b) for b in boxes.values()],
        layer=name,
        department=department,
        policy=policy,
        grid_id=list(boxes),
        name=list(boxes),
    )
