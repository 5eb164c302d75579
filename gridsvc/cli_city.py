"""The ``gridsvc run-city`` command: a city on Dask, one rich progress bar per stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import CITY_BUDGET, load_settings
from .errors import GridsvcError

if TYPE_CHECKING:
    from rich.progress import TaskID

    from .city import CommunityJob, Outcome

__all__ = ["run_city_command"]

console = Console(stderr=True)


def run_city_command(
    communities: Annotated[Path, typer.Option(help="community boundaries (GeoParquet/GPKG)")],
    households: Annotated[Path, typer.Option(help="households with community_code")],
    buildings: Annotated[Path | None, typer.Option(help="building footprints")] = None,
    barriers: Annotated[Path | None, typer.Option(help="roads/rivers/walls")] = None,
    layers: Annotated[
        list[str] | None,
        typer.Option("--layers", help="departmental layer NAME=FILE:hard|soft (repeat)"),
    ] = None,
    roster: Annotated[Path | None, typer.Option(help="workers (with --layers: staff)")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a LocalCluster)")
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help="database URL")] = None,
    workers: Annotated[int, typer.Option(help="LocalCluster worker processes")] = 2,
    crs: Annotated[str | None, typer.Option(help="declared CRS of the input files")] = None,
    config: Annotated[Path | None, typer.Option(help="settings file", exists=True)] = None,
    budget: Annotated[
        float,
        typer.Option(
            help="units of deterministic exact-search work per community, about one CPU second "
            "each (< 0: no limit; the default buys most of what one unit would, see "
            "gridsvc.partition.budget)"
        ),
    ] = CITY_BUDGET,
) -> None:
    """Partition (with --layers and --roster: merge and staff) every community on Dask."""
    from .city import CityInputs, run_city

    try:
        settings = load_settings(
            config, database_url=store, partition_budget=None if budget < 0 else budget
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if bool(layers) != (roster is not None):
        console.print("[yellow]note:[/yellow] merging and staffing need both --layers and --roster")
    inputs = CityInputs(
        communities, households, buildings, barriers, tuple(layers or ()), roster, crs
    )
    stages = ["read", *(["merge", "staff"] if inputs.staffed else ["partition"]), "write"]
    with Progress(
        TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console,
    ) as progress:  # fmt: skip
        bars: dict[str, TaskID] = {}

        def index(jobs: list[CommunityJob]) -> None:
            for stage in stages:
                bars[stage] = progress.add_task(stage, total=len(jobs), note="")

        def say(outcome: Outcome, done: int, total: int) -> None:
            for stage in stages:
                progress.advance(bars[stage])
            if outcome.status == "failed":
                progress.console.print(f"[red]failed[/red] {outcome.code}: {outcome.error}")
            progress.update(bars[stages[-1]], note=f"{outcome.status} {outcome.code}")

        try:
            report = run_city(
                inputs, settings, store_url=settings.database_url, scheduler=scheduler,
                workers=workers, say=say, index=index,
            )  # fmt: skip
        except GridsvcError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    table = Table(title=f"run-city on {report.workers} Dask workers")
    for name in ("done", "skipped", "failed", "households", "grids"):
        table.add_column(name, justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("peak RSS MB (driver / worker)", justify="right")
    table.add_row(
        *(f"{report.totals[k]:,}" for k in ("done", "skipped", "failed", "households", "grids")),
        f"{report.seconds:.1f}",
        f"{report.driver_rss_mb:.0f} / {report.worker_rss_mb:.0f}",
    )
    console.print(table)
    if report.failed:
        for outcome in report.failed:
            console.print(f"[red]failed[/red] {outcome.code}: {outcome.error}")
        raise typer.Exit(1)
