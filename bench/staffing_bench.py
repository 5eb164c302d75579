"""Staffing benchmark: 20,000 workers × 10,000 grids under each shipped model, and the gap to
the exact optimum on a few communities.

Grids are a synthetic lattice (communities of 8 × 5 grids of 100 m, ~40 households each, two
police beats per community) so the bench measures the staffing solver, not the partition engine.
Peers side by side: ``greedy`` (nearest free eligible worker, slot by slot: what a roster
spreadsheet or a simple platform does) and ``exact`` (CP-SAT over every eligible triple, the
optimum; only on a few communities). Run: ``python bench/staffing_bench.py [--grids 10000]``.
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc.staffing import StaffingSettings, assign, generate_roster, plan_context
from gridsvc.staffing.assign import _blocks
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


def greedy_only(grids, workers, households, model) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Return the cost of the nearest-free-worker greedy on the same candidates."""
    settings = StaffingSettings()
    ctx = plan_context(grids, workers, model=model, households=households)
    from gridsvc.staffing.context import Ledger

    ledger = Ledger(ctx)
    for g, w in _blocks(ctx):
        complete(ctx, block_candidates(ctx, g, w, set()), settings, ledger)
    return plan_cost(ctx, ledger, set(), settings)


def exact_gap(grids, workers, households, model, n_comm: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Return (ours, exact, greedy) totals over the first ``n_comm`` communities."""
    keep = grids["community_code"].isin(sorted(grids["community_code"].unique())[:n_comm])
    sub = grids[keep].reset_index(drop=True)
    subw = workers[workers["community_code"].isin(sub["community_code"])].reset_index(drop=True)
    settings = StaffingSettings()
    ctx = plan_context(sub, subw, model=model, households=households)
    blocks = _blocks(ctx)
    ours = plan_cost(ctx, solve(ctx, blocks, set(), settings), set(), settings)["total"]
    from gridsvc.staffing.context import Ledger
    from gridsvc.staffing.solver import Triples

    exact_ledger = Ledger(ctx)
    for g, w in blocks:
        part = solve_exact(ctx, block_candidates(ctx, g, w, set()), settings)
        for t in part.triples:
            exact_ledger.add(t[1], t[0], t[2])
    exact = plan_cost(ctx, exact_ledger, set(), settings)["total"]
    greedy = Ledger(ctx)
    for g, w in blocks:
        complete(ctx, block_candidates(ctx, g, w, set()), settings, greedy)
    del Triples
    return ours, exact, plan_cost(ctx, greedy, set(), settings)["total"]


def main() -> None:
    """Run the benchmark and print one table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.49)
    parser.add_argument("--exact-communities", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    grids, households = lattice(args.grids, args.seed)
    workers = generate_roster(grids, households, seed=args.seed, density=args.density)
    print(
        f"fixture: {len(grids)} grids, {len(workers)} workers, {len(households)} households "
        f"({time.perf_counter() - t0:.1f}s to generate)"
    )
    header = (
        f"{'model':8} {'method':7} {'seconds':>8} {'req filled':>11} {'positions':>10} "
        f"{'travel km':>10} {'overloaded':>10} {'gap to exact':>13}"
    )
    print(header)
    print("-" * len(header))
    for model in ("1+1+N", "jiangxi", "1+2+X"):
        t = time.perf_counter()
        result = assign(grids, workers, model=model, households=households)
        seconds = time.perf_counter() - t
        s, cost = result.report["summary"], result.report["cost"]
        ours, exact, greedy = exact_gap(grids, workers, households, model, args.exact_communities)
        print(
            f"{model:8} {'flow':7} {seconds:8.1f} "
            f"{s['required_filled']:>5}/{s['required_positions']:<5} "
            f"{len(result.assignments):>10} {cost['travel_m'] / 1000:10.1f} "
            f"{s['workers_overloaded']:>10} {100 * (ours / exact - 1):12.2f}%"
        )
        t = time.perf_counter()
        gcost = greedy_only(grids, workers, households, model)
        gsec = time.perf_counter() - t
        filled = s["required_positions"] - gcost["required_unfilled"]
        positions = s["positions"] - gcost["positions_unfilled"]
        print(
            f"{model:8} {'greedy':7} {gsec:8.1f} {int(filled):>5}/{s['required_positions']:<5} "
            f"{int(positions):>10} {gcost['travel_m'] / 1000:10.1f} {'':>10} "
            f"{100 * (greedy / exact - 1):12.2f}%"
        )


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
