"""Whole jobs: the demo end to end, and a community partitioned inside the store."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from gridsvc.cli import app
from gridsvc.config import Settings, load_settings
from gridsvc.ingest import import_file, load_frame
from gridsvc.partition import Bounds, check_partition
from gridsvc.store import open_store, repo, session_scope
from gridsvc.store.users import authenticate
from gridsvc.workflows import (
    FIXTURES,
    PartitionInputs,
    partition_community,
    read_community_bundle,
    run_partition_files,
)

VILLAGE = FIXTURES / "village"


def _import_fixture(engine: Engine, folder: Path) -> str:
    with session_scope(engine) as session:
        for kind, name in (
            ("communities", "community.geojson"),
            ("buildings", "buildings.geojson"),
            ("households", "households.geojson"),
        ):
            import_file(session, folder / name, kind=kind)
    return str(load_frame(folder / "community.geojson", kind="communities")["code"][0])


def test_partition_community_writes_checked_grids_to_the_store(store: Engine) -> None:
    code = _import_fixture(store, VILLAGE)
    settings = load_settings()
    barriers = load_frame(VILLAGE / "barriers.geojson", kind=None)
    with session_scope(store) as session:
        result = partition_community(session, code, settings=settings, barriers=barriers)
    with session_scope(store) as session:
        bundle = read_community_bundle(session, code)
    assert sorted(bundle.grids["code"]) == sorted(result.grids["code"])
    assert sorted(bundle.microgrids["code"]) == sorted(result.microgrids["code"])
    assert int(bundle.grids["households"].sum()) == len(bundle.households)
    problems = check_partition(
        bundle.community, bundle.households, result, (Bounds(30, 50), Bounds(1, 15))
    )
    assert problems == []


def test_repartitioning_replaces_grids_instead_of_adding(store: Engine) -> None:
    code = _import_fixture(store, VILLAGE)
    settings = load_settings()
    for _ in range(2):
        with session_scope(store) as session:
            result = partition_community(session, code, settings=settings)
    with session_scope(store) as session:
        stored = repo.read(session, "grids", community=code)
    assert len(stored) == len(result.grids) + len(result.microgrids)


def test_partition_command_writes_the_four_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "partition",
            "--boundary", str(VILLAGE / "community.geojson"),
            "--households", str(VILLAGE / "households.geojson"),
            "--buildings", str(VILLAGE / "buildings.geojson"),
            "--barriers", str(VILLAGE / "barriers.geojson"),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grids = gpd.read_file(out / "grids.geojson")
    assignment = (out / "assignment.csv").read_text(encoding="utf-8").splitlines()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    households = load_frame(VILLAGE / "households.geojson", kind="households")
    assert assignment[0] == "household_id,grid_code,microgrid_code"
    assert len(assignment) - 1 == len(households)
    assert report["totals"]["grids"] == len(grids)
    assert grids["households"].sum() == len(households)


def test_the_old_budget_setting_name_is_still_read() -> None:
    assert load_settings(partition_budget_seconds=2.5).partition_budget == 2.5
    assert load_settings(partition_budget_seconds=2.5, partition_budget=1.0).partition_budget == 1.0


def test_the_old_budget_variable_never_overrides_the_budget_given_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIDSVC_PARTITION_BUDGET_SECONDS", "0.5")
    assert Settings().partition_budget == 0.5
    assert Settings(partition_budget=None).partition_budget is None  # explicitly "no limit"
    assert Settings(partition_budget=2.0).partition_budget == 2.0
    monkeypatch.setenv("GRIDSVC_PARTITION_BUDGET", "3")
    assert Settings().partition_budget == 3.0


@pytest.mark.parametrize(("dedicated", "expected"), [(True, 1), (False, 0)])
def test_settings_turn_on_dedicated_grids_and_set_the_budget(
    tmp_path: Path, dedicated: bool, expected: int
) -> None:
    """The village's enterprise becomes a dedicated grid only when the setting asks for it."""
    settings = load_settings(dedicated_grids=dedicated, partition_budget=5.0)
    inputs = PartitionInputs(
        boundary=VILLAGE / "community.geojson",
        households=VILLAGE / "households.geojson",
        buildings=VILLAGE / "buildings.geojson",
        barriers=VILLAGE / "barriers.geojson",
    )
    report = run_partition_files(inputs, tmp_path / "out", settings=settings)
    assert report["totals"]["dedicated_grids"] == expected
    assert report["totals"]["budget"]["units"] == 5.0
    grids = gpd.read_file(tmp_path / "out" / "grids.geojson")
    assert (grids["kind"] == "dedicated").sum() == expected


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "runs 100%").mkdir()  # what "runs 100%25" reads as, decoded once more
    out = tmp_path / "runs 100%25" / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert len(summary["communities"]) == 3
    for facts in summary["communities"].values():
        assert Path(facts["map"]).stat().st_size > 10_000
        assert (Path(facts["partition"]) / "report.json").exists()
        assert facts["grids"] > 0
        assert facts["merge"]["hard_crossings"] == 0 and facts["merge"]["gaps"] == 0
        assert (Path(facts["merge"]["dir"]) / "crosswalk.csv").exists()
        assert (Path(facts["staffing"]["dir"]) / "assignments.csv").exists()
        assert 0 < facts["staffing"]["required_filled"] <= facts["staffing"]["required_positions"]
    exported = gpd.read_file(out / "exports" / "grids.geojson")
    total = sum(f["grids"] + f["microgrids"] for f in summary["communities"].values())
    assert len(exported) == total
    households = (out / "exports" / "households.csv").read_text(encoding="utf-8").splitlines()
    assert len(households) - 1 == 1856 + sum(
        len(load_frame(FIXTURES / n / "households.geojson", kind="households"))
        for n in ("urban", "village")
    )
    assert "gridsvc serve --db 'sqlite:///" in result.stdout
    serve = shlex.split(summary["serve"].split("  ")[0])  # a command to paste in a shell
    assert serve == ["gridsvc", "serve", "--db", summary["database"], "--port", "8000"]
    assert {a["role"] for a in summary["accounts"]} == {"admin", "planner", "worker"}
    engine = open_store(load_settings(database_url=summary["database"]))
    assert engine.url.database == str(out.resolve() / "gridsvc.sqlite")
    assert not any((tmp_path / "runs 100%").iterdir())
    with session_scope(engine) as session:
        for account in summary["accounts"]:
            user = authenticate(session, username=account["username"], password=account["password"])
            assert user is not None and user.role == account["role"]


def test_demo_staffing_gives_every_village_grid_a_police_grid_leader_of_its_beat(
    tmp_path: Path,
) -> None:
    import pandas as pd

    from gridsvc.partition import partition
    from gridsvc.workflows import staff_demo_community

    households = load_frame(VILLAGE / "households.geojson", kind="households")
    result = partition(
        load_frame(VILLAGE / "community.geojson", kind="communities"),
        households,
        buildings=load_frame(VILLAGE / "buildings.geojson", kind="buildings"),
        barriers=load_frame(VILLAGE / "barriers.geojson", kind=None),
        seed=0,
    )
    staff_demo_community(VILLAGE, result, households, tmp_path, seed=0)
    rows = pd.read_csv(tmp_path / "assignments.csv", dtype=str)
    leaders = rows[rows["role"] == "police_grid_leader"]
    assert set(leaders["grid_code"]) == set(result.grids["code"])
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [p for p in report["proposal"] if p["role"] == "police_grid_leader"] == []
