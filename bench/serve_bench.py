"""Serving bench: /locate and /me/assignments latency and throughput on SpatiaLite and PostGIS,
against the bare PostGIS query (ST_Contains on the GiST index) as the floor and pygeoapi serving
the same grids as a peer; and the streamed GeoJSON export of every household against ogr2ogr.

Run: ``PYTHONPATH=. python bench/serve_bench.py --households 200000`` (PostGIS from
``--postgis``; a database ``gridsvc_bench_serve`` is created there and dropped afterwards).
Every loop is bounded (``--requests``) and talks only to 127.0.0.1.

The city comes from :func:`gridsvc.synth.generate_city`. Its grids are Voronoi cells of one
household in 40 per community, clipped to the community (the bench measures serving, not the
partition engine, which would take hours at this size).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import psycopg
import shapely
import yaml
from _postgis import postgis_database
from sqlalchemy.engine import make_url

from gridsvc.store import make_engine, migrate, repo, session_scope, users
from gridsvc.store.assignments import replace_assignments
from gridsvc.store.bulk import write_rows
from gridsvc.synth import generate_city

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 123"
HH_PER_GRID = 40
WORKER_ACCOUNTS = 20


# --- data -------------------------------------------------------------------------------------


def voronoi_grids(city: Any, seed: int) -> gpd.GeoDataFrame:
    """Cut each community into Voronoi cells of one household in HH_PER_GRID."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    hh = city.households
    for code, boundary in zip(city.community["code"], city.community.geometry, strict=True):
        points = hh.geometry[hh["community_code"] == code].to_numpy()
        k = max(1, len(points) // HH_PER_GRID)
        seeds = shapely.multipoints(points[rng.choice(len(points), k, replace=False)])
        cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=boundary))
        cells = shapely.intersection(cells, boundary)
        cells = cells[~shapely.is_empty(cells)]
        rows += [
            {"code": f"{code}{i:03d}", "community_code": code, "level": 1, "geometry": g}
            for i, g in enumerate(shapely.make_valid(cells), start=1)
        ]
    grids = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    grids = grids[grids.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    counts = gpd.sjoin(hh[["geometry"]], grids[["code", "geometry"]], predicate="within")
    grids["households"] = grids["code"].map(counts["code"].value_counts()).fillna(0).astype(int)
    return grids


def load(url: str, city: Any, grids: gpd.GeoDataFrame) -> list[str]:
    """Migrate and fill the store at ``url`` (COPY on PostGIS); return the worker accounts."""
    engine = make_engine(url)
    migrate(engine)
    busiest = grids.sort_values("households", ascending=False)["code"].head(WORKER_ACCOUNTS)
    with session_scope(engine) as session:
        repo.upsert(session, "communities", city.community)
        write_rows(session, "buildings", city.buildings)
        write_rows(session, "households", city.households)
        write_rows(session, "grids", grids)
        ids = [f"W{i:03d}" for i in range(len(busiest))]
        workers = gpd.GeoDataFrame(
            {"id": ids, "name": [f"网格员{i}" for i in ids], "phone": ["13800000000"] * len(ids)},
            geometry=gpd.GeoSeries([None] * len(ids), crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        repo.upsert(session, "workers", workers)
        plan = pd.DataFrame({"grid_code": list(busiest), "worker_id": ids})
        plan["role"] = "all_round_grid_leader"
        plan["community"] = plan["grid_code"].str[:12]
        for community, part in plan.groupby("community"):
            replace_assignments(session, str(community), part)
        for wid, grid in zip(ids, busiest, strict=True):
            users.add_user(
                session,
                username=f"bench{wid}",
                password=PASSWORD,
                role="worker",
                scope=(grid,),
                worker_id=wid,
            )
    engine.dispose()
    return [f"bench{w}" for w in ids]


def copy_households(url: str, households: gpd.GeoDataFrame) -> None:
    """Bulk-load households into a migrated PostGIS store with COPY (repo.upsert is too slow
    for a million rows on this machine; the load is not what is measured)."""
    columns = [c for c in households.columns if c != "geometry"]
    geoms = shapely.to_wkb(
        shapely.set_srid(households.geometry.to_numpy(), 4326), hex=True, include_srid=True
    )
    table = pd.DataFrame(households[columns]).astype(object)
    table = table.where(table.notna(), None)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        names = ", ".join(columns)
        with cur.copy(f"COPY households ({names}, geom) FROM STDIN") as copy:
            for row, geom in zip(table.itertuples(index=False, name=None), geoms, strict=True):
                copy.write_row((*row, geom))


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(command: list[str], probe: str, env: dict[str, str]) -> Iterator[None]:
    """Run a server process until ``probe`` answers 200 (bounded wait); stop it afterwards."""
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                if httpx.get(probe, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        else:
            raise RuntimeError(f"server {command} did not answer {probe}")
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def gridsvc_server(url: str, workers: int = 1) -> Iterator[str]:
    """``gridsvc serve`` on ``url`` with ``workers`` uvicorn processes; yield its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from gridsvc.cli import app; app()", "serve"]
    command += ["--port", str(port), "--db", url]
    if workers > 1:
        command += ["--workers", str(workers)]
    env = {"PYTHONPATH": str(ROOT), "GRIDSVC_SECRET_KEY": "b" * 40}
    with serving(command, f"{base}/api/v1/ogc/conformance", env):
        yield base


@contextmanager
def pygeoapi_server(url: str, folder: Path) -> Iterator[str]:
    """pygeoapi (Starlette app under uvicorn) with its PostgreSQL provider on our grids table."""
    u = make_url(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = folder / "pygeoapi.yml"
    connection = {
        "host": u.host,
        "port": u.port,
        "dbname": u.database,
        "user": u.username,
        "password": u.password or "",
        "search_path": ["public"],
    }
    settings = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": base,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 1000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "osm"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["grids"],
                "keywords_type": "theme",
                "terms_of_service": "none",
                "url": base,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": base},
            "contact": {"name": "bench"},
        },
        "resources": {
            "grids": {
                "type": "collection",
                "title": "grids",
                "description": "grids",
                "keywords": ["grids"],
                "extents": {
                    "spatial": {
                        "bbox": [-180, -90, 180, 90],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": connection,
                        "id_field": "code",
                        "table": "grids",
                        "geom_field": "geom",
                    }
                ],
            }
        },
    }
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    openapi = folder / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pygeoapi")),
            "openapi",
            "generate",
            str(config),
            "-of",
            str(openapi),
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    command = [sys.executable, "-m", "uvicorn", "pygeoapi.starlette_app:APP"]
    with serving(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        f"{base}/conformance?f=json",
        env,
    ):
        yield base


# --- measuring --------------------------------------------------------------------------------


def measure(call: Callable[[int], None], requests: int, threads: int = 4) -> dict[str, float]:
    """Latency p50/p99 of ``requests`` sequential calls; throughput of as many on ``threads``."""
    call(0)  # warm up
    times = []
    for i in range(requests):
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
    per = max(1, requests // threads)

    def run(offset: int) -> None:
        for i in range(per):
            call(offset * per + i)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(times, n=100)
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "rps": per * threads / wall}


def http_caller(
    method: str, urls: list[str], headers: list[dict[str, str]]
) -> Callable[[int], None]:
    local = threading.local()

    def call(i: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=60)
        response = client.request(method, urls[i % len(urls)], headers=headers[i % len(headers)])
        if response.status_code != 200:
            raise RuntimeError(f"{urls[i % len(urls)]}: {response.status_code} {response.text}")

    return call


def floor_caller(url: str, points: np.ndarray) -> Callable[[int], None]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    local = threading.local()
    sql = "SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_Point(%s, %s), 4326))"

    def call(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
        x, y = points[i % len(points)]
        conn.execute(sql, (float(x), float(y))).fetchall()

    return call


def tokens(base: str, accounts: list[str]) -> list[dict[str, str]]:
    out = []
    for name in accounts:
        r = httpx.post(f"{base}/api/v1/token", data={"username": name, "password": PASSWORD})
        out.append({"Authorization": f"Bearer {r.json()['access_token']}"})
    return out


def timed_child(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``command`` under GNU time; return its wall seconds and peak resident memory (MB).

    (``wait4`` on a child forked from this big process would count the parent's pages.)
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        timed = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *command]
        subprocess.run(timed, env={**os.environ, **(env or {})}, check=True)
        seconds, kilobytes = report.read().split()[-2:]
    return {"seconds": float(seconds), "peak_mb": int(kilobytes) / 1024}


EXPORT = """
import sys
from gridsvc.export import export_kind, stream_geojson
from gridsvc.store import make_engine, repo, session_scope
engine = make_engine(sys.argv[1])
with session_scope(engine) as session:
    if sys.argv[2].endswith(".gpkg"):
        export_kind(session, sys.argv[2], kind="households")
    else:
        with open(sys.argv[2], "w", encoding="utf-8") as out:
            chunks = repo.read_chunks(session, "households")
            for text in stream_geojson(chunks, kind="households"):
                out.write(text)
"""


def export_bench(url: str, folder: Path) -> dict[str, dict[str, float]]:
    """gridsvc's streamed GeoJSON export (the /exports route's code path) and its chunked
    GeoPackage export (``export_kind``) vs ogr2ogr."""
    env = {"PYTHONPATH": str(ROOT)}
    u = make_url(url)
    if u.drivername.startswith("postgresql"):
        source = f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username}"
    else:
        source = str(u.database)
    out: dict[str, dict[str, float]] = {}
    for suffix, driver in ((".geojson", "GeoJSON"), (".gpkg", "GPKG")):
        ours, theirs = folder / f"ours{suffix}", folder / f"ogr2ogr{suffix}"
        mine = timed_child([sys.executable, "-c", EXPORT, url, str(ours)], env)
        ogr = timed_child(["ogr2ogr", "-f", driver, str(theirs), source, "households"])
        mine["mb_out"] = ours.stat().st_size / 2**20
        ogr["mb_out"] = theirs.stat().st_size / 2**20
        ours.unlink()
        theirs.unlink()
        out[f"gridsvc {driver}"], out[f"ogr2ogr {driver}"] = mine, ogr
    return out


def peers(
    pg: str, points: np.ndarray, folder: Path, requests: int
) -> list[tuple[str, str, dict[str, float]]]:
    """The floor (bare ST_Contains on the GiST index) and pygeoapi's point-sized bbox query."""
    rows = [("locate", "floor: PostGIS ST_Contains", measure(floor_caller(pg, points), requests))]
    with pygeoapi_server(pg, folder) as base:
        eps = 1e-7
        urls = [
            f"{base}/collections/grids/items?f=json&limit=1&bbox="
            f"{x - eps:.7f},{y - eps:.7f},{x + eps:.7f},{y + eps:.7f}"
            for x, y in points
        ]
        caller = http_caller("GET", urls, [{}])
        rows.append(("locate", "pygeoapi PostGIS (bbox items)", measure(caller, requests)))
    return rows


# --- main -------------------------------------------------------------------------------------


def served_city(households: int, seed: int) -> tuple[Any, gpd.GeoDataFrame, np.ndarray]:
    """Return a synthetic city, its Voronoi grids and 1,000 of its households' lon/lat."""
    t0 = time.perf_counter()
    city = generate_city(seed=seed, households=households)
    grids = voronoi_grids(city, seed)
    print(
        f"city: {len(city.households)} households, {len(city.community)} communities, "
        f"{len(grids)} grids, generated in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(city.households), 1000, replace=False)
    points = shapely.get_coordinates(city.households.geometry.to_numpy()[picks])
    return city, grids, points


def locate_urls(points: np.ndarray) -> list[str]:
    """Return a ``/locate`` request path per lon/lat row of ``points``."""
    return [f"/api/v1/locate?lon={x:.7f}&lat={y:.7f}" for x, y in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000, help="the served city")
    parser.add_argument("--export-households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--postgis", default="postgresql+psycopg://postgres@127.0.0.1:54329/gridsvc_test"
    )
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    city, grids, points = served_city(args.households, args.seed)
    paths = locate_urls(points)
    rows: list[tuple[str, str, dict[str, float]]] = []
    exports: list[tuple[str, dict[str, dict[str, float]]]] = []
    with tempfile.TemporaryDirectory() as tmp, postgis_database(args.postgis) as pg:
        folder = Path(tmp)
        stores = {"PostGIS": pg, "SpatiaLite": f"sqlite:///{folder / 'bench.sqlite'}"}
        for label, url in stores.items():
            t1 = time.perf_counter()
            accounts = load(url, city, grids)
            print(f"{label}: loaded in {time.perf_counter() - t1:.0f} s", flush=True)
            with gridsvc_server(url) as base:
                heads = tokens(base, accounts)
                urls = [base + u for u in paths]
                rows.append(("locate", f"gridsvc {label}", measure(
                    http_caller("GET", urls, [{}]), args.requests)))  # fmt: skip
                me = [f"{base}/api/v1/me/assignments"]
                rows.append(("me/assignments", f"gridsvc {label}", measure(
                    http_caller("GET", me, heads), args.requests)))  # fmt: skip
            print(f"{label}: served", flush=True)
            if label == "PostGIS":
                rows += peers(pg, points, folder, args.requests)
                print("peers: served", flush=True)
            if not args.skip_export:
                exports.append((f"{label} {args.households}", export_bench(url, folder)))
                print(f"{label}: exported", flush=True)
    print(f"\n{args.households} households, {len(grids)} grids, {args.requests} requests\n")
    print(f"{'endpoint':16} {'server':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for endpoint, server, m in rows:
        print(f"{endpoint:16} {server:34} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f} {m['rps']:8.1f}")
    if not args.skip_export:
        del city, grids
        big = generate_city(seed=args.seed + 1, households=args.export_households).households
        with (
            tempfile.TemporaryDirectory() as tmp,
            postgis_database(args.postgis, "gridsvc_bench_export") as pg,
        ):
            migrate(make_engine(pg))
            t1 = time.perf_counter()
            copy_households(pg, big)
            print(f"export store: {len(big)} households in {time.perf_counter() - t1:.0f} s")
            exports.append((f"PostGIS {len(big)}", export_bench(pg, Path(tmp))))
    if exports:
        print("\nExport of every household")
        print(f"{'store':24} {'tool':16} {'seconds':>8} {'peak MB':>8} {'file MB':>8}")
        for store, result in exports:
            for tool, m in result.items():
                print(
                    f"{store:24} {tool:16} {m['seconds']:8.1f} {m['peak_mb']:8.0f} "
                    f"{m['mb_out']:8.0f}"
                )


if __name__ == "__main__":
    main()
