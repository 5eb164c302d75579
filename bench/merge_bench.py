"""Merge benchmark: gridsvc.merge vs. the naive common refinement of all departmental layers.

The naive method is what a GIS analyst does first: ``geopandas.overlay(how="union")`` of every
layer, clipped to the community; each fragment becomes a "unified grid". Side by side per
community: fragments (grids), slivers (area < 100 m² or mean width < 3 m, with ≤ 2 households),
empty fragments, grids within 30–50 households, hard-layer crossings, the share of households
whose soft-layer grid is unchanged per soft layer (with the most that whole stairwell units
allow), and CPU seconds. Run: ``python bench/merge_bench.py``; ``--budget 1`` gives the partition
engine a per-community budget of deterministic work (as a city run does; default: unlimited).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc.geo import metric_crs
from gridsvc.merge import merge

FIX = Path(__file__).resolve().parents[1] / "fixtures"
GPKG = FIX / "baltimore_pigtown.gpkg"
LO, HI = 30, 50


def fixture(name: str) -> dict:
    d = FIX / name
    return {
        "boundary": gpd.read_file(d / "community.geojson"),
        "households": gpd.read_file(d / "households.geojson"),
        "layers": gpd.read_file(d / "layers.geojson"),
        "buildings": gpd.read_file(d / "buildings.geojson"),
    }


def baltimore() -> dict:
    parts = []
    for name, layer, policy, key in [
        ("police", "police_districts_2023", "hard", "id"),
        ("council", "council_districts", "soft", "id"),
        ("neighborhood", "neighborhoods_2020", "soft", "name"),
    ]:
        f = gpd.read_file(GPKG, layer=layer)
        parts.append(
            f.assign(layer=name, department=name, policy=policy, grid_id=f[key].astype(str))[
                ["layer", "department", "policy", "grid_id", "name", "geometry"]
            ]
        )
    layers = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    return {
        "boundary": gpd.read_file(GPKG, layer="csa_outline"),
        "households": None,
        "layers": layers,
        "areas": gpd.read_file(GPKG, layer="blocks_2020"),
        "count_field": "housing20",
    }


def _slivers(geoms: np.ndarray, households: np.ndarray) -> int:
    area = shapely.area(geoms)
    width = 2 * area / np.maximum(shapely.length(geoms), 1e-9)
    return int((((area < 100) | (width < 3)) & (households <= 2)).sum())


def naive(inputs: dict, points: np.ndarray, metric) -> dict:
    """Overlay every layer (union), clip to the community, count per fragment."""
    started = time.process_time()
    outline = inputs["boundary"].to_crs(metric)[["geometry"]]
    layers = inputs["layers"].to_crs(metric)
    frames = [outline]
    for name, rows in layers.groupby("layer", sort=False):
        frames.append(rows[["grid_id", "geometry"]].rename(columns={"grid_id": name}))
    result = frames[0]
    for f in frames[1:]:
        result = gpd.overlay(result, f, how="union", keep_geom_type=True)
    result = gpd.overlay(result, outline, how="intersection", keep_geom_type=True)
    parts = result.explode(index_parts=False)
    geoms = parts.geometry.to_numpy()
    seconds = time.process_time() - started
    p, g = shapely.STRtree(geoms).query(points, predicate="intersects")
    first = pd.Series(g).groupby(p).first()
    hh = np.bincount(first.to_numpy(), minlength=len(geoms))
    hard = [c for c in layers.loc[layers["policy"] == "hard", "layer"].unique()]
    return {
        "grids": len(geoms),
        "slivers": _slivers(geoms, hh),
        "empty": int((hh == 0).sum()),
        "within": float(((hh >= LO) & (hh <= HI)).mean()),
        "within_lived": float(((hh >= LO) & (hh <= HI))[hh > 0].mean()),
        "hard_crossings": 0 if hard else None,
        "soft_kept": "100% each",
        "cpu_s": seconds,
    }


def ours(inputs: dict, budget: float | None = None) -> dict:
    started = time.process_time()
    result = merge(
        inputs["boundary"],
        inputs["households"],
        inputs["layers"],
        buildings=inputs.get("buildings"),
        areas=inputs.get("areas"),
        count_field=inputs.get("count_field"),
        budget=budget,
    )
    seconds = time.process_time() - started
    u = result.unified.to_crs(metric_crs(inputs["boundary"]))
    hh = u["households"].to_numpy(dtype=int)
    m = result.report["measures"]
    return {
        "grids": len(u),
        "slivers": _slivers(u.geometry.to_numpy(), hh),
        "empty": int((hh == 0).sum()),
        "within": float(((hh >= LO) & (hh <= HI)).mean()),
        "within_lived": float(((hh >= LO) & (hh <= HI))[hh > 0].mean()),
        "hard_crossings": f"{m['hard_crossings']} (+{m['hard_crossings_forced']} forced)",
        "soft_kept": ", ".join(
            f"{n} {100 * v:.1f}% (≤{100 * m['soft_share_reachable_with_whole_units'][n]:.1f}%)"
            for n, v in sorted(m["soft_share_unchanged"].items())
        ),
        "cpu_s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", default="yudu,urban,village,baltimore")
    parser.add_argument(
        "--budget", type=float, default=None, help="units of deterministic work per community"
    )
    parser.add_argument("--skip-overlay", action="store_true", help="time gridsvc only")
    args = parser.parse_args()
    rows = []
    for name in args.communities.split(","):
        inputs = baltimore() if name == "baltimore" else fixture(name)
        metric = metric_crs(inputs["boundary"])
        if inputs["households"] is None:
            from gridsvc.partition.areas import areas_to_households

            hh = areas_to_households(inputs["areas"], inputs["count_field"], metric)
        else:
            hh = inputs["households"]
        points = hh.to_crs(metric).geometry.to_numpy()
        methods = (
            ("overlay", lambda i=inputs, p=points, m=metric: naive(i, p, m)),
            ("gridsvc", lambda i=inputs: ours(i, args.budget)),
        )
        for method, run in methods[1:] if args.skip_overlay else methods:
            r = run()
            rows.append({"community": name, "method": method, **r})
    table = pd.DataFrame(rows)
    table["within"] = (100 * table["within"]).round(1).astype(str) + "%"
    table["within_lived"] = (100 * table["within_lived"]).round(1).astype(str) + "%"
    table["cpu_s"] = table["cpu_s"].round(2)
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
