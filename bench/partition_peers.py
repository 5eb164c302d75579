"""Benchmark the gridsvc partition engine against spopt max-p and GerryChain, side by side.

Usage (from the repository root)::

    python bench/partition_peers.py            # the peer communities

The city-scale run (Dask, PostGIS, 1 and 2 workers, projection) is ``bench/city_run.py``.

Each community is turned into ONE set of atoms and ONE adjacency graph (see ``_workload``); every
(community, method) pair then runs in its own subprocess, three times (seeds 0, 1, 2), so its
seconds (wall clock, and CPU seconds of the worker process beside them: the machine may be
shared) are a median and its peak RSS is its own. Quality columns come from the seed-0 run (the
first run that produced a plan, for GerryChain). Not a test: it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from _methods import LABELS, METHODS, quality  # noqa: E402
from _workload import Workload, areal_workload, household_workload  # noqa: E402

BALTIMORE = ROOT / "fixtures" / "baltimore_pigtown.gpkg"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- workloads -----------------------------------------------------------------------------------


def build_workloads(only: set[str] | None) -> list[Workload]:
    """Build the workloads of the benchmark communities that are available."""
    out: list[Workload] = []

    def want(name: str) -> bool:
        return only is None or name in only

    # the committed fixtures' own generator calls (fixtures/make_fixtures.py: yudu, urban, village)
    from fixtures.make_fixtures import SAMPLES, sample

    for name in SAMPLES:
        if not want(name):
            continue
        data, _layers = sample(name)
        out.append(
            household_workload(
                name,
                data.community,
                data.households,
                buildings=getattr(data, "buildings", None),
                barriers=getattr(data, "barriers", None),
            )
        )
    if want("baltimore"):
        if BALTIMORE.exists():
            import geopandas as gpd

            blocks = gpd.read_file(BALTIMORE, layer="blocks_2020").to_crs(4326)
            outline = gpd.read_file(BALTIMORE, layer="csa_outline").to_crs(4326)
            boundary = gpd.GeoDataFrame(
                {"code": ["245100000001"], "name": ["Washington Village/Pigtown"]},
                geometry=[outline.union_all()],
                crs=4326,
            )
            out.append(areal_workload("baltimore", boundary, blocks, "housing20"))
        else:
            print(f"! {BALTIMORE} missing: Baltimore blocks skipped", file=sys.stderr)
    return out


# --- workers (subprocesses) ----------------------------------------------------------------------


def worker(path: str, method: str, repeats: int, budget: float) -> dict[str, Any]:
    """Run ``method`` on the pickled workload up to ``repeats`` times; return timings and quality.

    Repeats stop early once the runs so far took more than ``budget`` seconds.
    """
    with open(path, "rb") as fh:
        work: Workload = pickle.load(fh)
    run = METHODS[method]
    base = _rss_mb()
    seconds: list[float] = []
    cpu: list[float] = []
    errors: list[str] = []
    first = None
    for seed in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            plan = run(work, seed)
        except Exception as exc:  # report, don't crash the table
            from _methods import Plan

            plan = Plan(error=f"{type(exc).__name__}: {str(exc)[:120]}")
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if plan.error:
            errors.append(plan.error)
        elif first is None:
            first = plan
        if sum(seconds) > budget:
            break
    result: dict[str, Any] = {
        "seconds": statistics.median(seconds),
        "all_seconds": seconds,
        "cpu_seconds": statistics.median(cpu),
        "ok": len(seconds) - len(errors),
        "runs": len(seconds),
        "errors": sorted(set(errors)),
        "rss_base_mb": base,
        "rss_peak_mb": _rss_mb(),
    }
    from _methods import Plan

    result.update(quality(first or Plan()))
    return result


def _spawn(args: list[str], timeout: float) -> dict[str, Any]:
    """Run this script as a worker in its own process group; kill the group on timeout."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and any pool children it forked
        _, err = proc.communicate()
        done = [json.loads(ln) for ln in err.splitlines() if ln.startswith('{"code"')]
        return {
            "timeout": timeout,
            "seconds": time.perf_counter() - t0,
            "communities_done": len(done),
            "households_done": sum(d["households"] for d in done),
            "grids_done": sum(d["grids"] for d in done),
            "largest_child_rss_mb": max((d["rss_mb"] for d in done), default=None),
        }
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = err.strip().splitlines()[-1:] or ["no output"]
        return {"crash": tail[0][:160]}
    return dict(json.loads(lines[-1]))


# --- table ---------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None else format(v, spec)


HEAD = (
    "| community | households | atoms | method | grids | in 30–50 | min–max hh | PP mean | PP min"
    " | PP own polygons | grids crossing a barrier | seconds (median) | CPU s | plans"
    " | peak RSS MB |"
)


LEGEND = """\
Rows: gridsvc (full engine) = `partition()` on the raw inputs: builds atoms, tessellates, plans
the base level, draws polygons (empty land shared out), partitions the micro level, writes the
report; all included in its seconds. gridsvc (same atoms) = the engine's base-level planner
(`level.plan_grids`: regions, heuristic split, exact cover, boundary moves, mending) on the very
atoms and graph spopt gets; no tessellation, polygons, micro level or report: the like-for-like
row. Peers and the same-atoms row get atoms + graph for free; all are scored on unions of their
inhabited cells (empty cells are labelled, not scored), drawn after the timed run. Compare CPU
seconds: the machine may be shared."""


def speedups(results: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Return a line per community and gridsvc method: spopt's seconds over the method's
    (wall-clock medians; CPU-second medians beside them)."""
    out = []
    for (name, method), r in results.items():
        peer = results.get((name, "spopt"))
        if not method.startswith("gridsvc") or peer is None or "seconds" not in r:
            continue
        if "cpu_seconds" not in peer or "cpu_seconds" not in r or "timeout" in peer:
            continue
        wall = peer["seconds"] / max(r["seconds"], 1e-9)
        cpu = peer["cpu_seconds"] / max(r["cpu_seconds"], 1e-9)
        out.append(
            f"- {name}: {LABELS.get(method, method)} is {wall:.1f}x spopt's speed "
            f"({cpu:.1f}x in CPU seconds)"
        )
    return out


def row(work: Workload, method: str, r: dict[str, Any], repeats: int) -> str:
    """Format one table row."""
    method = LABELS.get(method, method)
    if "timeout" in r:
        note = f"timed out after {r['timeout']:.0f} s"
        return (
            f"| {work.name} | {work.households} | {work.n_atoms} | {method} | – | – | – | – | – "
            f"| – | – | > {r['timeout']:.0f} | – | 0/{repeats} ({note}) | – |"
        )
    if "crash" in r:
        return (
            f"| {work.name} | {work.households} | {work.n_atoms} | {method} | – | – | – | – | – "
            f"| – | – | – | – | crashed: {r['crash']} | – |"
        )
    band = "–" if r["in_band"] is None else f"{100 * r['in_band']:.0f} %"
    span = "–" if r.get("min_hh") is None else f"{r['min_hh']}–{r['max_hh']}"
    own = "–"
    if r.get("own_pp_mean") is not None:
        own = f"{r['own_pp_mean']:.3f} / {r['own_pp_min']:.3f}"
    single_block = len(set(work.block.tolist())) <= 1
    cross = "–" if r.get("crossing") is None or single_block else str(r["crossing"])
    plans = f"{r['ok']}/{r['runs']}"
    if r["errors"]:
        plans += " (" + "; ".join(r["errors"])[:90] + ")"
    return (
        f"| {work.name} | {work.households} | {work.n_atoms} | {method} | {_fmt(r['grids'], 'd')} "
        f"| {band} | {span} | {_fmt(r['pp_mean'], '.3f')} | {_fmt(r['pp_min'], '.3f')} "
        f"| {own} | {cross} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {plans} "
        f"| {r['rss_peak_mb']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="no effect (the city row moved)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per (community, method)")
    ap.add_argument(
        "--budget", type=float, default=300.0, help="no further repeats once runs took this long"
    )
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--communities", default=None, help="comma list: yudu,urban,village,baltimore")
    ap.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.repeats, args.budget)))
        return 0
    only = set(args.communities.split(",")) if args.communities else None
    methods = [m for m in args.methods.split(",") if m]
    works = build_workloads(only)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"# partition benchmark, {stamp}, python {sys.version.split()[0]}")
    print(versions())
    for w in works:
        print(
            f"- {w.name}: {w.households} households, {w.n_atoms - w.empty} ground atoms"
            f" + {w.empty} empty cells, "
            f"{len(w.stacked)} stacked, {len(w.u)} edges, atoms/graph from {w.source} "
            f"in {w.prep_seconds:.2f} s"
        )
    print()
    print(HEAD)
    print("|" + "---|" * HEAD.count(" | ") + "---|")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for w in works:
            path = Path(tmp) / f"{w.name}.pkl"
            with open(path, "wb") as fh:
                pickle.dump(w, fh)
            for m in methods:
                r = _spawn(
                    [
                        "--worker",
                        str(path),
                        m,
                        "--repeats",
                        str(args.repeats),
                        "--budget",
                        str(args.budget),
                    ],
                    args.timeout,
                )
                results[w.name, m] = r
                print(row(w, m, r, args.repeats), flush=True)
    print()
    print(LEGEND)
    for line in speedups(results):
        print(line)
    print("\ncity scale: python bench/city_run.py --postgis URL (Dask, PostGIS)")
    return 0


def versions() -> str:
    """Return the versions of the libraries compared."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for pkg in ("spopt", "libpysal", "gerrychain", "rustworkx", "networkx", "shapely", "geopandas"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{pkg} missing")
    return "versions: " + ", ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
