"""Tiny hand-checkable communities for the partition tests (drawn in metres, served in WGS 84)."""

from __future__ import annotations

import geopandas as gpd
import shapely

UTM = "EPSG:32649"  # zone of 111°E; x0, y0 put the drawings near 111.0°E 35.0°N
X0, Y0 = 500_000.0, 3_873_000.0


def to_wgs(geoms: list, **columns: object) -> gpd.GeoDataFrame:
    """Return a WGS 84 frame of geometries drawn in local metres."""
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoDataFrame(columns, geometry=moved, crs=UTM).to_crs("EPSG:4326")


def square_community(size: float = 300.0, code: str = "140802002099") -> gpd.GeoDataFrame:
    """Return a one-row community: a ``size`` m square."""
    return to_wgs([shapely.box(0, 0, size, size)], code=[code], name=["test"])


def grid_of_buildings(
    nx: int,
    ny: int,
    per_unit: int,
    *,
    units: int = 1,
    floors: int = 6,
    spacing: float = 100.0,
    offset: tuple[float, float] = (0.0, 0.0),
    prefix: str = "B",
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return buildings B{i}{j} in an ``nx`` × ``ny`` lattice and their households.

    Each building has ``units`` side by side along x; each unit ``per_unit`` households spread
    over ``floors`` floors. Building centres sit at (spacing/2 + i·spacing, spacing/2 + j·spacing)
    plus ``offset``; ids are ``{prefix}{i}{j}``.
    """
    b_geoms, b_rows, h_geoms, h_rows = [], [], [], []
    for i in range(nx):
        for j in range(ny):
            cx = offset[0] + spacing / 2 + i * spacing
            cy = offset[1] + spacing / 2 + j * spacing
            bid = f"{prefix}{i}{j}"
            b_geoms.append(shapely.box(cx - 20, cy - 6, cx + 20, cy + 6))
            b_rows.append({"id": bid, "floors": floors, "units": units, "compound": ""})
            for u in range(units):
                ux = cx - 20 + 40 * (u + 0.5) / units
                for h in range(per_unit):
                    h_geoms.append(shapely.Point(ux + (h % 3) - 1, cy + (h % 2)))
                    h_rows.append(
                        {
                            "id": f"{bid}-{u + 1}-{h + 1:03d}",
                            "building_id": bid,
                            "unit": u + 1,
                            "floor": 1 + h * floors // per_unit,
                            "size": 2 + h % 3,
                        }
                    )
    buildings = to_wgs(b_geoms, **{k: [r[k] for r in b_rows] for k in b_rows[0]})
    households = to_wgs(h_geoms, **{k: [r[k] for r in h_rows] for k in h_rows[0]})
    return buildings, households
