"""A worker process killed with SIGKILL in the middle of a city run: the run still finishes
(Dask reruns the lost task on the surviving worker) and every community is complete once."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
from city_checks import assert_complete_once, inputs_of
from distributed import Client, LocalCluster

from gridsvc.city import CityReport, run_city
from gridsvc.config import Settings


def _busy_worker(client: Client, timeout: float = 300.0) -> str:
    """Wait until a community task is running on some worker; return that worker's address."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if any(str(k).startswith("community-") for k in keys):
                return address
        time.sleep(0.2)
    raise AssertionError("no community task started")


def test_killed_worker_mid_run_leaves_every_community_complete_once(
    city_dir: Path, store_url: str
) -> None:
    inputs = inputs_of(city_dir)
    households = gpd.read_parquet(inputs.households)
    result: list[CityReport | BaseException] = []
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            memory_limit=0,
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):

        def run() -> None:
            try:
                result.append(
                    run_city(
                        inputs, Settings(), store_url=store_url, scheduler=cluster.scheduler_address
                    )
                )
            except BaseException as exc:
                result.append(exc)

        runner = threading.Thread(target=run)
        runner.start()
        victim = _busy_worker(client)
        pid = client.run(os.getpid, workers=[victim])[victim]
        killed_during = [str(k) for k in client.processing()[victim]]
        os.kill(pid, signal.SIGKILL)
        runner.join(timeout=900)
        assert not runner.is_alive()
    (report,) = result
    assert isinstance(report, CityReport), report
    assert killed_during, "the worker was idle when killed"
    assert report.totals["failed"] == 0
    assert report.totals["done"] == households["community_code"].nunique()
    assert_complete_once(store_url, households)
