"""Load on loopback: ``locate`` and ``me/assignments`` at stepped request rates against
``gridsvc serve`` (uvicorn, 127.0.0.1) with a synthetic city in PostGIS.

Run: ``PYTHONPATH=. python bench/load.py --households 1000000 --locate-rates 25,50,100,200``
(a database ``gridsvc_bench_load`` is created on ``--postgis`` and dropped afterwards). With
``--keep`` the database (``--database``) is kept and, when it already holds the loaded city, reused
without generating or loading again; ``--load-only`` stops after loading. ``--workers N``
serves with N uvicorn processes. Each step also reports the server's CPU per request (all its
processes, from /proc); ``--sequential N`` first sends N requests one at a time per endpoint and
reports that CPU alone (no queueing), the figure to compare code by on a shared machine.

The generator is open-loop (asyncio + httpx): at rate R it starts request i at ``t0 + i/R``
whether or not earlier ones have answered, for a fixed count ``R × --seconds`` — the run stops
by itself. Latency counts from the scheduled start, so a server that falls behind shows it in
p99 instead of slowing the generator down (no coordinated omission). A request not answered
within ``--timeout`` seconds counts as an error. The city is loaded with
``serve_bench.load`` (COPY into PostGIS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import numpy as np
import psycopg
from _postgis import create_database, postgis_database
from serve_bench import (
    gridsvc_server,
    load,
    locate_urls,
    served_city,
    tokens,
)
from sqlalchemy.engine import make_url

MAX_CONNECTIONS = 64
DATABASE = "gridsvc_bench_load"
WARM_UP = 50  # requests per warm-up stream and endpoint before measuring
WARM_STREAMS = 8  # warm-up connections at once
OVERLOADED_MS = 1000  # a step with a p99 above this ends the endpoint's steps


@dataclass(frozen=True)
class Step:
    """One endpoint at one target rate."""

    endpoint: str
    rate: float
    sent: int
    achieved: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # server CPU (user + system, every server process) per request sent
    client_ms: float  # this load generator's CPU per request sent (it shares the cores)

    @property
    def held(self) -> bool:
        return self.errors == 0 and self.p99_ms < 100


async def run_step(
    client: httpx.AsyncClient,
    endpoint: str,
    urls: Sequence[str],
    headers: Sequence[dict[str, str]],
    *,
    rate: float,
    count: int,
    timeout: float,
) -> Step:
    """Send ``count`` GETs open-loop at ``rate`` per second; return what was achieved.

    At most MAX_CONNECTIONS requests are in httpx at once; the others wait here, on a
    semaphore, with their latency and ``timeout`` counting from their scheduled start. Left
    to queue inside httpx's pool, they cost the generator CPU per request that grows with the
    queue (httpcore scans every queued request against every connection on each request's
    start and end): a short stall of the server then made the generator, on the same two
    cores, take the CPU the server needed (3.4 → 9 ms per request, 2026-11-22), and the step
    collapsed far below the rate the server holds.
    """
    latencies: list[float] = []
    errors = 0
    in_flight = asyncio.Semaphore(MAX_CONNECTIONS)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal errors
        start = t0 + i / rate
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        try:
            async with asyncio.timeout(timeout), in_flight:
                response = await client.get(
                    urls[i % len(urls)], headers=headers[i % len(headers)], timeout=None
                )
            ok = response.status_code == 200
        except (httpx.HTTPError, TimeoutError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1

    cpu, own_cpu = server_cpu(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.perf_counter() - t0
    cpu_ms = (server_cpu() - cpu) / count * 1e3
    client_ms = (time.process_time() - own_cpu) / count * 1e3
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    achieved = len(latencies) / wall
    return Step(
        endpoint, rate, count, achieved, q[49] * 1e3, q[98] * 1e3, errors, cpu_ms, client_ms
    )


def server_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's descendants: ``gridsvc
    serve`` and its worker processes (not PostgreSQL's backends). Read from /proc, so a
    busy machine does not change it the way it changes latency."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
            if pid != os.getpid():
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return total / ticks


async def warm_up(
    client: httpx.AsyncClient, urls: Sequence[str], headers: Sequence[dict[str, str]]
) -> None:
    """Send WARM_UP requests per stream on WARM_STREAMS connections at once, so that every
    server process (each holds its own answer cache and pool) is warm before measuring: one
    stream of sequential requests keeps one connection, and so reaches one process only."""

    async def stream(k: int) -> None:
        for i in range(k, k + WARM_UP):
            await client.get(urls[i % len(urls)], headers=headers[i % len(headers)], timeout=60)

    await asyncio.gather(*(stream(k * WARM_UP) for k in range(WARM_STREAMS)))


async def drive(
    base: str,
    targets: dict[str, tuple[list[str], list[dict[str, str]], list[float]]],
    *,
    seconds: float,
    timeout: float,
    sequential: int = 0,
) -> list[Step]:
    """Step every endpoint through its rates, up to the first step that saturates the server;
    first, with ``sequential``, send that many requests one after another (no queueing) and
    print the server's CPU per request: the cost of a request on its own, for comparing code
    on a shared machine."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    steps: list[Step] = []
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        for endpoint, (urls, headers, rates) in targets.items():
            await warm_up(client, urls, headers)
            if sequential:
                cpu, latencies = server_cpu(), []
                for i in range(sequential):
                    t0 = time.perf_counter()
                    response = await client.get(
                        urls[i % len(urls)], headers=headers[i % len(headers)], timeout=60
                    )
                    response.raise_for_status()
                    latencies.append(time.perf_counter() - t0)
                cpu_ms = (server_cpu() - cpu) / sequential * 1e3
                print(
                    f"{endpoint:16} {sequential} sequential: server CPU {cpu_ms:.2f} ms/request, "
                    f"median latency {statistics.median(latencies) * 1e3:.1f} ms",
                    flush=True,
                )
            for rate in rates:
                count = max(1, round(rate * seconds))
                step = await run_step(
                    client, endpoint, urls, headers, rate=rate, count=count, timeout=timeout
                )
                steps.append(step)
                print(_row(step), f"  (load average {os.getloadavg()[0]:.1f})", flush=True)
                if step.errors or step.achieved < 0.9 * rate or step.p99_ms > OVERLOADED_MS:
                    break  # saturated: a higher rate only queues more
                await asyncio.sleep(2)  # let the server drain between steps
    return steps


HEADER = (
    f"{'endpoint':16} {'target/s':>8} {'sent':>6} {'achieved/s':>10} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'cpu ms/req':>10} {'client ms':>9}"
)


def _row(s: Step) -> str:
    return (
        f"{s.endpoint:16} {s.rate:8g} {s.sent:6d} {s.achieved:10.1f} "
        f"{s.p50_ms:8.1f} {s.p99_ms:8.1f} {s.errors:6d} {s.cpu_ms:10.2f} {s.client_ms:9.2f}"
    )


def _rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",")]


@contextmanager
def kept_database(server: str, name: str) -> Iterator[str]:
    """The database ``name`` on the PostGIS server, created when missing and never dropped."""
    yield create_database(server, name, fresh=False)


def loaded_city(url: str, seed: int) -> tuple[list[str], int, np.ndarray] | None:
    """Return the bench accounts, grid count and 1,000 household lon/lat of a city already
    loaded at ``url`` by an earlier ``--keep`` run, or None when it holds none."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() != ("users",):
            return None
        accounts = [
            r[0]
            for r in conn.execute(
                "SELECT username FROM users WHERE username LIKE 'bench%' ORDER BY username"
            )
        ]
        grids = conn.execute("SELECT count(*) FROM grids").fetchone()
        points = conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM households ORDER BY md5(id || %s) LIMIT 1000",
            (str(seed),),
        ).fetchall()
    if not accounts or not grids or not grids[0] or len(points) < 1000:
        return None
    return accounts, int(grids[0]), np.array(points, dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--locate-rates", default="25,50,100,200", help="requests/s, a,b,…")
    parser.add_argument("--me-rates", default="2,5,10,20", help="me/assignments requests/s")
    parser.add_argument("--seconds", type=float, default=15, help="length of each step")
    parser.add_argument("--timeout", type=float, default=10, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--postgis", default="postgresql+psycopg://postgres@127.0.0.1:54329/gridsvc_test"
    )
    parser.add_argument("--database", default=DATABASE, help="bench database on --postgis")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database; reuse the city it holds"
    )
    parser.add_argument("--load-only", action="store_true", help="stop after loading")
    parser.add_argument("--workers", type=int, default=1, help="gridsvc serve --workers")
    parser.add_argument(
        "--sequential", type=int, default=0, help="first send N requests one at a time"
    )
    args = parser.parse_args()
    database = (kept_database if args.keep else postgis_database)(args.postgis, args.database)
    with database as pg:
        found = loaded_city(pg, args.seed) if args.keep else None
        if found is None:
            city, grid_frame, points = served_city(args.households, args.seed)
            t1 = time.perf_counter()
            accounts = load(pg, city, grid_frame)
            print(f"PostGIS: loaded in {time.perf_counter() - t1:.0f} s", flush=True)
            n_grids = len(grid_frame)
            del city, grid_frame
        else:
            accounts, n_grids, points = found
            print(f"PostGIS: reusing the city in {args.database} ({n_grids} grids)", flush=True)
        if args.load_only:
            return
        locate = locate_urls(points)
        with gridsvc_server(pg, args.workers) as base:
            targets = {
                "locate": (locate, [{}], _rates(args.locate_rates)),
                "me/assignments": (
                    ["/api/v1/me/assignments"],
                    tokens(base, accounts),
                    _rates(args.me_rates),
                ),
            }
            print(HEADER, flush=True)
            steps = asyncio.run(
                drive(
                    base,
                    targets,
                    seconds=args.seconds,
                    timeout=args.timeout,
                    sequential=args.sequential,
                )
            )
    print(
        f"\n{args.households} households, {n_grids} grids, {args.seconds:.0f} s per step, "
        f"{args.workers} server process(es)"
    )
    print(HEADER)
    for s in steps:
        print(_row(s))
    for endpoint in targets:
        held = [s.rate for s in steps if s.endpoint == endpoint and s.held]
        best = f"{max(held):g}/s" if held else "none of the rates"
        print(f"{endpoint}: highest rate held with p99 < 100 ms and no errors: {best}")
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
