"""Who may do what: tokens, roles, scopes; every denial has a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from seeded import Login
from typer.testing import CliRunner

from gridsvc.cli_users import app as user_cli
from gridsvc.store import session_scope, users

API = "/api/v1"
SECRET = "test-secret-key-of-sufficient-length-0123456789"


def test_a_token_needs_the_right_password(client: TestClient) -> None:
    response = client.post(f"{API}/token", data={"username": "admin", "password": "wrong-one"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "wrong username or password"
    unknown = client.post(f"{API}/token", data={"username": "nobody", "password": "whatever1"})
    assert unknown.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/communities",
        "/households",
        "/buildings",
        "/grids",
        "/micro-grids",
        "/workers",
        "/layers",
        "/communities/140802003201/plans",
        "/me",
        "/audit",
    ],
)
def test_anonymous_callers_are_refused(client: TestClient, path: str) -> None:
    response = client.get(API + path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"].startswith("log in first")


def test_forged_and_expired_tokens_are_refused(client: TestClient) -> None:
    now = datetime.now(UTC)
    forged = jwt.encode({"sub": "admin", "exp": now + timedelta(hours=1)}, "x" * 40, "HS256")
    expired = jwt.encode({"sub": "admin", "exp": now - timedelta(seconds=5)}, SECRET, "HS256")
    for token, detail in ((forged, "the token is invalid"), (expired, "the token has expired")):
        response = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["detail"].startswith(detail)


def test_me_shows_role_and_scope(client: TestClient, login: Login, code: str) -> None:
    body = client.get(f"{API}/me", headers=login("planner")).json()
    assert body == {
        "username": "planner",
        "role": "planner",
        "scope": [code[:6]],
        "worker_id": None,
    }


def test_a_planner_of_another_district_sees_and_edits_nothing_here(
    client: TestClient, login: Login, code: str
) -> None:
    outsider = login("outsider")
    for path in (
        f"/households?community={code}",
        f"/communities/{code}",
        f"/grids?community={code}",
        f"/communities/{code}/plans",
    ):
        response = client.get(API + path, headers=outsider)
        assert response.status_code == 403, path
        assert "may not act on community" in response.json()["detail"]
    # unfiltered lists hold nothing of the village
    assert client.get(f"{API}/households", headers=outsider).json()["numberMatched"] == 0
    assert client.get(f"{API}/communities", headers=outsider).json()["features"] == []
    # a draft opened by the village's planner cannot be read, edited or published by him
    planner = login("planner")
    draft = client.post(f"{API}/communities/{code}/plans", json={}, headers=planner)
    plan, etag = draft.json()["id"], draft.headers["ETag"]
    grids = client.get(f"{API}/plans/{plan}/grids", params={"level": 1}, headers=planner).json()[
        "features"
    ]
    a, b = sorted(f["id"] for f in grids)[:2]
    writes = [
        (f"/plans/{plan}/edits", {"op": "merge", "grids": [a, b]}),
        (f"/plans/{plan}/publish", {}),
        (f"/communities/{code}/plans", {}),
        ("/jobs/partition", {"communities": [code]}),
    ]
    for path, body in writes:
        response = client.post(API + path, json=body, headers={**outsider, "If-Match": etag})
        assert response.status_code == 403, path
    assert client.get(f"{API}/plans/{plan}", headers=outsider).status_code == 403
    assert client.get(f"{API}/plans/{plan}", headers=planner).headers["ETag"] == etag


def test_a_worker_sees_only_his_grids_households(
    client: TestClient, login: Login, code: str
) -> None:
    worker, admin = login("worker"), login("admin")
    mine = client.get(f"{API}/me", headers=worker).json()["scope"][0]
    grid = client.get(f"{API}/grids/{mine}", headers=admin).json()["features"][0]
    seen = client.get(f"{API}/households", params={"limit": 1000}, headers=worker).json()
    assert seen["numberMatched"] == grid["properties"]["households"] > 0
    everyone = client.get(f"{API}/households", params={"limit": 1000}, headers=admin).json()
    other = next(
        f["id"] for f in everyone["features"] if f["id"] not in {g["id"] for g in seen["features"]}
    )
    response = client.get(f"{API}/households/{other}/grid", headers=worker)
    assert response.status_code == 403
    assert "is not in a grid of worker" in response.json()["detail"]
    own = seen["features"][0]["id"]
    assert client.get(f"{API}/households/{own}/grid", headers=worker).json()["grid"] == mine


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/communities/140802003201/plans"),
        ("post", "/jobs/partition"),
        ("get", "/communities/140802003201/plans"),
        ("get", "/users"),
        ("get", "/audit"),
    ],
)
def test_a_worker_may_not_plan_or_administer(
    client: TestClient, login: Login, method: str, path: str
) -> None:
    body = {"communities": ["140802003201"]} if "jobs" in path else {}
    kwargs = {"json": body} if method == "post" else {}
    response = client.request(method, API + path, headers=login("worker"), **kwargs)
    assert response.status_code == 403
    assert "worker" in response.json()["detail"]


def test_a_worker_sees_only_himself_among_workers(client: TestClient, login: Login) -> None:
    body = client.get(f"{API}/workers", headers=login("worker")).json()
    assert all(f["id"] == "W1" for f in body["features"])


@pytest.mark.parametrize("path", ["/users", "/audit"])
def test_planners_may_not_administer(client: TestClient, login: Login, path: str) -> None:
    response = client.get(API + path, headers=login("planner"))
    assert response.status_code == 403
    assert "only admins" in response.json()["detail"]


def test_admin_adds_users_and_duplicates_are_refused(client: TestClient, login: Login) -> None:
    body = {"username": "p2", "password": "long enough", "role": "planner", "scope": ["140802"]}
    assert client.post(f"{API}/users", json=body, headers=login("admin")).status_code == 201
    again = client.post(f"{API}/users", json=body, headers=login("admin"))
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "username"
    assert client.post(f"{API}/users", json=body, headers=login("planner")).status_code == 403
    assert (
        client.post(f"{API}/token", data={"username": "p2", "password": "long enough"}).status_code
        == 200
    )


def test_cli_user_add_creates_an_account(api_store: object, store_url: str) -> None:
    result = CliRunner().invoke(
        user_cli,
        ["add", "clerk", "--role", "planner", "--scope", "140802003201", "--db", store_url],
        env={"GRIDSVC_NEW_PASSWORD": "s3cret-pass"},
    )
    assert result.exit_code == 0, result.output
    with session_scope(api_store) as session:  # type: ignore[arg-type]
        user = users.authenticate(session, username="clerk", password="s3cret-pass")
    assert user is not None and user.scope == ("140802003201",)
    bad = CliRunner().invoke(
        user_cli,
        ["add", "w9", "--role", "worker", "--db", store_url],
        env={"GRIDSVC_NEW_PASSWORD": "s3cret-pass"},
    )
    assert bad.exit_code == 1
    assert "a worker needs a scope" in bad.output
