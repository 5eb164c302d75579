"""GET /exports/{dataset}: RFC 7946 checked by an independent validator, lossless re-import in
every format, streamed in chunks, scoped and masked by role."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from export_rows import layer_grids, peak_bytes
from fastapi.testclient import TestClient
from geojson_validator import validate_geometries, validate_structure
from seeded import Login
from sqlalchemy.engine import Engine
from staffing_helpers import staff

from gridsvc import export
from gridsvc.api.routes import exports
from gridsvc.ingest import load_frame
from gridsvc.store import repo, session_scope
from gridsvc.store.assignments import read_assignments, replace_assignments

URL = "/api/v1/exports"
SUFFIX = {"geojson": "geojson", "gpkg": "gpkg", "shp": "zip", "csv": "csv"}


def _stored(engine: Engine, kind: str, community: str) -> gpd.GeoDataFrame:
    with session_scope(engine) as session:
        return repo.read(session, kind, community=community)


def _same(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, key: str) -> None:
    """Same rows, same attribute values, same geometries (to GeoJSON's 7 decimals)."""
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    columns = [c for c in want.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(got[columns]), pd.DataFrame(want[columns]), check_dtype=False
    )
    a, b = (shapely.normalize(f.geometry.to_numpy()) for f in (got, want))  # ring order only
    close = shapely.equals_exact(a, b, tolerance=1e-7)
    assert close.all()


def test_geojson_passes_an_independent_rfc7946_check(
    client: TestClient, login: Login, code: str
) -> None:
    response = client.get(f"{URL}/grids", params={"community": code}, headers=login("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert "crs" not in body and body["features"]
    assert validate_structure(body) == {}
    report = validate_geometries(body)
    assert report["invalid"] == {}, report  # closed rings, CCW exteriors, CW holes
    assert report["problematic"].keys() <= {"excessive_coordinate_precision"}, report
    # the validator flags more than 6 decimals; our contract (issue 7) is at most 7
    coordinates = json.dumps([f["geometry"] for f in body["features"]])
    decimals = [len(d) for d in re.findall(r"\.(\d+)", coordinates)]
    assert decimals and max(decimals) <= 7


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv"])
@pytest.mark.parametrize(
    ("dataset", "kind", "key"), [("grids", "grids", "code"), ("households", "households", "id")]
)
def test_every_format_reimports_losslessly(
    client: TestClient,
    login: Login,
    api_store: Engine,
    code: str,
    tmp_path: Path,
    fmt: str,
    dataset: str,
    kind: str,
    key: str,
) -> None:
    response = client.get(
        f"{URL}/{dataset}", params={"community": code, "format": fmt}, headers=login("admin")
    )
    assert response.status_code == 200, response.text
    assert f'filename="{dataset}-{code}.{SUFFIX[fmt]}"' in response.headers["content-disposition"]
    path = tmp_path / f"export.{SUFFIX[fmt]}"
    path.write_bytes(response.content)
    want = _stored(api_store, kind, code)
    if dataset == "grids":
        want = want[want["level"] == 1]
    _same(load_frame(path, kind=kind), want, key)


def test_geojson_sequence_is_one_feature_per_record(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    response = client.get(
        f"{URL}/households", params={"format": "geojsonseq"}, headers=login("admin")
    )
    assert response.headers["content-type"] == "application/geo+json-seq"
    records = response.text.split("\x1e")
    assert records[0] == ""
    features = [json.loads(r) for r in records[1:]]
    assert all(r.endswith("\n") for r in records[1:])
    assert [f["id"] for f in features] == list(_stored(api_store, "households", code)["id"])


def test_chunks_cover_every_household_exactly_once(
    client: TestClient, login: Login, api_store: Engine, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK", 64)  # 300 households: five chunks, the last partial
    body = client.get(f"{URL}/households", headers=login("admin")).json()
    ids = [f["id"] for f in body["features"]]
    assert ids == list(_stored(api_store, "households", code)["id"])
    assert len(ids) == 300


def test_households_are_scoped_and_masked_by_role(
    client: TestClient, login: Login, api_store: Engine, code: str
) -> None:
    grid = staff(api_store, code, role="grid_member")
    stored = _stored(api_store, "households", code).set_index("id")
    planner = client.get(f"{URL}/households", headers=login("planner")).json()["features"]
    assert len(planner) == len(stored)
    assert all(f["properties"]["phone"][3:7] == "****" for f in planner)
    worker = client.get(f"{URL}/households", params={"format": "csv"}, headers=login("worker"))
    rows = pd.read_csv(pd.io.common.StringIO(worker.text), dtype=str)
    mine = client.get("/api/v1/me/assignments", headers=login("worker")).json()
    assert set(rows["id"]) == {r[0] for r in mine["households"]["rows"]}
    assert 0 < len(rows) < len(stored)
    assert (rows["id_number"].str[6:14] == "********").all()
    outsider = client.get(f"{URL}/households", headers=login("outsider")).json()
    assert outsider["features"] == []
    assignments = client.get(f"{URL}/assignments", headers=login("worker")).json()
    assert [
        (f["properties"]["worker_id"], f["properties"]["grid_code"])
        for f in assignments["features"]
    ] == [("W1", grid)]
    assert assignments["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/households", {"format": "kml"}, 422, "format"),
        ("/roads", {}, 422, "dataset"),
        ("/grids", {"layer": "police"}, 422, "layer filters only the layers dataset"),
        ("/grids", {"community": "110101001001"}, 403, "may not act on community"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    client: TestClient, login: Login, path: str, params: dict[str, str], status: int, needle: str
) -> None:
    response = client.get(URL + path, params=params, headers=login("planner"))
    assert response.status_code == status
    assert needle in response.text
    assert client.get(URL + "/grids").status_code == 401


def _download(
    client: TestClient,
    headers: dict[str, str],
    params: dict[str, str],
    path: Path,
    dataset: str = "layers",
) -> None:
    """Stream ``/exports/{dataset}`` into ``path`` as a client would, a body chunk at a time."""
    with client.stream("GET", f"{URL}/{dataset}", params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        with path.open("wb") as out:
            for piece in response.iter_bytes():
                out.write(piece)


@pytest.mark.parametrize("fmt", ["geojson", "geojsonseq", "csv", "gpkg", "shp"])
def test_layers_stream_in_chunks_equal_to_a_whole_read(
    client: TestClient,
    login: Login,
    api_store: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """``/exports/layers`` reads layer grids ``CHUNK`` rows at a time: every format gives what
    a whole read gave (text formats byte for byte), and 4× the rows take no more memory (checked
    on the two ways out: a text stream and a file GDAL writes)."""
    monkeypatch.setattr(exports, "CHUNK", 300)
    headers = login("admin")
    with session_scope(api_store) as session:
        repo.upsert(session, "layer_grids", layer_grids(2_000))
    suffix = SUFFIX.get(fmt, "geojsons")
    for layer in (None, "police"):
        params = {"format": fmt, **({"layer": layer} if layer else {})}
        _download(client, headers, params, tmp_path / f"chunks.{suffix}")
        with session_scope(api_store) as session:
            whole = repo.read(session, "layer_grids", layer=layer)
        assert len(whole) >= (2_000 if layer is None else 667)
        if fmt in ("gpkg", "shp"):
            got = load_frame(tmp_path / f"chunks.{suffix}", kind="layer_grids")
            _same(
                got.assign(key=got["layer"] + "/" + got["grid_id"]),
                whole.assign(key=whole["layer"] + "/" + whole["grid_id"]),
                "key",
            )
        else:
            stream = {
                "geojson": export.stream_geojson,
                "geojsonseq": export.stream_geojson_seq,
                "csv": export.stream_csv,
            }[fmt]
            want = "".join(stream([whole], kind="layer_grids")).encode()
            assert (tmp_path / f"chunks.{suffix}").read_bytes() == want

    if fmt not in ("geojson", "gpkg"):
        return  # the memory check takes a minute: one text stream and one file export
    monkeypatch.setattr(exports, "CHUNK", 500)
    small = peak_bytes(lambda: _download(client, headers, {"format": fmt}, tmp_path / "s"))
    with session_scope(api_store) as session:
        repo.upsert(session, "layer_grids", layer_grids(8_000))
        whole_peak = peak_bytes(lambda: repo.read(session, "layer_grids"))
    big = peak_bytes(lambda: _download(client, headers, {"format": fmt}, tmp_path / "b"))
    assert big < 1.5 * small, f"peaks {small} and {big} bytes for 2,000 and 8,000 layer grids"
    assert big < whole_peak / 2, f"streamed peak {big} bytes, whole read {whole_peak} bytes"


@pytest.mark.parametrize("fmt", ["geojson", "geojsonseq", "csv", "gpkg"])
def test_assignments_stream_in_chunks_equal_to_a_whole_read(
    client: TestClient,
    login: Login,
    api_store: Engine,
    code: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """``/exports/assignments`` reads assignments ``CHUNK`` rows at a time, each chunk with its
    grids' shapes: the download equals a whole read's (text formats byte for byte), in the
    order of :func:`read_assignments`, for an admin and for a planner's scope."""
    with session_scope(api_store) as session:
        grids = repo.read(session, "grids", community=code)["code"].astype(str).tolist()
        plan = pd.DataFrame(
            [(g, w, r) for g in grids for w in ("W1", "W2", "W3") for r in ("leader", "member")],
            columns=["grid_code", "worker_id", "role"],
        )
        replace_assignments(session, code, plan)
        whole_rows = read_assignments(session, community=code)
    assert len(whole_rows) == 6 * len(grids) > 50
    suffix = SUFFIX.get(fmt, "geojsons")
    key = ["grid_code", "role", "worker_id"]
    read = exports.read_assignment_chunks
    sizes: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Iterator[pd.DataFrame]:
        for chunk in read(*args, **kwargs):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(exports, "read_assignment_chunks", counted)
    for user in ("admin", "planner"):
        headers = login(user)
        monkeypatch.setattr(exports, "CHUNK", 7)  # many chunks
        sizes.clear()
        _download(client, headers, {"format": fmt}, tmp_path / f"c.{suffix}", "assignments")
        assert sizes == [7] * (len(whole_rows) // 7) + [len(whole_rows) % 7] * (
            len(whole_rows) % 7 > 0
        )
        monkeypatch.setattr(exports, "CHUNK", 10**6)  # one chunk: the whole read
        _download(client, headers, {"format": fmt}, tmp_path / f"w.{suffix}", "assignments")
        if fmt == "gpkg":
            got, want = (load_frame(tmp_path / f"{n}.{suffix}", kind="assignments") for n in "cw")
            assert got[key].values.tolist() == whole_rows[key].values.tolist()
            _same(
                got.assign(key=got[key].agg("/".join, axis=1)),
                want.assign(key=want[key].agg("/".join, axis=1)),
                "key",
            )
        else:
            chunked = (tmp_path / f"c.{suffix}").read_bytes()
            assert chunked == (tmp_path / f"w.{suffix}").read_bytes()
            assert _assignment_keys(chunked.decode(), fmt) == whole_rows[key].values.tolist()


def _assignment_keys(text: str, fmt: str) -> list[list[str]]:
    """Return (grid_code, role, worker_id) of each row of an assignments download, in order."""
    key = ["grid_code", "role", "worker_id"]
    if fmt == "csv":
        return pd.read_csv(io.StringIO(text), dtype=str)[key].values.tolist()
    if fmt == "geojson":
        features = json.loads(text)["features"]
    else:
        features = [json.loads(r) for r in text.split("\x1e")[1:]]
    return [[f["properties"][k] for k in key] for f in features]
