"""The ``gridsvc`` command line: thin commands over the same functions the API calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from .cli_city import run_city_command
from .cli_users import app as user_app
from .config import Settings, load_settings
from .errors import GridsvcError

__all__ = ["app"]

app = typer.Typer(
    help="gridsvc: partition communities into 30–50-household grids, merge departmental grids, "
    "staff them, draw maps and serve them.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
app.add_typer(user_app, name="user")
app.command("run-city")(run_city_command)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: GRIDSVC_DATABASE_URL or gridsvc.sqlite)"),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="settings file (JSON or TOML)", exists=True)
]
KINDS_HELP = "communities | buildings | households | layer_grids | grids | workers"


def _settings(config: Path | None, db: str | None, **extra: object) -> Settings:
    try:
        return load_settings(config, database_url=db, **extra)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _fail(exc: GridsvcError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@contextmanager
def _store_session(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured store; a gridsvc error exits 1 with its message."""
    from .store import open_store, session_scope

    try:
        with session_scope(open_store(settings)) as session:
            yield session
    except GridsvcError as exc:
        raise _fail(exc) from exc


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    files: Annotated[
        list[Path],
        typer.Argument(
            help="GeoJSON, GeoPackage, Shapefile .zip, CSV with lon/lat, or GeoParquet", exists=True
        ),
    ],
    crs: Annotated[
        str | None, typer.Option(help="declared CRS: wgs84, EPSG:4490, gcj02, bd09 …")
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="GeoPackage layer; for layer_grids also the departmental layer's name"),
    ] = None,
    department: Annotated[
        str | None,
        typer.Option(
            help="layer_grids: party, police, governance, civil_affairs, urban_management …"
        ),
    ] = None,
    policy: Annotated[str | None, typer.Option(help="layer_grids: hard or soft")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Import records into the store; all files in one transaction, all or nothing."""
    from .ingest import import_file

    settings = _settings(config, db)
    with _store_session(settings) as session:
        for path in files:
            report = import_file(
                session,
                path,
                kind=kind,
                crs=crs,
                layer=layer,
                department=department,
                policy=policy,
                far_km=settings.far_from_community_km,
            )
            console.print(f"{path}: {report.inserted} inserted, {report.updated} updated")
            for warning in report.warnings:
                console.print(f"  [yellow]repaired:[/yellow] {warning}")


@app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    out: Annotated[
        Path, typer.Argument(help="output file: .geojson .gpkg .zip (Shapefile) .csv .parquet")
    ],
    community: Annotated[str | None, typer.Option(help="only this community code")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Export records from the store (GeoJSON per RFC 7946, GeoPackage, Shapefile, CSV)."""
    from .export import export_kind

    settings = _settings(config, db)
    with _store_session(settings) as session:
        n = export_kind(session, out, kind=kind, community=community)
    console.print(f"wrote {n} {kind} to {out}")


@app.command()
def partition(
    out: Annotated[Path, typer.Option(help="output directory")],
    boundary: Annotated[Path | None, typer.Option(help="community boundary file")] = None,
    households: Annotated[Path | None, typer.Option(help="household points file")] = None,
    areas: Annotated[Path | None, typer.Option(help="areal units with a household count")] = None,
    count_field: Annotated[str | None, typer.Option(help="count field of --areas")] = None,
    buildings: Annotated[Path | None, typer.Option(help="building footprints")] = None,
    barriers: Annotated[
        Path | None, typer.Option(help="roads/rivers/walls (lines or polygons)")
    ] = None,
    existing: Annotated[Path | None, typer.Option(help="existing grids to re-partition")] = None,
    lock: Annotated[
        str | None, typer.Option(help="grid codes to keep exactly, comma-separated")
    ] = None,
    crs: Annotated[str | None, typer.Option(help="declared CRS of the input files")] = None,
    min_households: Annotated[
        int | None, typer.Option("--min", help="base grid lower bound")
    ] = None,
    max_households: Annotated[
        int | None, typer.Option("--max", help="base grid upper bound")
    ] = None,
    micro_max: Annotated[
        int | None, typer.Option("--micro-max", help="micro-grid upper bound")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    dedicated: Annotated[
        bool | None,
        typer.Option(
            "--dedicated/--no-dedicated",
            help="make schools, markets, enterprises, hospitals (buildings' use) dedicated "
            "(专属) grids (default: setting dedicated_grids)",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Split a community into base grids and micro-grids; write GeoJSON, CSV and a report."""
    from .workflows import PartitionInputs, run_partition_files

    settings = _settings(
        config,
        None,
        min_households=min_households,
        max_households=max_households,
        micro_max_households=micro_max,
        seed=seed,
        dedicated_grids=dedicated,
    )
    if boundary is None:
        console.print("[red]error:[/red] --boundary FILE is required")
        raise typer.Exit(2)
    if (households is None) == (areas is None):
        console.print("[red]error:[/red] give exactly one of --households FILE or --areas FILE")
        raise typer.Exit(2)
    if areas is not None and not count_field:
        console.print("[red]error:[/red] --areas needs --count-field NAME")
        raise typer.Exit(2)
    inputs = PartitionInputs(
        boundary=boundary,
        households=households,
        areas=areas,
        count_field=count_field,
        buildings=buildings,
        barriers=barriers,
        existing=existing,
        crs=crs,
        locked=tuple(c.strip() for c in (lock or "").split(",") if c.strip()),
    )
    try:
        report = run_partition_files(inputs, out, settings=settings)
    except GridsvcError as exc:
        raise _fail(exc) from exc
    totals = report["totals"]
    console.print(
        f"{totals['grids']} grids, {totals['microgrids']} micro-grids, "
        f"{totals['share_within_bounds']:.0%} within bounds; wrote {out}"
    )


@app.command()
def merge(
    out: Annotated[Path, typer.Option(help="output directory")],
    boundary: Annotated[str, typer.Option(help="community boundary file (FILE or FILE@LAYER)")],
    layer: Annotated[
        list[str],
        typer.Option(help="departmental layer NAME=FILE[@LAYER]:hard|soft (repeat for each)"),
    ],
    households: Annotated[str | None, typer.Option(help="household points file")] = None,
    areas: Annotated[str | None, typer.Option(help="areal units with a household count")] = None,
    count_field: Annotated[str | None, typer.Option(help="count field of --areas")] = None,
    buildings: Annotated[str | None, typer.Option(help="building footprints")] = None,
    barriers: Annotated[str | None, typer.Option(help="roads/rivers/walls")] = None,
    crs: Annotated[str | None, typer.Option(help="declared CRS of the input files")] = None,
    min_households: Annotated[int | None, typer.Option("--min", help="grid lower bound")] = None,
    max_households: Annotated[int | None, typer.Option("--max", help="grid upper bound")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    config: ConfigOption = None,
) -> None:
    """Merge departmental grids into one unified grid (多格合一); write it, the re-aligned
    layers, a crosswalk and a report."""
    from .merge import run_merge_files
    from .workflows import engine_options

    settings = _settings(
        config, None, min_households=min_households, max_households=max_households, seed=seed
    )
    if (households is None) == (areas is None):
        console.print("[red]error:[/red] give exactly one of --households FILE or --areas FILE")
        raise typer.Exit(2)
    try:
        report = run_merge_files(
            boundary, households, layer, out, crs=crs,
            buildings=buildings, barriers=barriers, areas=areas, count_field=count_field,
            **engine_options(settings),
        )  # fmt: skip
    except GridsvcError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote {out}: " + json.dumps(report.get("measures", {}), ensure_ascii=False))


@app.command()
def assign(
    grids: Annotated[Path, typer.Option(help="grids file (e.g. a partition's grids.geojson)")],
    workers: Annotated[
        Path,
        typer.Option(
            help="roster: id, name, phone, roles, party_member, "
            "police_beat, hours, home point or household_id"
        ),
    ],
    out: Annotated[Path, typer.Option(help="output directory")],
    model: Annotated[
        str, typer.Option(help="1+1+N | jiangxi | 1+2+X | a model JSON file")
    ] = "1+1+N",
    households: Annotated[Path | None, typer.Option(help="households (visit load, homes)")] = None,
    household_grids: Annotated[
        Path | None, typer.Option(help="household → grid table (a partition's assignment.csv)")
    ] = None,
    layers: Annotated[Path | None, typer.Option(help="departmental layers (police beats)")] = None,
    previous: Annotated[
        Path | None,
        typer.Option(help="earlier assignments.csv: kept where still valid, every change reported"),
    ] = None,
    crs: Annotated[str | None, typer.Option(help="declared CRS of the input files")] = None,
) -> None:
    """Staff every grid under a staffing model (1+1+N …); write assignments, rosters, report."""
    from .workflows import run_assign_files

    try:
        report = run_assign_files(
            grids, workers, out, model=model, households=households,
            household_grids=household_grids, layers=layers, previous=previous, crs=crs,
        )  # fmt: skip
    except GridsvcError as exc:
        raise _fail(exc) from exc
    summary = report["summary"]
    console.print(
        f"{summary['grids_satisfied']}/{summary['grids']} grids fully staffed, "
        f"{summary['required_filled']}/{summary['required_positions']} required positions "
        f"filled; wrote {out}"
    )


@app.command("map")
def map_(
    community: Annotated[
        str | None, typer.Option(help="community code (or --city for the overview)")
    ] = None,
    city: Annotated[
        str | None,
        typer.Option(
            help="city overview of every community whose code starts with this prefix "
            "('' = all): each coloured by its share of grids within bounds"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="HTML file (default maps/<code>.html)")] = None,
    tiles: Annotated[str, typer.Option(help="none | osm | amap (GCJ-02) | tianditu")] = "none",
    public: Annotated[
        bool, typer.Option(help="leave out households, care households and phone numbers")
    ] = False,
    store: Annotated[str | None, typer.Option("--store", help="store URL (same as --db)")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Draw a community (or a city overview) as a folium map in one self-contained HTML file.

    Leaflet and its plugins are inlined from node_modules, so the file opens offline; with
    --tiles none it needs no network at all.
    """
    from .render import FULL, PUBLIC, page_html
    from .render.views import city_view, community_view

    if (community is None) == (city is None):
        console.print("[red]error:[/red] give either --community CODE or --city PREFIX")
        raise typer.Exit(2)
    settings = _settings(config, store or db)
    name = community if community is not None else f"city-{city or 'all'}"
    target = out or settings.maps_dir / f"{name}.html"
    with _store_session(settings) as session:
        try:
            if community is not None:
                fmap = community_view(
                    session, community, settings=settings, tiles=tiles,
                    access=PUBLIC if public else FULL,
                )  # fmt: skip
            else:
                fmap = city_view(session, settings=settings, prefix=city or "", tiles=tiles)
            html = page_html(fmap, assets="inline", root=settings.assets_dir)
        except GridsvcError as exc:
            raise _fail(exc) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    console.print(f"wrote {target}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    db: DbOption = None,
    config: ConfigOption = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="uvicorn worker processes, sharing one token secret; each has its own answer "
            "cache. Limits with more than 1: a job's cancel sent to another process gets 409 "
            "(retry) and GET /jobs/{id} there shows only the progress stored so far. The jobs "
            "of a process that dies are marked failed (interrupted) when uvicorn starts its "
            "replacement; jobs owned by a process on another machine are failed only when the "
            "service restarts",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) on uvloop and httptools when installed."""
    from .api.serving import run

    settings = _settings(config, db)
    run(settings, config=config, db=db, host=host, port=port, workers=workers)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="where exports, reports and maps go")] = Path(
        "out/demo"
    ),
    config: ConfigOption = None,
) -> None:
    """Run the main job end to end on the committed fixtures and say where everything is."""
    from .store.readonly import sqlite_url
    from .workflows import run_demo

    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(config, sqlite_url((out / "gridsvc.sqlite").resolve()))
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("demo", total=1.0)

        def say(message: str, fraction: float) -> None:
            progress.console.print(message)
            progress.update(task, completed=fraction, description="demo")

        try:
            summary = run_demo(settings, out, say=say)
        except GridsvcError as exc:
            raise _fail(exc) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    app()
