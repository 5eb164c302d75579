"""Partition every community of a generated city with gridsvc, one community per task.

The city is split by ``community_code`` (households, buildings; grouped once, before the pool
starts) and by intersection with each boundary (barriers). Tasks run in a pool of ``jobs`` forked
processes (the machine has 2 cores); each child inherits the city copy-on-write, so nothing is
pickled but the small results. ``budget`` is the engine's per-community ``budget_seconds`` (CPU
seconds of optional search: exact solvers, ReCom repair); None runs it in full.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import sys
import time
from typing import Any

import numpy as np

__all__ = ["partition_city"]

_CITY: Any = None
_ROWS: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # community code -> household, building rows
_BUDGET: float | None = None


def _group_rows(city: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return each community's household and building row positions (one pass over the city)."""
    hh = city.households["community_code"].astype(str).to_numpy()
    bld = city.buildings["community_code"].astype(str).to_numpy()
    empty = np.zeros(0, dtype=np.int64)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for code, rows in _positions(hh).items():
        out[code] = (rows, empty)
    for code, rows in _positions(bld).items():
        out[code] = (out.get(code, (empty, empty))[0], rows)
    return out


def _positions(codes: np.ndarray) -> dict[str, np.ndarray]:
    order = np.argsort(codes, kind="stable")
    keys, starts = np.unique(codes[order], return_index=True)
    return {
        str(k): order[a:b] for k, a, b in zip(keys, starts, [*starts[1:], len(order)], strict=True)
    }


def _one(i: int) -> dict[str, Any]:
    from gridsvc.partition import partition

    city = _CITY
    boundary = city.community.iloc[[i]]
    code = str(boundary["code"].iloc[0])
    empty = np.zeros(0, dtype=np.int64)
    hh_rows, bld_rows = _ROWS.get(code, (empty, empty))
    hh = city.households.iloc[hh_rows]
    bld = city.buildings.iloc[bld_rows]
    bar = None
    if city.barriers is not None and len(city.barriers):
        hit = city.barriers.sindex.query(boundary.geometry.iloc[0], predicate="intersects")
        bar = city.barriers.iloc[hit]
    t0, c0 = time.perf_counter(), time.process_time()
    res = partition(boundary, hh, buildings=bld, barriers=bar, seed=0, budget_seconds=_BUDGET)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    sizes = res.grids["households"].to_numpy(dtype=np.int64)
    return {
        "code": code,
        "households": len(hh),
        "seconds": secs,
        "cpu_seconds": cpu,
        "grids": len(sizes),
        "in_band": int(((sizes >= 30) & (sizes <= 50)).sum()),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _progress(row: dict[str, Any]) -> dict[str, Any]:
    """Print a finished community to stderr (read back if the whole run times out)."""
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def partition_city(
    city: Any, *, seed: int = 0, jobs: int = 2, budget: float | None = None
) -> dict[str, Any]:
    """Partition all communities of ``city``; return totals (grids, share in band, seconds)."""
    global _CITY, _ROWS, _BUDGET
    _CITY, _ROWS, _BUDGET = city, _group_rows(city), budget
    del seed  # the engine is deterministic; every community uses seed 0
    n = len(city.community)
    rows = []
    if jobs > 1:
        with mp.get_context("fork").Pool(jobs) as pool:
            for r in pool.imap_unordered(_one, range(n), chunksize=1):
                rows.append(_progress(r))
    else:
        rows = [_progress(_one(i)) for i in range(n)]
    grids = sum(r["grids"] for r in rows)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {
        "communities": n,
        "households_partitioned": sum(r["households"] for r in rows),
        "grids": grids,
        "in_band_share": sum(r["in_band"] for r in rows) / grids if grids else None,
        "jobs": jobs,
        "budget_seconds": budget,
        "sum_community_seconds": sum(r["seconds"] for r in rows),
        "sum_community_cpu_seconds": sum(r["cpu_seconds"] for r in rows),
        "slowest_community_seconds": max(r["seconds"] for r in rows),
        "largest_child_rss_mb": max(max(r["rss_mb"] for r in rows), children) if jobs > 1 else None,
    }
