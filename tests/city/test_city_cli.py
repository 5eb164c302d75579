"""``gridsvc run-city``: the command over run_city, its table, its exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
from city_checks import assert_complete_once, inputs_of
from typer.testing import CliRunner

from gridsvc.cli import app


def _args(folder: Path, url: str) -> list[str]:
    inputs = inputs_of(folder)
    return [
        "run-city", "--communities", str(inputs.communities),
        "--households", str(inputs.households), "--buildings", str(inputs.buildings),
        "--barriers", str(inputs.barriers), "--store", url, "--workers", "1",
    ]  # fmt: skip


def test_run_city_command_runs_then_skips(city_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    households = gpd.read_parquet(city_dir / "households.parquet")
    n = households["community_code"].nunique()
    first = CliRunner().invoke(app, _args(city_dir, url))
    assert first.exit_code == 0, first.output
    assert "run-city on 1 Dask workers" in first.output
    assert f"│{n}│0│0│{len(households)}│" in re.sub(r"\s+", "", first.output)
    assert_complete_once(url, households)
    again = CliRunner().invoke(app, _args(city_dir, url))
    assert again.exit_code == 0, again.output
    assert f"│0│{n}│0│{len(households)}│" in re.sub(r"\s+", "", again.output)


def test_run_city_command_names_the_bad_input(city_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite"
    (city_dir / "households.parquet").unlink()
    result = CliRunner().invoke(app, _args(city_dir, url))
    assert result.exit_code == 1
    assert "error: households.parquet: file not found" in result.output
