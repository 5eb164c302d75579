"""Rows and a memory probe shared by the export tests (tests/test_export.py, tests/api).

Import it by its plain name (``from export_rows import layer_grids``), as tests/needs.py says.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import shapely

from gridsvc import frames

__all__ = ["layer_grids", "peak_bytes"]


def layer_grids(n: int) -> gpd.GeoDataFrame:
    """``n`` layer grids over three layers (a composite key), small squares."""
    x = 112.9 + (np.arange(n) % 100) / 1000
    y = 35.8 + (np.arange(n) // 100) / 1000
    return frames.conform(
        "layer_grids",
        gpd.GeoDataFrame(
            {
                "layer": [("police", "party", "fire")[i % 3] for i in range(n)],
                "department": [("公安", "党建", "消防")[i % 3] for i in range(n)],
                "policy": [("hard", "soft", "soft")[i % 3] for i in range(n)],
                "grid_id": [f"G{i:05d}" for i in range(n)],
                "name": [f"网格 {i}" for i in range(n)],
            },
            geometry=shapely.box(x, y, x + 0.0009, y + 0.0009),
            crs="EPSG:4326",
        ),
    )


def peak_bytes(call: Callable[[], object]) -> int:
    """Return the peak of Python allocations (tracemalloc, every thread) while ``call`` runs."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
