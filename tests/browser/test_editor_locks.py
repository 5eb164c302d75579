"""Grid locks between two planners' editors: a lock set in one page shows in the other (read
from the store, not the browser), and the server refuses the other planner's edit of it."""

from __future__ import annotations

import re

import pytest
from harness import PASSWORD, LiveServer, PageLog
from playwright.sync_api import Page, expect
from test_editor import Api, movable_building, open_editor, paint, settle

from gridsvc.store import plans, session_scope, users
from gridsvc.store.locks import read_locks

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_lock_shows_in_another_planners_editor_and_the_server_refuses_his_edit(
    live_server: LiveServer, page: Page, other_page: Page, page_log: PageLog
) -> None:
    with session_scope(live_server.engine) as session:
        users.add_user(
            session,
            username="planner2",
            password=PASSWORD,
            role="planner",
            scope=(live_server.code[:6],),
        )
    open_editor(page, live_server)  # the planner starts a draft
    api = Api(live_server)
    plan = api.draft(live_server.code)
    building, source, target, _ = movable_building(api, plan)

    open_editor(other_page, live_server, new_draft=False, username="planner2")
    paint(other_page, building, target)  # planner2 moves a building out of ``source``, unsaved
    expect(other_page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")

    page.click(f"#grids tr[data-grid='{source}']")
    page.click("#lock")
    expect(page.locator("#status")).to_have_text(f"Grid {source} locked.")
    expect(page.locator(f"#grids tr[data-grid='{source}'] .code")).to_have_text(
        f"{source} 🔒 planner"
    )
    # the other editor reads the lock from the store (its poll), with its holder
    expect(other_page.locator(f"#grids tr[data-grid='{source}'] .code")).to_have_text(
        f"{source} 🔒 planner", timeout=20_000
    )
    expect(other_page.locator(f"path.g-{source}")).to_have_class(re.compile(r"\blocked\b"))

    page_log.expect_status(423)
    other_page.click("#save")  # the edit was made before the lock: the server refuses it
    status = other_page.locator("#status")
    expect(status).to_contain_text(f"Not saved: grid {source} is locked by planner since ")
    expect(status).to_contain_text("ask them to unlock it")
    expect(other_page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")
    settle(other_page)

    other_page.click(f"#grids tr[data-grid='{source}']")  # and he cannot unlock it
    expect(other_page.locator("#lock")).to_have_text("Unlock (held by planner)")
    other_page.click("#lock")
    expect(status).to_contain_text(f"grid {source} is locked by planner since ")
    expect(status).to_contain_text("only planner or an admin may unlock it")
    settle(other_page)

    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).revision == 1  # nothing was saved
        assert plans.edits(session, plan) == []
        held = read_locks(session, plan)
    assert [(lock.grid, lock.user) for lock in held] == [(source, "planner")]
    page_log.assert_clean()
