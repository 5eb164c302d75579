"""Whole jobs built from the parts: partition from files or from the store, and the demo.

The CLI and the API both call these; they know files and the store but no HTTP and no terminal
(progress goes through the ``say(message, fraction_done)`` callback the caller passes).
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from . import frames
from .config import Settings

__all__ = [
    "CommunityBundle",
    "PartitionInputs",
    "engine_options",
    "partition_community",
    "partition_levels",
    "read_community_bundle",
    "run_assign_files",
    "run_demo",
    "run_partition_files",
    "seed_demo_accounts",
    "staff_demo_community",
    "write_partition",
]

log = logging.getLogger(__name__)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO_COMMUNITIES = ("yudu", "urban", "village")
DEMO_EXPORTS = (
    ("grids", "grids.geojson"),
    ("grids", "grids.gpkg"),
    ("households", "households.csv"),
    ("layer_grids", "layers.zip"),
    ("communities", "communities.parquet"),
)


@dataclass(frozen=True, slots=True)
class PartitionInputs:
    """Files for one partition run (the CLI's flags)."""

    boundary: Path
    households: Path | None = None
    areas: Path | None = None
    count_field: str | None = None
    buildings: Path | None = None
    barriers: Path | None = None
    existing: Path | None = None
    crs: str | None = None
    locked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommunityBundle:
    """Everything the store holds about one community, as frames."""

    community: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    layer_grids: gpd.GeoDataFrame


def partition_levels(settings: Settings) -> tuple[Any, ...]:
    """Return the partition levels of ``settings``: base grids, then micro-grids."""
    from .partition import Bounds

    return (
        Bounds(settings.min_households, settings.max_households),
        Bounds(1, settings.micro_max_households),
    )


def engine_options(settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments of ``partition`` that ``settings`` decide."""
    return {
        "levels": partition_levels(settings),
        "seed": settings.seed,
        "budget": settings.partition_budget,
        "dedicated": settings.dedicated_grids,
    }


def run_partition_files(
    inputs: PartitionInputs, out: Path, *, settings: Settings
) -> dict[str, Any]:
    """Partition a community given as files; write grids, micro-grids, assignment and report."""
    from .ingest import load_frame
    from .partition import partition

    boundary = load_frame(inputs.boundary, kind="communities", crs=inputs.crs)
    households = (
        load_frame(inputs.households, kind="households", crs=inputs.crs)
        if inputs.households
        else None
    )
    areas = load_frame(inputs.areas, kind=None, crs=inputs.crs) if inputs.areas else None
    buildings = (
        load_frame(inputs.buildings, kind="buildings", crs=inputs.crs) if inputs.buildings else None
    )
    barriers = load_frame(inputs.barriers, kind=None, crs=inputs.crs) if inputs.barriers else None
    existing = (
        load_frame(inputs.existing, kind="grids", crs=inputs.crs) if inputs.existing else None
    )
    result = partition(
        boundary,
        households,
        areas=areas,
        count_field=inputs.count_field,
        buildings=buildings,
        barriers=barriers,
        existing=existing,
        locked=inputs.locked,
        **engine_options(settings),
    )
    write_partition(result, out)
    return dict(result.report)


def write_partition(result: Any, out: Path) -> None:
    """Write ``grids.geojson``, ``microgrids.geojson``, ``assignment.csv``, ``report.json``."""
    from .export import export_frame

    out.mkdir(parents=True, exist_ok=True)
    export_frame(result.grids, out / "grids.geojson", kind="grids")
    export_frame(result.microgrids, out / "microgrids.geojson", kind="grids")
    result.assignment.to_csv(out / "assignment.csv", index=False)
    (out / "report.json").write_text(
        json.dumps(result.report, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def run_assign_files(
    grids: Path,
    workers: Path,
    out: Path,
    *,
    model: str,
    households: Path | None = None,
    household_grids: Path | None = None,
    layers: Path | None = None,
    previous: Path | None = None,
    crs: str | None = None,
) -> dict[str, Any]:
    """Staff grids from files under a staffing model; write assignments, rosters and report."""
    from .ingest import load_frame
    from .staffing import assign, load_model, load_roster, write_assignment

    staffing_model = load_model(model)
    homes = load_frame(households, kind="households", crs=crs) if households else None
    result = assign(
        load_frame(grids, kind=None, crs=crs),
        load_roster(workers, households=homes, model=staffing_model, crs=crs),
        model=staffing_model,
        households=homes,
        household_grids=pd.read_csv(household_grids, dtype=str) if household_grids else None,
        layers=load_frame(layers, kind="layer_grids", crs=crs) if layers else None,
        previous=pd.read_csv(previous, dtype=str) if previous else None,
    )
    write_assignment(result, out)
    return dict(result.report)


def staff_demo_community(
    folder: Path, result: Any, households: gpd.GeoDataFrame, out: Path, *, seed: int
) -> dict[str, Any]:
    """Staff a partitioned fixture community under 1+1+N with a generated roster."""
    from .ingest import load_frame
    from .staffing import assign, attach_beats, generate_roster, write_assignment

    layers = load_frame(folder / "layers.geojson", kind="layer_grids")
    grids = attach_beats(result.grids, layers)  # police are rostered per beat, as they serve
    roster = generate_roster(grids, households, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    roster.to_file(out / "roster.geojson", driver="GeoJSON")
    staffed = assign(
        grids, roster, model="1+1+N", households=households,
        household_grids=result.assignment, layers=layers,
    )  # fmt: skip
    write_assignment(staffed, out)
    return dict(staffed.report["summary"])


def read_community_bundle(session: Session, code: str) -> CommunityBundle:
    """Read one community and everything in it from the store."""
    from .errors import NotFoundError
    from .store import repo

    community = repo.read(session, "communities", community=code)
    if community.empty:
        raise NotFoundError(f"community {code} is not in the store; import it first")
    grids = repo.read(session, "grids", community=code)
    layer_grids = repo.read(session, "layer_grids", bbox=tuple(community.total_bounds))
    return CommunityBundle(
        community=community,
        buildings=repo.read(session, "buildings", community=code),
        households=repo.read(session, "households", community=code),
        grids=grids[grids["level"] == 1].reset_index(drop=True),
        microgrids=grids[grids["level"] > 1].reset_index(drop=True),
        layer_grids=layer_grids,
    )


def partition_community(
    session: Session,
    code: str,
    *,
    settings: Settings,
    barriers: gpd.GeoDataFrame | None = None,
    locked: tuple[str, ...] = (),
) -> Any:
    """Partition a community held in the store and replace its grids there (one transaction)."""
    from .partition import partition
    from .store import repo

    bundle = read_community_bundle(session, code)
    existing = pd.concat([bundle.grids, bundle.microgrids], ignore_index=True)
    result = partition(
        bundle.community,
        bundle.households,
        buildings=bundle.buildings,
        barriers=barriers,
        existing=gpd.GeoDataFrame(existing, crs=frames.WGS84) if len(existing) else None,
        locked=locked,
        **engine_options(settings),
    )
    repo.delete(session, "grids", community=code)
    repo.upsert(session, "grids", frames.conform("grids", result.grids))
    repo.upsert(session, "grids", frames.conform("grids", result.microgrids))
    return result


def run_demo(settings: Settings, out: Path, *, say: Callable[[str, float], Any]) -> dict[str, Any]:
    """Import the fixtures, partition every community, draw maps, export; return a summary."""
    total = len(DEMO_COMMUNITIES) * 8 + len(DEMO_EXPORTS) + 1  # 4 imports + 4 steps each
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        say(message, min(done / total, 1.0))

    from .export import export_kind
    from .ingest import import_file, load_frame
    from .merge import run_merge_files
    from .render import community_map, page_html
    from .store import open_store, repo, session_scope

    engine = open_store(settings)
    summary: dict[str, Any] = {"database": settings.database_url, "communities": {}}
    with session_scope(engine) as session:
        for name in DEMO_COMMUNITIES:
            folder = FIXTURES / name
            for kind, file in (
                ("communities", "community.geojson"),
                ("buildings", "buildings.geojson"),
                ("households", "households.geojson"),
                ("layer_grids", "layers.geojson"),
            ):
                if (folder / file).exists():
                    report = import_file(session, folder / file, kind=kind)
                    step(f"import {name}/{file}: {report.inserted} new, {report.updated} updated")
    for name in DEMO_COMMUNITIES:
        folder = FIXTURES / name
        barriers = (
            load_frame(folder / "barriers.geojson", kind=None)
            if (folder / "barriers.geojson").exists()
            else None
        )
        with session_scope(engine) as session:
            code = str(load_frame(folder / "community.geojson", kind="communities")["code"][0])
            result = partition_community(session, code, settings=settings, barriers=barriers)
            write_partition(result, out / "partition" / code)
            households = repo.read(session, "households", community=code)
            totals = result.report["totals"]
            step(
                f"partition {name} ({code}): {totals['grids']} grids, "
                f"{totals['microgrids']} micro-grids, "
                f"{totals['share_within_bounds']:.0%} within bounds"
            )
            bundle = read_community_bundle(session, code)
        layers = folder / "layers.geojson"
        merged = run_merge_files(
            folder / "community.geojson", folder / "households.geojson",
            [f"police={layers}:hard", f"party={layers}:soft", f"governance={layers}:soft"],
            out / "merge" / code, buildings=folder / "buildings.geojson",
            barriers=folder / "barriers.geojson", **engine_options(settings),
        )  # fmt: skip
        measures = merged["measures"]
        step(
            f"merge {name}: {measures['unified_grids']} unified grids, "
            f"{measures['hard_crossings']} police-beat crossings, "
            f"{measures['soft_share_unchanged_min']:.0%} of households keep their soft grids"
        )
        staffing = staff_demo_community(
            folder, result, households, out / "staffing" / code, seed=settings.seed
        )
        step(
            f"staff {name} under 1+1+N: {staffing['required_filled']}/"
            f"{staffing['required_positions']} required positions filled"
        )
        map_path = out / "maps" / f"{code}.html"
        map_path.parent.mkdir(parents=True, exist_ok=True)
        fmap = community_map(bundle, tiles="none", bounds=settings.base_bounds)
        map_path.write_text(
            page_html(fmap, assets="inline", root=settings.assets_dir), encoding="utf-8"
        )
        step(f"map {name} → {map_path}")
        summary["communities"][code] = {
            "fixture": name,
            "grids": totals["grids"],
            "microgrids": totals["microgrids"],
            "share_within_bounds": totals["share_within_bounds"],
            "map": str(map_path),
            "partition": str(out / "partition" / code),
            "merge": {"dir": str(out / "merge" / code), **measures},
            "staffing": {"dir": str(out / "staffing" / code), **staffing},
        }
    exports = out / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        for kind, file in DEMO_EXPORTS:
            export_kind(session, exports / file, kind=kind)
            step(f"export {kind} → {exports / file}")
    with session_scope(engine) as session:
        summary["accounts"] = seed_demo_accounts(session, summary["communities"])
    step("demo accounts: " + ", ".join(a["username"] for a in summary["accounts"]))
    summary["exports"] = str(exports)
    summary["serve"] = (
        f"gridsvc serve --db {shlex.quote(settings.database_url)} --port 8000  "
        "then open http://127.0.0.1:8000/docs"
    )
    say(f"maps in {out / 'maps'}; exports in {exports}", 1.0)
    say(f"to browse: .venv/bin/{summary['serve']}", 1.0)
    return summary


def seed_demo_accounts(session: Session, communities: dict[str, Any]) -> list[dict[str, str]]:
    """Create one account per role for trying the API (skipped when they already exist)."""
    from .store import repo
    from .store.users import add_user, get_user

    first = sorted(communities)[0]
    grid = str(repo.read(session, "grids", community=first, level=1)["code"].iloc[0])
    accounts = [
        {"username": "demo-admin", "password": "demo-admin-pw", "role": "admin", "scope": ""},
        {"username": "demo-planner", "password": "demo-planner-pw", "role": "planner",
         "scope": first[:9]},
        {"username": "demo-worker", "password": "demo-worker-pw", "role": "worker",
         "scope": grid},
    ]  # fmt: skip
    for account in accounts:
        if get_user(session, account["username"]) is None:
            add_user(
                session,
                username=account["username"],
                password=account["password"],
                role=account["role"],
                scope=tuple(filter(None, [account["scope"]])),
            )
    return accounts
