"""Draw docs/demo-map.png (the README picture) from a demo run's partition output.

Usage: python scripts/readme_picture.py out/demo/partition/140802002011
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from gridsvc.config import GridBounds
from gridsvc.render.maps import BAND_COLOURS, band

ROOT = Path(__file__).resolve().parent.parent


def main(partition_dir: Path, out: Path) -> None:
    """Plot base grids by household band, micro-grids, buildings and grid codes."""
    grids = gpd.read_file(partition_dir / "grids.geojson")
    micro = gpd.read_file(partition_dir / "microgrids.geojson")
    fixture = ROOT / "fixtures" / "yudu"
    buildings = gpd.read_file(fixture / "buildings.geojson")
    metric = grids.estimate_utm_crs()
    grids, micro, buildings = (f.to_crs(metric) for f in (grids, micro, buildings))
    bounds = GridBounds()
    colours = [BAND_COLOURS[band(int(h), bounds)] for h in grids["households"]]
    fig, ax = plt.subplots(figsize=(9, 9), dpi=110)
    grids.plot(ax=ax, color=colours, edgecolor="#222", linewidth=1.4, alpha=0.55)
    micro.boundary.plot(ax=ax, color="#555", linewidth=0.4, linestyle="--")
    buildings.plot(ax=ax, color="#4a4e69", alpha=0.8)
    for code, point in zip(grids["code"], grids.representative_point(), strict=True):
        ax.annotate(str(code)[-3:], (point.x, point.y), fontsize=7, ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(
        f"{len(grids)} base grids (30–50 households), {len(micro)} micro-grids; "
        "labels are grid serials",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), ROOT / "docs" / "demo-map.png")
