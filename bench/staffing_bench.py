"""Staffing benchmark: 20,000 workers × 10,000 grids under each shipped model, and the gap to
the exact optimum on a few communities.

Grids are a synthetic lattice (communities of 8 × 5 grids of 100 m, ~40 households each, two
police beats per community) so the bench measures the staffing solver, not the partition engine.
Side by side: ``flow`` (gridsvc: min-cost flow, repaired, completed), ``greedy`` (nearest free
eligible worker, slot by slot: what a roster spreadsheet or a simple platform does) and, on
small communities where it is computable, ``exact`` (CP-SAT over every eligible triple).
``shipped`` is flow plus the CP-SAT polish gridsvc applies to blocks of <= 400 triples.
Run: ``python bench/staffing_bench.py [--grids 10000] [--small 20]``.
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc.staffing import StaffingSettings, assign, generate_roster, plan_context
from gridsvc.staffing.assign import community_blocks
from gridsvc.staffing.context import Ledger
from gridsvc.staffing.exact import solve_exact
from gridsvc.staffing.solver import block_candidates, complete, plan_cost, solve

LON0, LAT0 = 111.0, 35.03
DLON, DLAT = 100 / 91_000, 100 / 111_000  # ~100 m at 35°N


def lattice(n_grids: int, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return (grids, households): communities of 8 × 5 grids, ~40 households per grid."""
    rng = np.random.default_rng(seed)
    n_comm = -(-n_grids // 40)
    side = int(np.ceil(np.sqrt(n_comm)))
    rows = []
    for c in range(n_comm):
        code = f"140802{c // 20 + 1:03d}{c % 20 + 1:03d}"
        cx, cy = (c % side) * 10, (c // side) * 7  # in cells; 2 cells of street between
        for k in range(min(40, n_grids - 40 * c)):
            i, j = k % 8, k // 8
            x0, y0 = LON0 + (cx + i) * DLON, LAT0 + (cy + j) * DLAT
            rows.append(
                {
                    "code": f"{code}{k + 1:03d}",
                    "community_code": code,
                    "level": 1,
                    "police_beat": f"{code}-JW0{1 + (i >= 4)}",
                    "geometry": shapely.box(x0, y0, x0 + DLON, y0 + DLAT),
                }
            )
    grids = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    counts = rng.integers(30, 51, size=len(grids))
    owner = np.repeat(np.arange(len(grids)), counts)
    b = grids.geometry.bounds.to_numpy()[owner]
    u = rng.random((len(owner), 2))
    xs, ys = b[:, 0] + u[:, 0] * (b[:, 2] - b[:, 0]), b[:, 1] + u[:, 1] * (b[:, 3] - b[:, 1])
    cadence = rng.choice(
        ["none", "monthly", "weekly", "daily"], p=[0.86, 0.03, 0.1, 0.01], size=len(owner)
    )
    households = gpd.GeoDataFrame(
        {
            "id": [f"H{i:07d}" for i in range(len(owner))],
            "community_code": grids["community_code"].to_numpy()[owner],
            "grid_code": grids["code"].to_numpy()[owner],
            "size": rng.integers(1, 6, size=len(owner)),
            "visit_cadence": cadence,
        },
        geometry=shapely.points(xs, ys),
        crs="EPSG:4326",
    )
    grids["households"] = counts
    grids["residents"] = (
        households.groupby("grid_code")["size"].sum().reindex(grids["code"]).to_numpy()
    )
    return grids, households


def _ledger(ctx, blocks, how: str, settings: StaffingSettings):  # type: ignore[no-untyped-def]
    """Return the plan of ``how`` (flow | greedy | exact) over every block."""
    ledger = Ledger(ctx)
    if how == "flow":
        return solve(ctx, blocks, set(), settings)
    for g, w in blocks:
        cand = block_candidates(ctx, g, w, set())
        if how == "greedy":
            complete(ctx, cand, settings, ledger)
        else:
            for gi, wi, si in solve_exact(ctx, cand, settings).triples:
                ledger.add(wi, gi, si)
    return ledger


def greedy_only(grids, workers, households, model) -> tuple[dict[str, float], float]:  # type: ignore[no-untyped-def]
    """Return the cost parts of the nearest-free-worker greedy and its seconds."""
    settings = StaffingSettings()
    t = time.perf_counter()
    ctx = plan_context(grids, workers, model=model, households=households)
    ledger = _ledger(ctx, community_blocks(ctx), "greedy", settings)
    return plan_cost(ctx, ledger, set(), settings), time.perf_counter() - t


def small_gaps(model: str, n_comm: int, seed: int) -> dict[str, list[float]]:
    """Return per method the cost / optimum of each small community (one row of 8 grids)."""
    grids, households = lattice(40 * n_comm, seed)
    grids = grids[grids["code"].str[-3:].astype(int) <= 8].reset_index(drop=True)
    households = households[households["grid_code"].isin(grids["code"])]
    workers = generate_roster(grids, households, seed=seed)
    out: dict[str, list[float]] = {"flow": [], "shipped": [], "greedy": []}
    for code in sorted(grids["community_code"].unique()):
        g = grids[grids["community_code"] == code].reset_index(drop=True)
        w = workers[workers["community_code"] == code].reset_index(drop=True)
        ctx = plan_context(g, w, model=model, households=households)
        blocks = community_blocks(ctx)
        base = StaffingSettings()
        best = plan_cost(ctx, _ledger(ctx, blocks, "exact", base), set(), base)["total"]
        for name, how, knobs in (
            ("flow", "flow", StaffingSettings(exact_below=0)),
            ("shipped", "flow", base),
            ("greedy", "greedy", base),
        ):
            ctx = plan_context(g, w, model=model, households=households)
            cost = plan_cost(ctx, _ledger(ctx, community_blocks(ctx), how, knobs), set(), knobs)[
                "total"
            ]
            out[name].append(cost / best)
    return out


def main() -> None:
    """Run the benchmark and print two tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.49)
    parser.add_argument("--small", type=int, default=20, help="small communities for the gap")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    grids, households = lattice(args.grids, args.seed)
    workers = generate_roster(grids, households, seed=args.seed, density=args.density)
    print(
        f"scale: {len(grids)} grids, {len(workers)} workers, {len(households)} households "
        f"({time.perf_counter() - t0:.1f}s to generate)"
    )
    header = (
        f"{'model':8} {'method':7} {'seconds':>8} {'required filled':>16} {'assignments':>12} "
        f"{'travel km':>10} {'overloaded':>10}"
    )
    print(header)
    print("-" * len(header))
    for model in ("1+1+N", "jiangxi", "1+2+X"):
        t = time.perf_counter()
        result = assign(grids, workers, model=model, households=households)
        seconds = time.perf_counter() - t
        s, cost = result.report["summary"], result.report["cost"]
        print(
            f"{model:8} {'flow':7} {seconds:8.1f} "
            f"{s['required_filled']:>7}/{s['required_positions']:<8} "
            f"{len(result.assignments):>12} {cost['travel_m'] / 1000:10.1f} "
            f"{s['workers_overloaded']:>10}"
        )
        gcost, gsec = greedy_only(grids, workers, households, model)
        filled = s["required_positions"] - gcost["required_unfilled"]
        made = s["positions"] - gcost["positions_unfilled"]
        print(
            f"{model:8} {'greedy':7} {gsec:8.1f} {int(filled):>7}/{s['required_positions']:<8} "
            f"{int(made):>12} {gcost['travel_m'] / 1000:10.1f} {'':>10}"
        )
    print(f"\ngap to the CP-SAT optimum on {args.small} communities of 8 grids (cost / optimum)")
    header = f"{'model':8} {'method':8} {'mean':>7} {'worst':>7} {'> 5%':>6} {'optimal':>8}"
    print(header)
    print("-" * len(header))
    for model in ("1+1+N", "jiangxi", "1+2+X"):
        for name, ratios in small_gaps(model, args.small, args.seed).items():
            r = np.array(ratios)
            print(
                f"{model:8} {name:8} {r.mean():7.3f} {r.max():7.3f} {(r > 1.05).sum():>6} "
                f"{(r <= 1 + 1e-9).sum():>5}/{len(r)}"
            )


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
