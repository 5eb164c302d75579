"""City run end to end on Dask: GeoParquet → partition → PostGIS, on 1 and 2 workers; export.

    python bench/city_run.py --households 100000 --workers 1 2 \
        --postgis postgresql+psycopg://postgres@127.0.0.1:54329/postgres

Each measurement runs in its own subprocess (clean peak RSS): ``generate`` writes the city with
``gridsvc.synth.write_city``; ``run`` calls ``gridsvc.city.run_city`` on a LocalCluster of N
workers into a fresh PostGIS database; ``export`` writes the stored grids and households as
GeoJSON and GeoPackage with ``gridsvc.export``. Prints a table; the projection for 50,000,000
households on 64 workers uses the measured per-community cost (sum of task seconds per
household) and the measured 2-worker scaling efficiency.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generate(folder: Path, households: int) -> dict[str, Any]:
    from gridsvc.synth import write_city

    t0 = time.perf_counter()
    files = write_city(folder, seed=0, households=households, layers=False, roster=False)
    return {"seconds": time.perf_counter() - t0, "rss_mb": _rss_mb(),
            "communities": files.communities, "households": files.households}  # fmt: skip


def run(folder: Path, url: str, workers: int) -> dict[str, Any]:
    from gridsvc.city import CityInputs, run_city
    from gridsvc.config import Settings

    inputs = CityInputs(
        folder / "communities.parquet", folder / "households.parquet",
        folder / "buildings.parquet", folder / "barriers.parquet",
    )  # fmt: skip
    report = run_city(inputs, Settings(), store_url=url, workers=workers)
    done = [o for o in report.outcomes if o.status == "done"]
    return {
        "seconds": report.seconds,
        "driver_rss_mb": report.driver_rss_mb,
        "worker_rss_mb": report.worker_rss_mb,
        "task_seconds": sum(o.seconds for o in done),
        "stage_seconds": {
            s: sum(o.stages.get(s, 0.0) for o in done) for s in ("read", "partition", "write")
        },
        "slowest_task_s": max((o.seconds for o in done), default=0.0),
        **report.totals,
    }


def export(folder: Path, url: str) -> dict[str, Any]:
    from gridsvc.export import export_kind
    from gridsvc.store import make_engine, session_scope

    out: dict[str, Any] = {}
    engine = make_engine(url)
    for suffix in (".geojson", ".gpkg"):
        t0 = time.perf_counter()
        rows = 0
        with session_scope(engine) as session:
            for kind in ("grids", "households"):
                rows += export_kind(session, folder / f"export-{kind}{suffix}", kind=kind)
        out[suffix] = {"seconds": time.perf_counter() - t0, "rows": rows}
    out["rss_mb"] = _rss_mb()
    return out


def _database(admin_url: str, name: str) -> str:
    url = make_url(admin_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = url.set(database=name)
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return target.render_as_string(hide_password=False)


def _spawn(*args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, nargs="+", default=[100_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--postgis", help="a PostGIS server URL (any database); required")
    ap.add_argument("--folder", type=Path, default=Path("/tmp/gridsvc-city-bench"))
    ap.add_argument("--step", choices=["generate", "run", "export"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step == "generate":
        print(json.dumps(generate(args.folder, args.households[0])))
        return 0
    if args.step == "run":
        print(json.dumps(run(args.folder, args.url, args.workers[0])))
        return 0
    if args.step == "export":
        print(json.dumps(export(args.folder, args.url)))
        return 0
    if not args.postgis:
        ap.error("--postgis URL is required")
    rows = []
    for households in args.households:
        folder = args.folder / str(households)
        gen = _spawn("--step", "generate", "--households", str(households), "--folder", str(folder))
        print(f"generated {households:,}: {json.dumps(gen)}", flush=True)
        runs: dict[int, dict[str, Any]] = {}
        for workers in args.workers:
            url = _database(args.postgis, f"gridsvc_bench_{households}_{workers}")
            load = os.getloadavg()[0]
            runs[workers] = _spawn("--step", "run", "--workers", str(workers),
                                   "--folder", str(folder), "--url", url)  # fmt: skip
            runs[workers]["load"] = load
            print(f"run {households:,} on {workers}: {json.dumps(runs[workers])}", flush=True)
        exp = _spawn("--step", "export", "--folder", str(folder), "--url", url)
        print(f"export {households:,}: {json.dumps(exp)}", flush=True)
        rows.append((households, gen, runs, exp))
    _table(rows)
    return 0


def _table(
    rows: list[tuple[int, dict[str, Any], dict[int, dict[str, Any]], dict[str, Any]]],
) -> None:
    print()
    print("| households | communities | workers | seconds | efficiency "
          "| driver / worker peak RSS MB | task s per 1k hh | load |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for households, gen, runs, exp in rows:
        one = runs.get(min(runs))
        for workers, r in sorted(runs.items()):
            eff = one["seconds"] / (workers * r["seconds"]) if one else float("nan")
            per_k = r["task_seconds"] / max(r["done"], 1) / (households / gen["communities"]) * 1000
            print(f"| {households:,} | {gen['communities']} | {workers} | {r['seconds']:.0f} | "
                  f"{eff:.0%} | {r['driver_rss_mb']:.0f} / {r['worker_rss_mb']:.0f} | "
                  f"{per_k:.2f} | {r['load']:.1f} |")  # fmt: skip
        best = runs[max(runs)]
        per_hh = best["task_seconds"] / best["households"]
        eff = one["seconds"] / (max(runs) * best["seconds"]) if len(runs) > 1 and one else 1.0
        ideal = 50_000_000 * per_hh / 64
        print(f"\nprojection, 50,000,000 households on 64 workers: {ideal / 60:.0f} min at "
              f"{per_hh * 1000:.2f} task-s per 1,000 households (perfect scaling), "
              f"{ideal / max(eff, 1e-9) / 60:.0f} min at the measured {eff:.0%} "
              "efficiency")  # fmt: skip
        print(f"export {households:,}: GeoJSON {exp['.geojson']['seconds']:.1f} s, GeoPackage "
              f"{exp['.gpkg']['seconds']:.1f} s ({exp['.gpkg']['rows']:,} rows), peak RSS "
              f"{exp['rss_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
