"""A database restart under a stream of /locate requests: clean 503s, then recovery in place.

A throwaway PostgreSQL + PostGIS cluster (``scripts/postgis.sh`` on a free loopback port, data
under /tmp) serves a live ``gridsvc serve``; a client thread sends a bounded stream of locate
requests while the test stops the database (fast shutdown: open connections are cut) and starts
it again. The shared test server is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
from needs import missing

from gridsvc.ingest import import_file, load_frame
from gridsvc.store import make_engine, migrate, repo, session_scope
from gridsvc.workflows import FIXTURES

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parents[2]
POSTGIS_SH = ROOT / "scripts" / "postgis.sh"
COMMUNITY = FIXTURES / "village" / "community.geojson"
TIMEOUT = 15.0  # seconds; a request slower than this is a hang
REQUESTS = 400  # the whole stream, bounded
PAUSE = 0.02  # seconds between a client's requests
OUTAGE_ERRORS = 5  # failed requests seen before the database comes back


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A private PostGIS server run by scripts/postgis.sh."""

    port: int
    data: Path

    @property
    def log(self) -> Path:
        """The served gridsvc's log."""
        return self.data.parent / "serve.log"

    def run(self, action: str) -> str:
        env = {**os.environ, "GRIDSVC_PG_PORT": str(self.port), "GRIDSVC_PG_DIR": str(self.data)}
        done = subprocess.run(
            ["bash", str(POSTGIS_SH), action],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"postgis.sh {action}: {done.stderr}"
        return done.stdout.strip()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not os.environ.get("GRIDSVC_TEST_POSTGIS_URL"):
        missing("PostGIS", "GRIDSVC_TEST_POSTGIS_URL is not set; run: scripts/postgis.sh start")
    # Not tmp_path: the server runs as the postgres user, who cannot enter pytest's 0700 folders.
    parent = Path(tempfile.mkdtemp(prefix="gridsvc-restart-", dir="/tmp"))
    parent.chmod(0o755)
    pg = Cluster(_free_port(), parent / "data")
    try:
        yield pg
    finally:
        pg.run("stop")
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def server(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """Start the cluster, store one community with one grid, serve it (its log in
    ``cluster.log``); yield (base, query)."""
    url = cluster.run("start")
    engine = make_engine(url)
    migrate(engine)
    community = load_frame(COMMUNITY, kind="communities")
    code = str(community["code"][0])
    grid = gpd.GeoDataFrame(
        {"code": [f"{code}001"], "community_code": [code], "level": [1]},
        geometry=community.geometry.to_numpy(),
        crs=community.crs,
    )
    with session_scope(engine) as session:
        import_file(session, COMMUNITY, kind="communities")
        repo.upsert(session, "grids", grid)
    engine.dispose()
    point = community.geometry.iloc[0].representative_point()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from gridsvc.cli import app; app()", "serve"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDSVC_SECRET_KEY": "r" * 40}
    log = cluster.log.open("w")
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--db", url],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(240):  # bounded wait for the server to answer
            try:
                if httpx.get(f"{base}/api/v1/ogc/conformance", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        else:
            pytest.fail("gridsvc serve did not start")
        yield base, f"/api/v1/locate?lon={point.x:.7f}&lat={point.y:.7f}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@dataclass
class Outcome:
    status: int | None  # None: no answer within TIMEOUT (a hang) or the connection failed
    kind: str
    retry_after: str | None
    body: dict[str, object]
    during_outage: bool


def test_service_recovers_from_a_database_restart_under_load(
    cluster: Cluster, server: tuple[str, str]
) -> None:
    base, query = server
    outcomes: list[Outcome] = []
    outage = threading.Event()  # set while the database is down or starting
    done = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            for _ in range(REQUESTS):
                down = outage.is_set()
                try:
                    r = client.get(query)
                except httpx.HTTPError as exc:
                    outcomes.append(Outcome(None, type(exc).__name__, None, {}, down))
                else:
                    body = r.json() if r.headers["content-type"].endswith("json") else {}
                    outcomes.append(
                        Outcome(
                            r.status_code,
                            r.headers["content-type"],
                            r.headers.get("retry-after"),
                            body,
                            down or outage.is_set(),
                        )
                    )
                time.sleep(PAUSE)
        done.set()

    client = threading.Thread(target=stream)
    client.start()

    def wait_for(predicate: Callable[[], bool], what: str) -> None:
        while not predicate():
            assert not done.is_set(), f"the stream ended before {what}"
            time.sleep(0.01)

    wait_for(lambda: sum(o.status == 200 for o in outcomes) >= 20, "20 answers")
    outage.set()
    stopped_at = len(outcomes)
    cluster.run("stop")
    wait_for(lambda: sum(o.status != 200 for o in outcomes) >= OUTAGE_ERRORS, "errors")
    cluster.run("start")
    outage.clear()
    back_at = len(outcomes)
    client.join(timeout=REQUESTS * (TIMEOUT + PAUSE))
    assert not client.is_alive()

    assert len(outcomes) == REQUESTS
    hangs = [o for o in outcomes if o.status is None]
    assert hangs == [], f"requests without an answer: {[o.kind for o in hangs]}"
    assert all(o.status == 200 for o in outcomes[:stopped_at]), "failures before the restart"
    errors = [o for o in outcomes if o.status != 200]
    assert len(errors) >= OUTAGE_ERRORS, "the outage was not seen by any request"
    for o in errors:
        assert o.status == 503, f"{o.status}: {o.body}"
        assert o.kind == "application/problem+json"
        assert o.retry_after is not None and int(o.retry_after) > 0
        assert o.body["type"] == "https://gridsvc.dev/problems/store-unavailable"
        assert "database is unavailable" in str(o.body["detail"])
        assert o.during_outage, "a 503 outside the outage"
    # recovery without restarting the service: after the database is back, every answer is 200
    # once the first one is (the pool drops its dead connections instead of failing on them)
    after = outcomes[back_at:]
    first_ok = next(i for i, o in enumerate(after) if o.status == 200)
    assert len(after) - first_ok >= 50, "too few requests after the restart to tell"
    assert all(o.status == 200 for o in after[first_ok:]), [o.status for o in after[first_ok:]]
    assert after[-1].body["grid"] is not None


def test_a_restart_between_requests_costs_no_request(
    cluster: Cluster, server: tuple[str, str]
) -> None:
    """Pooled connections the restart cut cost no request: the first read on a dead one fails
    as a disconnect, which drops the whole pool, and is run once more on a new connection
    (no pre-ping: the server's log shows that retry)."""
    base, query = server
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        before = [client.get(query).status_code for _ in range(10)]
        cluster.run("stop")
        cluster.run("start")
        after = [client.get(query).status_code for _ in range(10)]
    assert before == [200] * 10
    assert after == [200] * 10
    retries = cluster.log.read_text().count("database connection lost; trying once more")
    assert retries == 1, cluster.log.read_text()[-3000:]
