"""An app served by a real uvicorn on a free loopback port, with a signed-in httpx client:
for what only a real server shows (when the answer leaves, a stream cut mid-body)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI


@contextmanager
def served(app: FastAPI, username: str, password: str) -> Iterator[httpx.Client]:
    """Serve ``app`` on 127.0.0.1; yield a client signed in as ``username``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):  # bounded wait for the server to listen
            if server.started:
                break
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            login = client.post("/api/v1/token", data={"username": username, "password": password})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)
