"""CPU of one community's read → validate and write (COPY) paths, per 1,000 households.

    PYTHONPATH=. python bench/city_io.py --folder /tmp/s3/city/1000000 --communities 6 \
        --postgis postgresql+psycopg://postgres@127.0.0.1:54329/postgres

Takes the largest communities of a city written by ``gridsvc.synth.write_city`` and, for each,
times ``gridsvc.city.inputs.read_community`` (slice read, validation, digest) and the task's
write (households, buildings and grids replaced by COPY in one transaction, into a fresh
PostGIS database) in CPU seconds of this process (``time.process_time``, as in
``Outcome.cpu_seconds``) and, when the server runs on this machine and its processes are
readable, of the database's server backends (``/proc/<pid>/schedstat``: time on a CPU). The
grids written are the community's partition, computed once and cached under ``--cache`` (not
timed). Each community is read and written ``--repeat`` times; the best CPU of each is kept.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import geopandas as gpd
from _postgis import create_database
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gridsvc.city.inputs import CityInputs, CommunityInputs, index_city, read_community
from gridsvc.city.task import _write
from gridsvc.config import Settings
from gridsvc.store import make_engine
from gridsvc.store.engine import migrate


def _grids(data: CommunityInputs, code: str, cache: Path) -> gpd.GeoDataFrame:
    path = cache / f"{code}.parquet"
    if path.exists():
        return gpd.read_parquet(path)
    from gridsvc.city.task import _compute

    grids, _ = _compute(data, Settings(partition_budget=0.0))
    cache.mkdir(parents=True, exist_ok=True)
    grids.to_parquet(path)
    return grids


def _server_seconds(engine: Engine) -> float:
    """Return the CPU seconds the database's server backends have used (nan if unreadable)."""
    with engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        try:
            return sum(int(open(f"/proc/{p}/schedstat").read().split()[0]) for p in pids) / 1e9
        except OSError:
            return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--communities", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--postgis", required=True, help="admin URL of a PostGIS server")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/city_io-grids"))
    args = parser.parse_args()
    folder: Path = args.folder
    inputs = CityInputs(
        folder / "communities.parquet", folder / "households.parquet",
        folder / "buildings.parquet", folder / "barriers.parquet",
    )  # fmt: skip
    jobs, counts = index_city(inputs)
    jobs = sorted(jobs, key=lambda j: (-counts.get(j.code, 0), j.code))[: args.communities]
    name = f"city_io_{os.getpid()}"
    engine = make_engine(create_database(args.postgis, name))
    migrate(engine)
    settings = {"bench": True}
    read_community(inputs, jobs[-1], settings=settings)  # warm imports and caches
    households = read_cpu = write_cpu = server_cpu = 0.0
    print(
        f"{'community':>14} {'households':>10} {'grids':>6} {'read CPU s':>10} "
        f"{'write CPU s':>11} {'server CPU s':>12}"
    )
    for job in jobs:
        best_read = best_write = best_server = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            data = read_community(inputs, job, settings=settings)
            best_read = min(best_read, time.process_time() - t0)
            grids = _grids(data, job.code, args.cache)
            t0, s0 = time.process_time(), _server_seconds(engine)
            _write(engine, job.code, data, grids, None, 0.0)
            best_write = min(best_write, time.process_time() - t0)
            best_server = min(best_server, _server_seconds(engine) - s0)
        n = len(data.households)
        households, read_cpu, write_cpu, server_cpu = (
            households + n,
            read_cpu + best_read,
            write_cpu + best_write,
            server_cpu + best_server,
        )
        print(
            f"{job.code:>14} {n:>10,} {len(grids):>6} {best_read:>10.3f} {best_write:>11.3f} "
            f"{best_server:>12.3f}"
        )
    per = 1000.0 / households
    print(
        f"per 1,000 households: read + validate {read_cpu * per:.4f} CPU s, "
        f"write {write_cpu * per:.4f} CPU s, server {server_cpu * per:.4f} CPU s "
        f"({households:,.0f} households)"
    )
    engine.dispose()
    admin = create_engine(
        make_url(args.postgis).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
