"""OGC API – Features: landing, conformance, collections, items paging, single items; and GDAL's
OAPIF driver (Debian gdal-bin) reading a real uvicorn server as a client would."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from needs import missing
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from gridsvc.store import repo, session_scope

BASE = "/api/v1/ogc"
ROOT = Path(__file__).resolve().parents[2]


def _codes(engine: Engine, community: str, *, micro: bool = False) -> set[str]:
    with session_scope(engine) as session:
        grids = repo.read(session, "grids", community=community)
    level = grids["level"].to_numpy()
    return set(grids["code"][(level >= 2) if micro else (level == 1)].astype(str))


def test_landing_and_conformance_link_what_a_client_needs(client: TestClient) -> None:
    landing = client.get(BASE)
    assert landing.status_code == 200
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert client.get(rels["service-desc"]).json()["openapi"].startswith("3.")
    conforms = client.get(rels["conformance"]).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conforms


def test_collections_are_communities_grids_microgrids_and_each_layer(client: TestClient) -> None:
    body = client.get(f"{BASE}/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == [
        "communities",
        "grids",
        "microgrids",
        "layer-governance",
        "layer-party",
        "layer-police",
    ]
    one = client.get(f"{BASE}/collections/grids").json()
    assert any(link["rel"] == "items" for link in one["links"])
    missing = client.get(f"{BASE}/collections/roads")
    assert missing.status_code == 404
    assert "collection 'roads' does not exist" in missing.json()["detail"]


@pytest.mark.parametrize("collection", ["grids", "microgrids"])
def test_next_links_page_through_every_feature_once(
    client: TestClient, api_store: Engine, code: str, collection: str
) -> None:
    url: str | None = f"{BASE}/collections/{collection}/items?limit=2"
    seen: list[str] = []
    pages = 0
    while url is not None and pages < 200:
        response = client.get(url)
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        assert body["numberReturned"] == len(body["features"]) <= 2
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert len(seen) == len(set(seen))
    assert set(seen) == _codes(api_store, code, micro=collection == "microgrids")


def test_limit_over_the_cap_is_capped_not_refused(client: TestClient) -> None:
    response = client.get(f"{BASE}/collections/communities/items", params={"limit": 50_000})
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 1
    assert client.get(f"{BASE}/collections/grids/items", params={"limit": 0}).status_code == 422


def test_bbox_filters_and_a_bad_bbox_names_the_field(
    client: TestClient, api_store: Engine, code: str
) -> None:
    everything = client.get(f"{BASE}/collections/grids/items", params={"limit": 1000}).json()
    far = client.get(f"{BASE}/collections/grids/items", params={"bbox": "0,0,1,1"}).json()
    assert everything["numberMatched"] == len(_codes(api_store, code)) and far["features"] == []
    bad = client.get(f"{BASE}/collections/grids/items", params={"bbox": "35,111,36,112"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "bbox"


def test_single_items_and_a_missing_one(client: TestClient, api_store: Engine, code: str) -> None:
    grid = sorted(_codes(api_store, code))[0]
    one = client.get(f"{BASE}/collections/grids/items/{grid}")
    assert one.status_code == 200
    assert one.json()["type"] == "Feature" and one.json()["id"] == grid
    assert client.get(f"{BASE}/collections/grids/items/999").status_code == 404


@contextmanager
def _statements(engine: Engine, *, parameters: bool = False) -> Iterator[list[Any]]:
    """Collect the SQL ``engine`` runs inside the block (with ``parameters``: each statement
    and its parameters)."""
    seen: list[Any] = []

    def record(*args: Any) -> None:
        seen.append((str(args[2]), args[3]) if parameters else str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("collection", "table", "key"),
    [
        ("communities", "communities", "code"),
        ("grids", "grids", "code"),
        ("microgrids", "grids", "code"),
        ("layer-police", "layer_grids", "grid_id"),
    ],
)
def test_a_single_item_is_a_keyed_read_equal_to_its_page_entry(
    client: TestClient, api_store: Engine, collection: str, table: str, key: str
) -> None:
    listed = client.get(f"{BASE}/collections/{collection}/items", params={"limit": 1000}).json()
    assert listed["features"]
    for expected in listed["features"][:3]:
        with _statements(api_store) as seen:
            response = client.get(f"{BASE}/collections/{collection}/items/{expected['id']}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/geo+json")
        got = response.json()
        links = got.pop("links")
        assert got == expected
        assert {link["rel"] for link in links} == {"self", "collection"}
        reads = [q for q in seen if f"FROM {table}" in q]
        assert reads and all(f"{table}.{key} IN" in q for q in reads), reads


# --- a real server read by GDAL ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(api_store: Engine, store_url: str, tmp_path: Path) -> Iterator[str]:
    """Serve the seeded store with ``gridsvc serve`` (uvicorn) on a free loopback port."""
    if not store_url.startswith("sqlite"):
        pytest.skip("one back-end is enough for the GDAL client test")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDSVC_SECRET_KEY": "x" * 40}
    command = [sys.executable, "-c", "from gridsvc.cli import app; app()", "serve"]
    command += ["--port", str(port), "--db", store_url]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}{BASE}/conformance", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        else:
            pytest.fail(f"the server did not start: {(tmp_path / 'server.log').read_text()}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _ogrinfo(*args: str) -> str:
    done = subprocess.run(
        ["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_oapif_lists_the_collections_and_reads_every_grid(
    server: str, api_store: Engine, code: str
) -> None:
    if shutil.which("ogrinfo") is None:
        missing("GDAL's ogrinfo", "needs gdal-bin (ogrinfo): apt-get install gdal-bin")
    source = f"OAPIF:{server}{BASE}"
    layers = _ogrinfo(source)
    for name in ("communities", "grids", "microgrids", "layer-police"):
        assert re.search(rf"^\d+: {name}\b", layers, re.M), layers
    # a page size of 3 makes GDAL follow our `next` links
    features = _ogrinfo("-oo", "PAGE_SIZE=3", "-al", source, "grids")
    codes = re.findall(r"^\s+code \(String\) = (\d+)$", features, re.M)
    assert sorted(codes) == sorted(_codes(api_store, code))
    assert features.count("POLYGON") >= len(codes)


# --- key-ordered pages (cursor) ---------------------------------------------------------------


def _next(body: dict[str, Any]) -> str | None:
    return next((link["href"] for link in body["links"] if link["rel"] == "next"), None)


@pytest.mark.parametrize(
    ("collection", "table", "size"),
    [("grids", "grids", 3), ("microgrids", "grids", 3), ("layer-police", "layer_grids", 1)],
)
def test_pages_past_the_first_are_read_by_key_not_offset(
    client: TestClient, api_store: Engine, collection: str, table: str, size: int
) -> None:
    """Every page after the first starts past the last key of the page before (``cursor``):
    no OFFSET in its SQL and no COUNT (numberMatched is on the first page only, exact), every
    feature once, in key order."""
    everything = client.get(f"{BASE}/collections/{collection}/items", params={"limit": 1000})
    want = [f["id"] for f in everything.json()["features"]]
    assert len(want) > 2 * size
    url: str | None = f"{BASE}/collections/{collection}/items?limit={size}"
    seen: list[str] = []
    pages = 0
    while url is not None:
        with _statements(api_store, parameters=True) as statements:
            body = client.get(url).json()
        reads = [(q, p) for q, p in statements if f"FROM {table}" in q and "count(" not in q]
        counts = [q for q, _ in statements if "count(" in q]
        assert reads, statements
        if pages > 0:
            assert "cursor=" in url and "offset=" not in url, url
            for q, p in reads:  # a key condition; no rows skipped (SQLite: "OFFSET 0" always)
                assert ">" in q and ("OFFSET" not in q or list(p)[-1] == 0), (q, p)
            assert counts == [] and "numberMatched" not in body, (counts, body.keys())
        else:
            assert len(counts) == 1 and body["numberMatched"] == len(want)
        assert body["numberReturned"] == len(body["features"]) == min(size, len(want) - len(seen))
        seen += [f["id"] for f in body["features"]]
        url = _next(body)
        pages += 1
    assert seen == want  # every feature once, in key order
    assert pages == -(-len(want) // size)


def test_a_page_starts_past_the_last_key_even_when_rows_before_it_go(
    client: TestClient, api_store: Engine
) -> None:
    """Deleting a row of page one before asking for page two skips nothing (an offset would
    skip the first row of page two)."""
    first = client.get(f"{BASE}/collections/grids/items", params={"limit": 3}).json()
    everything = client.get(f"{BASE}/collections/grids/items", params={"limit": 1000}).json()
    ids = [f["id"] for f in everything["features"]]
    with session_scope(api_store) as session:
        session.execute(text("DELETE FROM grids WHERE code = :c"), {"c": ids[0]})
    href = _next(first)
    assert href is not None
    second = client.get(href).json()
    assert [f["id"] for f in second["features"]] == ids[3:6]
    again = client.get(f"{BASE}/collections/grids/items", params={"limit": 3}).json()
    assert again["numberMatched"] == len(ids) - 1


def test_next_links_keep_the_bbox_and_the_limit(client: TestClient, api_store: Engine) -> None:
    with session_scope(api_store) as session:
        box = repo.read(session, "grids", level=1).total_bounds
    bbox = ",".join(f"{v:.6f}" for v in box)
    body = client.get(f"{BASE}/collections/grids/items", params={"bbox": bbox, "limit": 2}).json()
    href = _next(body)
    assert href is not None
    params = httpx.URL(href).params
    assert params["bbox"] == bbox and params["limit"] == "2" and params["cursor"]
    second = client.get(href).json()
    assert second["numberReturned"] == 2 and body["numberMatched"] > 4
    ids = {f["id"] for f in body["features"]} | {f["id"] for f in second["features"]}
    assert len(ids) == 4


@pytest.mark.parametrize("bbox", [None, "110,30,120,40"])
def test_number_matched_is_exact_without_a_count_when_the_page_reaches_the_end(
    client: TestClient, api_store: Engine, bbox: str | None
) -> None:
    """A page asked for without a cursor that holds the last match says how many match from
    the page itself (offset + features), with no COUNT; a page that does not reach the end,
    or an offset past it, counts."""
    items = f"{BASE}/collections/grids/items"
    base = {"bbox": bbox} if bbox else {}
    everything = client.get(items, params={**base, "limit": 1000}).json()
    n = everything["numberMatched"]
    assert n == everything["numberReturned"] > 4
    for params, counted in (
        ({"limit": n}, False),
        ({"limit": 1000}, False),
        ({"limit": 2, "offset": n - 2}, False),
        ({"limit": 5, "offset": n - 1}, False),
        ({"limit": 2}, True),
        ({"limit": 2, "offset": n}, True),
        ({"limit": 2, "offset": n + 7}, True),
    ):
        with _statements(api_store) as statements:
            body = client.get(items, params={**base, **params}).json()
        counts = [q for q in statements if "count(" in q]
        assert len(counts) == int(counted), (params, counts)
        assert body["numberMatched"] == n, params
        assert (
            body["numberReturned"]
            == len(body["features"])
            == max(0, min(params["limit"], n - params.get("offset", 0)))
        )


def _problem(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["detail"])


def test_a_cursor_that_is_not_ours_or_of_another_query_is_refused(client: TestClient) -> None:
    items = f"{BASE}/collections/grids/items"
    for bad in ("nonsense", "W10=", "eyJhIjoxfQ", "x" * 300):
        detail = _problem(client.get(items, params={"cursor": bad}))
        assert f"cursor {bad!r} is not one this service issued" in detail
        assert "start again from the first page (no cursor)" in detail
    href = _next(client.get(items, params={"limit": 2}).json())
    assert href is not None
    cursor = httpx.URL(href).params["cursor"]
    for other in (
        {"cursor": cursor, "bbox": "111,35,112,36"},  # another bbox
        {"cursor": cursor, "limit": 5, "_": "micro"},
    ):
        path = items if "bbox" in other else f"{BASE}/collections/microgrids/items"
        params = {k: v for k, v in other.items() if k != "_"}
        detail = _problem(client.get(path, params=params))
        assert f"cursor {cursor!r} was issued for another query" in detail
    detail = _problem(client.get(items, params={"cursor": cursor, "offset": 2}))
    assert detail == "give cursor or offset, not both"
    assert client.get(items, params={"cursor": cursor, "limit": 5}).status_code == 200
