"""The command line: every command documents itself; errors are clear and exit non-zero."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gridsvc.cli import app

COMMANDS = ["import", "export", "partition", "map", "serve", "demo"]
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


def test_partition_needs_exactly_one_household_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    boundary = tmp_path / "b.geojson"
    boundary.write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    result = runner.invoke(app, ["partition", "--boundary", str(boundary), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "give exactly one of --households FILE or --areas FILE" in result.output


def test_partition_refuses_min_above_max(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["partition", "--min", "60", "--max", "50", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "min_households 60 > max_households 50" in result.output
