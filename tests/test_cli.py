"""The command line: every command documents itself; errors are clear and exit non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from gridsvc.cli import app
from gridsvc.config import load_settings
from gridsvc.store import open_store, repo, session_scope
from gridsvc.workflows import FIXTURES

COMMANDS = ["import", "export", "partition", "merge", "assign", "map", "serve", "demo", "user"]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "--help" in result.output


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_partition_needs_exactly_one_household_source(tmp_path: Path) -> None:
    boundary = tmp_path / "b.geojson"
    boundary.write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    result = runner.invoke(app, ["partition", "--boundary", str(boundary), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "give exactly one of --households FILE or --areas FILE" in result.output


def test_partition_refuses_min_above_max(tmp_path: Path) -> None:
    result = runner.invoke(app, ["partition", "--min", "60", "--max", "50", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "min_households 60 > max_households 50" in result.output


@pytest.mark.slow
def test_partition_dedicated_flag_makes_school_and_market_grids(tmp_path: Path) -> None:
    urban = FIXTURES / "urban"
    args = ["partition", "--out", str(tmp_path), "--dedicated"]
    for part in ("boundary", "households", "buildings", "barriers"):
        name = "community" if part == "boundary" else part
        args += [f"--{part}", str(urban / f"{name}.geojson")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    grids = gpd.read_file(tmp_path / "grids.geojson")
    dedicated = grids[grids["kind"] == "dedicated"]
    assert len(dedicated) == 2 and (dedicated["households"] == 0).all()
    buildings = gpd.read_file(urban / "buildings.geojson")
    sites = buildings[buildings["use"].isin(["school", "market"])]
    for site in sites.geometry:  # each site lies in a dedicated grid
        assert dedicated.geometry.contains(site.representative_point()).sum() == 1
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["dedicated_grids"] == 2
    flagged = {g["code"] for g in report["grids"] if "dedicated" in g["flags"]}
    assert flagged == set(dedicated["code"])


def test_import_export_and_map_through_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    village = FIXTURES / "village"
    for kind, name in (
        ("communities", "community"),
        ("buildings", "buildings"),
        ("households", "households"),
    ):
        result = runner.invoke(app, ["import", kind, str(village / f"{name}.geojson"), "--db", db])
        assert result.exit_code == 0, result.output
        assert "inserted" in result.output
    out = tmp_path / "households.gpkg"
    result = runner.invoke(app, ["export", "households", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == len(gpd.read_file(village / "households.geojson"))
    code = gpd.read_file(village / "community.geojson")["code"][0]
    html = tmp_path / "m.html"
    result = runner.invoke(app, ["map", "--community", code, "--out", str(html), "--db", db])
    assert result.exit_code == 0, result.output
    assert "community boundary" in html.read_text(encoding="utf-8")


def test_failed_import_exits_1_names_the_problem_and_keeps_the_store(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    village = FIXTURES / "village"
    for kind, name in (("communities", "community"), ("buildings", "buildings")):
        path = str(village / f"{name}.geojson")
        assert runner.invoke(app, ["import", kind, path, "--db", db]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lon,lat,size\nh1,111.0,35.0,2\nh1,111.0,35.0,3\n", encoding="utf-8")
    good = village / "households.geojson"
    result = runner.invoke(app, ["import", "households", str(good), str(bad), "--db", db])
    assert result.exit_code == 1
    assert "bad.csv" in result.output and "duplicate" in result.output
    settings = load_settings(database_url=db)
    with session_scope(open_store(settings)) as session:
        assert repo.count(session, "households") == 0


def test_map_of_an_unknown_community_is_a_clear_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    result = runner.invoke(app, ["map", "--community", "999999999999", "--db", db])
    assert result.exit_code == 1
    assert "community 999999999999 is not in the store; import it first" in result.output


def test_merge_command_writes_unified_grid_crosswalk_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDSVC_PARTITION_BUDGET", "0.5")  # the settings' budget reaches merge
    village = FIXTURES / "village"
    layers = village / "layers.geojson"
    out = tmp_path / "merged"
    result = runner.invoke(
        app,
        [
            "merge", "--boundary", str(village / "community.geojson"),
            "--households", str(village / "households.geojson"),
            "--buildings", str(village / "buildings.geojson"),
            "--barriers", str(village / "barriers.geojson"),
            "--layer", f"police={layers}:hard", "--layer", f"party={layers}:soft",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["measures"]["hard_crossings"] == 0
    assert report["measures"]["gaps"] == report["measures"]["overlaps"] == 0
    assert report["unified"]["partition_budget"]["units"] == 0.5
    unified = gpd.read_file(out / "unified.geojson")
    assert len(unified) == report["measures"]["unified_grids"]
    assert {"police_grid", "party_grid"} <= set(unified.columns)
    assert (out / "crosswalk.csv").exists() and (out / "realigned_party.geojson").exists()


def test_merge_command_names_a_bad_layer_spec(tmp_path: Path) -> None:
    village = FIXTURES / "village"
    result = runner.invoke(
        app,
        [
            "merge", "--boundary", str(village / "community.geojson"),
            "--households", str(village / "households.geojson"),
            "--layer", f"police={village / 'layers.geojson'}:sideways", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "sideways" in result.output
    assert not (tmp_path / "report.json").exists()


def test_assign_command_staffs_a_partitioned_community(tmp_path: Path) -> None:
    from gridsvc.staffing import generate_roster

    village = FIXTURES / "village"
    parts = tmp_path / "parts"
    assert runner.invoke(app, [
        "partition", "--boundary", str(village / "community.geojson"),
        "--households", str(village / "households.geojson"),
        "--buildings", str(village / "buildings.geojson"), "--out", str(parts),
    ]).exit_code == 0  # fmt: skip
    grids = gpd.read_file(parts / "grids.geojson")
    roster = generate_roster(grids, gpd.read_file(village / "households.geojson"), seed=0)
    roster.to_file(tmp_path / "roster.geojson", driver="GeoJSON")
    out = tmp_path / "staff"
    result = runner.invoke(app, [
        "assign", "--grids", str(parts / "grids.geojson"),
        "--workers", str(tmp_path / "roster.geojson"),
        "--households", str(village / "households.geojson"),
        "--household-grids", str(parts / "assignment.csv"),
        "--layers", str(village / "layers.geojson"), "--model", "1+1+N", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assignments = (out / "assignments.csv").read_text(encoding="utf-8").splitlines()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert assignments[0].startswith("grid_code,worker_id,role")
    assert len(assignments) - 1 == report["summary"]["assignments"] > 0
    assert "required positions filled" in result.output


def test_assign_command_refuses_an_unknown_model(tmp_path: Path) -> None:
    village = FIXTURES / "village"
    result = runner.invoke(app, [
        "assign", "--grids", str(village / "community.geojson"),
        "--workers", str(village / "households.geojson"), "--model", "2+2+Z",
        "--out", str(tmp_path),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "2+2+Z" in result.output
