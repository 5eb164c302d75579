"""``assign``: staff every grid under a model; ``write_assignment``: write its three files."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridsvc.errors import InputError, Problem
from gridsvc.staffing.check import plan_problems
from gridsvc.staffing.context import Context, build_context
from gridsvc.staffing.model import StaffingModel, load_model
from gridsvc.staffing.report import build_report
from gridsvc.staffing.roster import check_roster
from gridsvc.staffing.settings import StaffingSettings
from gridsvc.staffing.solver import plan_cost, solve
from gridsvc.staffing.workload import attach_beats, grid_workload

__all__ = ["AssignmentResult", "assign", "community_blocks", "plan_context", "write_assignment"]

log = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["grid_code", "worker_id", "role", "kept"]


@dataclass(frozen=True)
class AssignmentResult:
    """Assignments (grid_code, worker_id, role, kept), per-grid rosters and the report."""

    assignments: pd.DataFrame
    rosters: dict[str, Any]
    report: dict[str, Any]


def assign(
    grids: gpd.GeoDataFrame,
    workers: gpd.GeoDataFrame,
    *,
    model: StaffingModel | str,
    households: gpd.GeoDataFrame | None = None,
    household_grids: pd.DataFrame | None = None,
    layers: gpd.GeoDataFrame | None = None,
    previous: pd.DataFrame | None = None,
    settings: StaffingSettings | None = None,
) -> AssignmentResult:
    """Fill every slot of every grid that can be filled, cheaply and within capacities.

    ``households`` give the visit load (and resolve roster ``household_id`` homes);
    ``household_grids`` (household_id, grid_code: the partition's ``assignment``) places them
    in grids when they carry no ``grid_code``. ``layers`` (kind layer_grids) give grids their
    police beat when they have no ``police_beat`` column. ``previous`` (grid_code, worker_id,
    role) is kept where still valid; every change is reported.
    """
    settings = settings or StaffingSettings()
    started = time.perf_counter()
    ctx = plan_context(
        grids,
        workers,
        model=model,
        households=households,
        household_grids=household_grids,
        layers=layers,
    )
    prev_rows, prev_set = _previous(ctx, previous)
    blocks = community_blocks(ctx)
    prepared = time.perf_counter()
    ledger = solve(ctx, blocks, prev_set, settings)
    solved = time.perf_counter()
    plan = _plan(ctx, ledger, prev_set)
    problems = plan_problems(plan, ctx, source="solver")
    if problems:  # a solver bug, never the user's input
        raise RuntimeError(f"solver produced an invalid plan: {problems[:3]}")
    cost = plan_cost(ctx, ledger, prev_set, settings)
    rosters, report = build_report(ctx, ledger, plan, prev_rows, ctx.seats, settings)
    report["cost"] = cost
    report["timing"] = {
        "prepare_s": round(prepared - started, 3),
        "solve_s": round(solved - prepared, 3),
        "total_s": round(time.perf_counter() - started, 3),
        "blocks": len(blocks),
    }
    log.info(
        "staffed %d grids with %d assignments in %.1fs",
        len(ctx.grid_codes),
        len(plan),
        solved - started,
    )
    return AssignmentResult(plan, rosters, report)


def plan_context(
    grids: gpd.GeoDataFrame,
    workers: gpd.GeoDataFrame,
    *,
    model: StaffingModel | str,
    households: gpd.GeoDataFrame | None = None,
    household_grids: pd.DataFrame | None = None,
    layers: gpd.GeoDataFrame | None = None,
) -> Context:
    """Check the inputs and align them for solving or for checking a hand-made plan."""
    if isinstance(model, str):
        model = load_model(model)
    grids = _grids_of_level(grids, model)
    if "police_beat" not in grids and layers is not None:
        grids = attach_beats(grids, layers)
    workers = check_roster(workers, households=households, model=model, source="workers")
    workload = grid_workload(grids, households, assignment=household_grids)
    ctx = build_context(grids, workload, workers, model)
    ctx.seats = _seat_centre(ctx)
    return ctx


def _grids_of_level(grids: gpd.GeoDataFrame, model: StaffingModel) -> gpd.GeoDataFrame:
    missing = [c for c in ("code", "community_code") if c not in grids]
    if missing:
        raise InputError(
            [Problem("required column missing", source="grids", field=c) for c in missing]
        )
    if "level" in grids:
        levels = pd.to_numeric(grids["level"], errors="coerce").fillna(1).astype(int)
        grids = grids[(levels == model.level).to_numpy()]
    if grids.empty:
        raise InputError(
            Problem(
                f"no grids of level {model.level} to staff under model {model.name}",
                source="grids",
                field="level",
            )
        )
    dup = grids["code"][grids["code"].duplicated()]
    if not dup.empty:
        raise InputError(
            Problem(
                f"duplicate grid codes: {', '.join(map(str, dup.unique()[:5]))}",
                source="grids",
                field="code",
            )
        )
    return grids.reset_index(drop=True)


def _seat_centre(ctx: Context) -> dict[str, list[dict[str, str]]]:
    """Keep the model's centre seats per community (lowest worker ids first) off the grids."""
    out: dict[str, list[dict[str, str]]] = {}
    if not ctx.model.centre:
        return out
    for comm in sorted(set(ctx.grid_comm)):
        seated: list[dict[str, str]] = []
        mine = np.flatnonzero(ctx.comm == comm)
        mine = mine[np.argsort(ctx.worker_ids[mine], kind="stable")]
        for seat in ctx.model.centre:
            fits = [
                w for w in mine if not ctx.centre[w] and seat.eligible & set(ctx.worker_roles[w])
            ]
            for w in fits[: seat.count]:
                ctx.centre[w] = True
                seated.append(
                    {
                        "seat": seat.label,
                        "worker_id": str(ctx.worker_ids[w]),
                        "name": str(ctx.worker_names[w]),
                    }
                )
            if len(fits) < seat.count:
                seated.append(
                    {
                        "seat": seat.label,
                        "worker_id": "",
                        "name": "",
                        "reason": f"only {len(fits)} of {seat.count} eligible",
                    }
                )
        out[comm] = seated
    return out


def _previous(
    ctx: Context, previous: pd.DataFrame | None
) -> tuple[list[tuple[str, str, str]], set[tuple[int, int, int]]]:
    if previous is None or previous.empty:
        return [], set()
    missing = [c for c in ("grid_code", "worker_id", "role") if c not in previous]
    if missing:
        raise InputError(
            [Problem("required column missing", source="previous", field=c) for c in missing]
        )
    rows = list(
        zip(
            *(previous[c].astype(str).to_numpy() for c in ("grid_code", "worker_id", "role")),
            strict=True,
        )
    )
    slot_of = {sl.role: i for i, sl in enumerate(ctx.model.slots)}
    known = set()
    for code, wid, role in rows:
        g, w, s = ctx.grid_index.get(code), ctx.worker_index.get(wid), slot_of.get(role)
        if g is not None and w is not None and s is not None:
            known.add((g, w, s))
    return rows, known


def community_blocks(ctx: Context) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split grids and workers by community (sorted by code), the exact decomposition."""
    blocks = []
    worker_order = np.argsort(ctx.comm.astype(str), kind="stable")
    wcomm = ctx.comm.astype(str)[worker_order]
    for comm in sorted(set(ctx.grid_comm)):
        grids = np.flatnonzero(ctx.grid_comm == comm)
        lo, hi = np.searchsorted(wcomm, comm, "left"), np.searchsorted(wcomm, comm, "right")
        blocks.append((grids, np.sort(worker_order[lo:hi])))
    return blocks


def _plan(ctx: Context, ledger: Any, previous: set[tuple[int, int, int]]) -> pd.DataFrame:
    triples = sorted(
        ledger.triples, key=lambda t: (ctx.grid_codes[t[0]], t[2], ctx.worker_ids[t[1]])
    )
    return pd.DataFrame(
        {
            "grid_code": [str(ctx.grid_codes[g]) for g, _, _ in triples],
            "worker_id": [str(ctx.worker_ids[w]) for _, w, _ in triples],
            "role": [ctx.model.slots[s].role for _, _, s in triples],
            "kept": [t in previous for t in triples],
        },
        columns=ASSIGNMENT_COLUMNS,
    )


def write_assignment(result: AssignmentResult, out_dir: str | Path) -> dict[str, Path]:
    """Write assignments.csv, rosters.json and report.json under ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "assignments": out / "assignments.csv",
        "rosters": out / "rosters.json",
        "report": out / "report.json",
    }
    result.assignments.to_csv(paths["assignments"], index=False, encoding="utf-8")
    for key in ("rosters", "report"):
        data = result.rosters if key == "rosters" else result.report
        paths[key].write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths
