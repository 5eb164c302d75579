"""Merge cost on a staffed synthetic city: CPU seconds of ``merge()`` per community and per 1,000.

    python bench/merge_city.py --households 10000 [--profile merge.prof]

Writes the city as ``city_run.py --staffed`` does (``write_city(seed=0, layers=True,
roster=True)``), reads each community as a city run does and merges it with police beats hard,
party grids soft and the city run's default budget (``engine_options``), without Dask, the store
or staffing, so only the merge is timed (``time.process_time``). Each community's line carries
digests of its assignment, unified geometries and crosswalk, so two versions of the merge can
be compared for identical outcomes.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import shapely

from gridsvc.city.inputs import CityInputs, index_city, read_community
from gridsvc.city.task import settings_key
from gridsvc.config import Settings
from gridsvc.merge import MergeResult, merge
from gridsvc.synth import write_city
from gridsvc.workflows import engine_options


def _digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()[:10]


def digests(result: MergeResult) -> dict[str, str]:
    """Return short digests of the merge's assignment, unified geometries and crosswalk."""
    a = result.assignment
    pairs = "|".join(a["household_id"].astype(str) + ":" + a["grid_code"].astype(str))
    return {
        "assignment": _digest(pairs.encode()),
        "geometry": _digest(b"".join(shapely.to_wkb(result.unified.geometry.to_numpy()))),
        "crosswalk": _digest(result.crosswalk.to_csv().encode()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="merge-city-"))
    if not (folder / "households.parquet").exists():
        write_city(folder, seed=0, households=args.households, layers=True, roster=True)
    layers = folder / "layers.parquet"
    inputs = CityInputs(
        folder / "communities.parquet", folder / "households.parquet",
        folder / "buildings.parquet", folder / "barriers.parquet",
        layers=(f"police={layers}:hard", f"party={layers}:soft"),
        roster=folder / "roster.parquet",
    )  # fmt: skip
    settings = Settings(partition_budget=1.0)  # the budget `gridsvc run-city` uses by default
    jobs, _counts = index_city(inputs)
    profile = cProfile.Profile() if args.profile else None
    total_cpu, total_hh = 0.0, 0
    print("| community | households | unified grids | soft kept | within | CPU s | digests |")
    print("|---|---:|---:|---|---:|---:|---|")
    for job in jobs:
        data = read_community(inputs, job, settings=settings_key(settings, True))
        started = time.process_time()
        if profile:
            profile.enable()
        result = merge(
            data.community, data.households, data.layers, buildings=data.buildings,
            barriers=data.barriers, **engine_options(settings),
        )  # fmt: skip
        if profile:
            profile.disable()
        cpu = time.process_time() - started
        total_cpu += cpu
        total_hh += len(data.households)
        m = result.report["measures"]
        soft = ", ".join(f"{n} {100 * v:.1f}%" for n, v in m["soft_share_unchanged"].items())
        print(
            f"| {job.code} | {len(data.households)} | {m['unified_grids']} | {soft} "
            f"| {100 * m['share_within_bounds']:.1f}% | {cpu:.1f} | {digests(result)} |",
            flush=True,
        )
    print(f"merge CPU s per 1,000 households: {1000 * total_cpu / max(total_hh, 1):.2f}")
    if profile and args.profile:
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
