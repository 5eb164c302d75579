"""Browser fixtures: a live gridsvc on 127.0.0.1 over a seeded SpatiaLite store, and Chromium.

``live_server`` runs uvicorn in a thread on a free port over a fresh copy of ``seeded_sqlite``
(tests/conftest.py; tests/seeded.py imports and partitions the village and adds the accounts
admin, planner, outsider, worker with ``PASSWORD``); it has ``url``, ``engine`` (for checking
the store) and ``code``. ``page`` is a Playwright page in headless Debian Chromium (no browser
download): every request that leaves 127.0.0.1 is aborted and recorded in
``page_log.external``, console errors and uncaught page errors land in
``page_log.console_errors``, and a screenshot of the page is kept per test under
``test-artifacts/``. ``page_log.assert_clean()`` checks both logs; teardown checks them again.
``other_page`` is a second such page in its own context (a second planner), logging into the
same ``page_log``.
Tests import ``LiveServer``, ``PageLog`` and ``PASSWORD`` from ``harness`` (beside this file).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from harness import LiveServer, PageLog  # tests/browser/harness.py (pytest puts it on the path)
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright
from seeded import CODE, SECRET

from gridsvc.api import create_app
from gridsvc.config import load_settings
from gridsvc.store import make_engine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(seeded_sqlite: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """Serve gridsvc on 127.0.0.1 over a fresh copy of the seeded store; stop it afterwards."""
    path = tmp_path / "live.sqlite"
    shutil.copyfile(seeded_sqlite, path)
    url = f"sqlite:///{path}"
    app = create_app(load_settings(database_url=url, secret_key=SECRET))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-gridsvc", daemon=True)
    thread.start()
    engine = make_engine(url)
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the live gridsvc server did not start")
            thread.join(0.05)
        yield LiveServer(url=f"http://127.0.0.1:{port}", engine=engine, code=CODE)
    finally:
        server.should_exit = True
        thread.join()
        engine.dispose()
        app.state.engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1]).strip("_") + ".png"


@contextmanager
def _guarded_page(browser: Browser, page_log: PageLog, artifact: str) -> Iterator[Page]:
    """Yield a page of a fresh context: outside requests aborted and logged, console errors
    logged; keep a screenshot named ``artifact`` at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith(
            ("data:", "blob:", "about:")
        ):
            route.continue_()
        else:
            page_log.external.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    tab = context.new_page()
    tab.on(
        "console",
        lambda msg: page_log.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    tab.on("pageerror", lambda exc: page_log.console_errors.append(f"uncaught: {exc}"))
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            tab.screenshot(path=str(ARTIFACTS / artifact))
        finally:
            context.close()


@pytest.fixture
def page(browser: Browser, page_log: PageLog, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; outside requests are aborted and logged; a screenshot is kept at the end."""
    with _guarded_page(browser, page_log, _artifact_name(request.node.nodeid)) as tab:
        yield tab
    page_log.assert_clean()


@pytest.fixture
def other_page(
    browser: Browser, page_log: PageLog, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A second page in its own browser context (another planner), guarded and logged into
    the same ``page_log`` as ``page``."""
    name = _artifact_name(request.node.nodeid).removesuffix(".png") + "-other.png"
    with _guarded_page(browser, page_log, name) as tab:
        yield tab
    page_log.assert_clean()
