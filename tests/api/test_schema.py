"""schemathesis against the OpenAPI schema: no request, valid or not, gets a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gridsvc.api import create_app
from gridsvc.config import load_settings

SECRET = "test-secret-key-of-sufficient-length-0123456789"


@pytest.fixture
def api_schema(seeded_sqlite: Path, tmp_path: Path) -> Any:
    copy = tmp_path / "schema.sqlite"
    copy.write_bytes(seeded_sqlite.read_bytes())
    app = create_app(
        load_settings(
            database_url=f"sqlite:///{copy}", secret_key=SECRET, max_request_bytes=100_000
        )
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_request_gets_a_server_error(case: Any) -> None:
    token = jwt.encode(
        {"sub": "admin", "exp": datetime.now(UTC) + timedelta(hours=1)}, SECRET, "HS256"
    )
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
