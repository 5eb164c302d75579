"""Partition every community of a generated city, without the store: CPU seconds and quality.

    python bench/partition_city.py --folder /tmp/s3/city/1000000 --budget 0.2 --jobs 2

Reads the city's GeoParquet files one community at a time (``gridsvc.city.inputs``, as a city
run does), partitions it with the settings a city run uses (``workflows.engine_options``) and
counts the CPU seconds of ``partition`` alone (reading is counted apart). Communities run on
``--jobs`` forked processes, largest first. Prints one JSON line per community (``--verbose``)
and a summary: CPU seconds in all, per 1,000 households, wall seconds, load average, the share
of inhabited base grids within the bounds, the mean and least Polsby–Popper of the base grids
and how many fall below 0.15.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from gridsvc.city.inputs import CityInputs, CommunityJob, index_city, read_community
from gridsvc.config import CITY_BUDGET, Settings

_INPUTS: CityInputs | None = None
_SETTINGS: Settings | None = None


def _one(job: CommunityJob) -> dict[str, Any]:
    from gridsvc.partition import partition
    from gridsvc.workflows import engine_options

    assert _INPUTS is not None and _SETTINGS is not None
    t0 = time.process_time()
    data = read_community(_INPUTS, job, settings={})
    t1 = time.process_time()
    result = partition(
        data.community, data.households, buildings=data.buildings, barriers=data.barriers,
        **engine_options(_SETTINGS),
    )  # fmt: skip
    cpu = time.process_time() - t1
    grids = result.grids
    lo, hi = _SETTINGS.min_households, _SETTINGS.max_households
    lived = grids[grids["households"] > 0]
    return {
        "code": job.code,
        "households": len(data.households),
        "read_cpu_s": round(t1 - t0, 3),
        "cpu_s": round(cpu, 3),
        "grids": len(grids),
        "lived": len(lived),
        "in_band": int(lived["households"].between(lo, hi).sum()),
        "pp_sum": float(grids["polsby_popper"].sum()),
        "pp_min": float(grids["polsby_popper"].min()) if len(grids) else 1.0,
        "pp_low": int((grids["polsby_popper"] < 0.15).sum()),
        "microgrids": len(result.microgrids),
    }


def main() -> int:
    global _INPUTS, _SETTINGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, required=True)
    ap.add_argument(
        "--budget", type=float, default=CITY_BUDGET, help="budget units per community (run-city's)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N communities")
    ap.add_argument(
        "--pick", default="", help="only these communities: indices, largest first (0,10,30)"
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    f = args.folder
    _INPUTS = CityInputs(
        f / "communities.parquet", f / "households.parquet",
        f / "buildings.parquet", f / "barriers.parquet",
    )  # fmt: skip
    _SETTINGS = Settings(partition_budget_seconds=args.budget)
    jobs, _counts = index_city(_INPUTS)  # largest first
    if args.pick:
        jobs = [jobs[int(i)] for i in args.pick.split(",")]
    if args.limit:
        jobs = jobs[: args.limit]
    load = [os.getloadavg()[0]]
    wall = time.perf_counter()
    rows = []
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        for row in pool.imap_unordered(_one, jobs):
            rows.append(row)
            load.append(os.getloadavg()[0])
            if args.verbose:
                print(json.dumps(row), flush=True)
    wall = time.perf_counter() - wall
    households = sum(r["households"] for r in rows)
    cpu = sum(r["cpu_s"] for r in rows)
    summary = {
        "communities": len(rows),
        "households": households,
        "budget_s": args.budget,
        "jobs": args.jobs,
        "cpu_s": round(cpu, 1),
        "cpu_s_per_1k": round(1000 * cpu / max(households, 1), 4),
        "read_cpu_s": round(sum(r["read_cpu_s"] for r in rows), 1),
        "wall_s": round(wall, 1),
        "load_min_max": [round(min(load), 1), round(max(load), 1)],
        "grids": sum(r["grids"] for r in rows),
        "in_band": round(
            sum(r["in_band"] for r in rows) / max(sum(r["lived"] for r in rows), 1), 4
        ),
        "mean_pp": round(sum(r["pp_sum"] for r in rows) / max(sum(r["grids"] for r in rows), 1), 4),
        "min_pp": round(min((r["pp_min"] for r in rows), default=1.0), 4),
        "grids_pp_below_0.15": sum(r["pp_low"] for r in rows),
        "slowest_cpu_s": max((r["cpu_s"] for r in rows), default=0.0),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
