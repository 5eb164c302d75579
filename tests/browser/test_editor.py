"""The planner's editor in headless Chromium against a live gridsvc over a real store.

Each test signs in as the planner through the page, works the way a planner does (clicks,
brushes, drags) and checks both the screen and the store. The harness (conftest.py) fails any
test whose page sent a request beyond 127.0.0.1 or logged a console error.
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import pytest
import shapely
from harness import PASSWORD, LiveServer, PageLog
from playwright.sync_api import Page, expect
from shapely.geometry import shape
from shapely.ops import split

from gridsvc import drafting, edits, planning
from gridsvc.config import load_settings
from gridsvc.store import plans, repo, session_scope

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Api:
    """The live API as a second client (another planner, or the test looking for a valid move)."""

    def __init__(self, server: LiveServer, username: str = "planner") -> None:
        self.http = httpx.Client(base_url=f"{server.url}/api/v1")
        token = self.http.post("/token", data={"username": username, "password": PASSWORD})
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.is_success, response.text
        return response.json()

    def draft(self, code: str) -> int:
        drafts = [
            p for p in self.json("GET", f"/communities/{code}/plans") if p["status"] == "draft"
        ]
        return int(max(p["id"] for p in drafts))

    def preview(self, plan: int, edits: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post(f"/plans/{plan}/preview", json={"edits": edits})


def open_editor(
    page: Page, server: LiveServer, *, new_draft: bool = True, username: str = "planner"
) -> None:
    """Open the editor, sign in (as the planner) through the form, start a draft if asked."""
    page.goto(f"{server.url}/editor?community={server.code}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#signin button[type=submit]")
    if new_draft:
        page.click("#new-draft")
    expect(page.locator("#grids tbody tr").first).to_be_visible()
    settle(page)


def settle(page: Page) -> None:
    """Wait until the page has no request of its own under way."""
    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")


def count_on_screen(page: Page, grid: str) -> int:
    return int(page.locator(f"#grids tr[data-grid='{grid}'] .count").inner_text())


def css_id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def movable_building(
    api: Api,
    plan: int,
    *,
    avoid: tuple[str, ...] = (),
    after: list[dict[str, Any]] | None = None,
    source: str | None = None,
    to: str | None = None,
) -> tuple[str, str, str, int]:
    """Return (building, from grid, to grid, households moved) for a move the engine accepts
    after the edits ``after``: a building of one grid (``source`` if given) nearest to a
    neighbouring grid (``to`` if given), neither grid in ``avoid``."""
    done = after or []
    view = api.preview(plan, done).json()
    grids = {f["properties"]["code"]: f for f in view["features"]}
    by_grid: dict[str, list[str]] = {}
    for building, grid in view["buildings"].items():
        by_grid.setdefault(grid, []).append(building)
    tried = 0
    for code, grid in grids.items():
        if code in avoid or source not in (None, code):
            continue
        for neighbour in grid["properties"]["neighbours"]:
            if neighbour in avoid or to not in (None, neighbour):
                continue
            edge = shape(grids[neighbour]["geometry"])
            candidates = sorted(
                by_grid.get(code, []),
                key=lambda b: shapely.distance(building_shapes(api)[b], edge),
            )
            for building in candidates[:2]:
                edit = {"op": "reassign", "to": neighbour, "buildings": [building]}
                answer = api.preview(plan, [*done, edit])
                tried += 1
                if answer.is_success:
                    after = {f["properties"]["code"]: f for f in answer.json()["features"]}
                    moved = (
                        grid["properties"]["households"] - after[code]["properties"]["households"]
                    )
                    return building, code, neighbour, moved
                assert tried < 40, "no building move is accepted anywhere"
    raise AssertionError("no grid has a neighbour")


_SHAPES: dict[int, dict[str, Any]] = {}


def building_shapes(api: Api) -> dict[str, Any]:
    key = id(api)
    if key not in _SHAPES:
        found = api.json("GET", "/buildings", params={"limit": 1000})
        _SHAPES[key] = {f["properties"]["id"]: shape(f["geometry"]) for f in found["features"]}
    return _SHAPES[key]


def test_move_a_building_and_save(live_server: LiveServer, page: Page, page_log: PageLog) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    building, source, target, moved = movable_building(api, plan)
    assert moved > 0
    before = {g: count_on_screen(page, g) for g in (source, target)}

    page.click(f"#grids tr[data-grid='{target}']")
    page.click("#paint")
    page.click(f"path.b-{css_id(building)}")
    expect(page.locator(f"#grids tr[data-grid='{source}'] .count")).to_have_text(
        str(before[source] - moved)
    )
    expect(page.locator(f"#grids tr[data-grid='{target}'] .count")).to_have_text(
        str(before[target] + moved)
    )
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")
    with session_scope(live_server.engine) as session:  # nothing saved yet
        assert plans.get_plan(session, plan).revision == 1

    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        grids, members = plans.current_grids(session, plan)
        counts = dict(zip(grids["code"], grids["households"], strict=True))
        view = drafting.describe(session, plan, load_settings())
    assert view.buildings[building] == target
    assert counts[source] == before[source] - moved == len(members[source])
    assert counts[target] == before[target] + moved == len(members[target])
    assert count_on_screen(page, source) == counts[source]
    assert count_on_screen(page, target) == counts[target]
    page_log.assert_clean()


def paint(page: Page, building: str, target: str) -> None:
    """Select grid ``target``, turn painting on, click ``building``; wait for the dry run."""
    page.click(f"#grids tr[data-grid='{target}']")
    if "click to stop" not in page.inner_text("#paint"):
        page.click("#paint")
    page.click(f"path.b-{css_id(building)}")
    settle(page)


def test_stale_save_shows_who_changed_what(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    open_editor(page, live_server)
    planner = Api(live_server)
    plan = planner.draft(live_server.code)
    mine = movable_building(planner, plan)
    paint(page, mine[0], mine[2])
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")

    other = Api(live_server, "admin")  # saves first, through the API
    theirs = movable_building(other, plan, avoid=(mine[1], mine[2]))
    etag = other.http.get(f"/plans/{plan}").headers["ETag"]
    saved = other.http.post(
        f"/plans/{plan}/edits",
        json={"op": "reassign", "to": theirs[2], "buildings": [theirs[0]]},
        headers={"If-Match": etag},
    )
    assert saved.status_code == 200, saved.text

    page_log.expect_status(412)
    page.click("#save")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator("li")).to_have_count(1)
    story = conflict.locator("li").inner_text()
    assert "admin" in story and "plan.edit.reassign" in story
    assert theirs[1] in story and theirs[2] in story
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")
    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).revision == 2  # only the admin's edit

    page.click("#rebase")  # reload, keep my edit, save again
    expect(conflict).to_be_hidden()
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).revision == 3
        owner = drafting.describe(session, plan, load_settings()).buildings
    assert owner[mine[0]] == mine[2] and owner[theirs[0]] == theirs[2]
    page_log.assert_clean()


def test_undo_and_redo_before_saving(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    first = movable_building(api, plan)
    step = [{"op": "reassign", "to": first[2], "buildings": [first[0]]}]
    second = movable_building(api, plan, avoid=(first[1], first[2]), after=step)
    grids = (first[1], first[2], second[1], second[2])
    original = [count_on_screen(page, g) for g in grids]
    paint(page, first[0], first[2])
    after_one = [count_on_screen(page, g) for g in grids]
    paint(page, second[0], second[2])
    after_two = [count_on_screen(page, g) for g in grids]
    assert original != after_one != after_two
    expect(page.locator("#pending-label")).to_have_text("2 unsaved edit(s)")

    page.click("#undo")
    settle(page)
    assert [count_on_screen(page, g) for g in grids] == after_one
    page.keyboard.press("Control+z")
    settle(page)
    assert [count_on_screen(page, g) for g in grids] == original
    expect(page.locator("#undo")).to_be_disabled()
    page.click("#redo")
    settle(page)
    assert [count_on_screen(page, g) for g in grids] == after_one
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")
    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).revision == 1  # nothing saved while undoing

    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).revision == 2
        owner = drafting.describe(session, plan, load_settings()).buildings
    assert owner[first[0]] == first[2] and owner[second[0]] == second[1]
    page_log.assert_clean()


def shared_vertex(
    api: Api, plan: int, page: Page
) -> tuple[str, tuple[float, float], tuple[float, float], float]:
    """Return (grid, vertex, target, wedge area): a vertex of the grid's outer ring only those two
    grids share, off the community's outline, at least 24 px on screen from the grid's other
    vertices (Geoman's middle markers sit half-way between vertices; closer, the mouse takes
    one of those instead), and a point inside the neighbour such that dragging the vertex there
    takes a wedge of the neighbour and nothing else."""
    view = api.preview(plan, []).json()
    grids = {f["properties"]["code"]: shape(f["geometry"]) for f in view["features"]}
    outline = shapely.union_all(list(grids.values())).boundary
    for code, geom in grids.items():
        if geom.geom_type != "Polygon":
            continue
        ring = list(geom.exterior.coords)[:-1]
        pixels = [screen_xy(page, x, y) for x, y in ring]
        for i, (x, y) in enumerate(ring):
            vertex = shapely.Point(x, y)
            holders = [c for c, g in grids.items() if g.boundary.distance(vertex) < 1e-9]
            near = min(
                math.dist(pixels[i], p) for j, p in enumerate(pixels) if j != i and p != pixels[i]
            )
            if len(holders) != 2 or outline.distance(vertex) < 1e-6 or near < 24:
                continue
            other = holders[1] if holders[0] == code else holders[0]
            inside = grids[other].representative_point()
            for share in (0.3, 0.2, 0.1):
                target = (x + share * (inside.x - x), y + share * (inside.y - y))
                moved = shapely.Polygon([*ring[:i], target, *ring[i + 1 :]])
                if not moved.is_valid:  # the drag would cross the grid's own edge
                    continue
                wedge = moved.difference(geom)
                if (
                    wedge.area > 0
                    and wedge.difference(grids[other]).area < 1e-12
                    and math.dist(pixels[i], screen_xy(page, *target)) > 15
                ):
                    return code, (x, y), target, wedge.area
    raise AssertionError("no two grids share a vertex that can be dragged")


def screen_xy(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Where a lon/lat sits on the page (Leaflet's own projection of the editor's map)."""
    point = page.evaluate(
        "([lat, lon]) => gridEditor.map.latLngToContainerPoint([lat, lon])", [lat, lon]
    )
    box = page.locator("#map").bounding_box()
    assert box is not None
    return box["x"] + point["x"], box["y"] + point["y"]


def test_redraw_a_grid_keeps_coverage_seamless(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    grid, vertex, target, wedge = shared_vertex(api, plan, page)
    with session_scope(live_server.engine) as session:
        before = {v["version"] for v in plans.versions(session, plan, grid)}
        start_grids = plans.current_grids(session, plan)[0]
        old = start_grids.set_index("code").geometry[grid]
        outline = plans_community_outline(session, live_server.code)
    served = api.preview(plan, []).json()["features"]
    drawn = next(shape(f["geometry"]) for f in served if f["properties"]["code"] == grid)
    seam = gap_and_overlap(start_grids, outline)  # what the partition's rounding leaves

    page.click(f"#grids tr[data-grid='{grid}']")
    page.click("#edit-shape")
    expect(page.locator(".marker-icon").first).to_be_visible()
    start, end = screen_xy(page, *vertex), screen_xy(page, *target)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")
    settle(page)
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)

    with session_scope(live_server.engine) as session:
        grids, _ = plans.current_grids(session, plan)
        after = {v["version"] for v in plans.versions(session, plan, grid)}
        validation = drafting.describe(session, plan, load_settings()).validation
    with session_scope(live_server.engine) as session:
        (sent,) = [e for e in plans.edits(session, plan) if e["op"] == "redraw"]
    # the page sent the grid as served with one vertex moved, every other vertex exact
    sent_ring = list(shape(sent["payload"]["geometry"]).exterior.coords)[:-1]
    drawn_ring = list(drawn.exterior.coords)[:-1]
    assert len(sent_ring) == len(drawn_ring)
    moved = [a for a, b in zip(sent_ring, drawn_ring, strict=True) if a != b]
    assert len(moved) == 1 and moved[0] != vertex
    new = grids.set_index("code").geometry[grid]
    assert after > before and not new.equals(old)
    # it took the wedge (as closely as whole pixels on screen can place the vertex)
    assert new.area - old.area == pytest.approx(wedge, rel=0.25)
    assert validation["errors"] == []  # gridsvc's own check: covered, no overlap, connected
    # seamless: no gap or overlap beyond what rounding every edited vertex to GeoJSON's
    # 7-decimal grid (edits.GRID) can leave along the grids' edges
    rounding = sum(g.length for g in grids[grids["level"] == 1].geometry) * edits.GRID
    gap, overlap = gap_and_overlap(grids, outline)
    assert gap <= seam[0] + rounding and overlap <= rounding
    page_log.assert_clean()


def gap_and_overlap(grids: Any, outline: Any) -> tuple[float, float]:
    """Area (deg²) of the community the base grids miss or overrun, and of their overlaps."""
    base = grids[grids["level"] == 1].geometry.to_numpy()
    union = shapely.union_all(base)
    return (
        float(shapely.symmetric_difference(union, outline).area),
        float(sum(g.area for g in base) - union.area),
    )


def plans_community_outline(session: Any, code: str) -> Any:
    return repo.read(session, "communities", community=code).geometry.iloc[0]


def test_compare_and_publish(live_server: LiveServer, page: Page, page_log: PageLog) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    building, source, target, _ = movable_building(api, plan)
    with session_scope(live_server.engine) as session:
        households = repo.read(session, "households", community=live_server.code)
        one = str(households.loc[households["building_id"] == building, "id"].iloc[0])
        assert planning.grid_of_household(session, one)["grid"] == source
        published_grids = len(repo.read(session, "grids", community=live_server.code, level=1))

    page.click("#compare")
    expect(page.locator("#published-map")).to_be_visible()
    expect(page.locator("#published-map path.published-grid")).to_have_count(published_grids)
    expect(page.locator("#publish")).to_be_enabled()
    paint(page, building, target)
    expect(page.locator("#publish")).to_be_disabled()  # save first
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    page.click("#publish")
    expect(page.locator("#plan-label")).to_contain_text("published")
    expect(page.locator("#new-draft")).to_be_visible()
    settle(page)
    with session_scope(live_server.engine) as session:
        assert plans.get_plan(session, plan).status == "published"
        assert planning.grid_of_household(session, one)["grid"] == target
        now = repo.read(session, "grids", community=live_server.code, level=1)
    expect(page.locator("#published-map path.published-grid")).to_have_count(len(now))
    page_log.assert_clean()


def test_fix_an_under_filled_grid_leaves_locked_grids_alone(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    view = api.preview(plan, []).json()
    smallest = min(view["features"], key=lambda f: f["properties"]["households"])["properties"]
    weak, left, done = smallest["code"], smallest["households"], []
    while left >= view["bounds"]["min"]:  # move buildings out until the grid is too small
        building, _, target, moved = movable_building(api, plan, source=weak, after=done)
        paint(page, building, target)
        done.append({"op": "reassign", "to": target, "buildings": [building]})
        left -= moved
        expect(page.locator(f"#grids tr[data-grid='{weak}'] .count")).to_have_text(str(left))
    expect(page.locator(f"#grids tr[data-grid='{weak}']")).to_have_class(re.compile(r"\bunder\b"))
    expect(page.locator(f"path.g-{weak}")).to_have_class(re.compile(r"\bunder\b"))
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")

    targets = {edit["to"] for edit in done}
    locked = next(n for n in smallest["neighbours"] if n not in targets)
    page.click(f"#grids tr[data-grid='{locked}']")
    page.click("#lock")
    expect(page.locator(f"#grids tr[data-grid='{locked}'] .code")).to_contain_text("🔒")
    with session_scope(live_server.engine) as session:
        kept = {v["version"] for v in plans.versions(session, plan, locked)}
    page.click(f"#grids tr[data-grid='{weak}']")
    page.click("#fix")
    expect(page.locator("#status")).to_have_text(f"Grid {weak} rebalanced with its neighbours.")
    settle(page)

    with session_scope(live_server.engine) as session:
        log = plans.edits(session, plan)
        assert log[-1]["op"] == "rebalance" and log[-1]["payload"]["locked"] == [locked]
        assert {v["version"] for v in plans.versions(session, plan, locked)} == kept
        result = drafting.describe(session, plan, load_settings())
    assert result.validation["errors"] == []
    figures = result.grids.set_index("code")
    assert figures.loc[weak, "status"] == "within"
    assert figures.loc[weak, "islands"] == 0
    for code, households in figures["households"].items():
        assert count_on_screen(page, str(code)) == households
    expect(page.locator(f"#grids tr[data-grid='{weak}']")).to_have_class(re.compile(r"\bwithin\b"))
    page_log.assert_clean()


def crossing_line(geom: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two points just outside ``geom`` whose segment cuts it into exactly two pieces."""
    x0, y0, x1, y1 = geom.bounds
    middle = geom.representative_point()
    pad = 0.02 * max(x1 - x0, y1 - y0)
    for a, b in (
        ((x0 - pad, middle.y), (x1 + pad, middle.y)),
        ((middle.x, y0 - pad), (middle.x, y1 + pad)),
    ):
        if len(split(geom, shapely.LineString([a, b])).geoms) == 2:
            return a, b
    raise AssertionError("no straight line through the middle cuts the grid in two")


def test_split_then_merge(live_server: LiveServer, page: Page, page_log: PageLog) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    view = api.preview(plan, []).json()
    biggest = max(view["features"], key=lambda f: f["properties"]["households"])
    code, households = biggest["properties"]["code"], biggest["properties"]["households"]
    start, end = crossing_line(shape(biggest["geometry"]))

    page.click(f"#grids tr[data-grid='{code}']")
    page.click("#split")
    page.mouse.click(*screen_xy(page, *start))
    page.mouse.click(*screen_xy(page, *end))
    page.mouse.click(*screen_xy(page, *end))  # clicking the last vertex finishes the line
    expect(page.locator("#grids tbody tr")).to_have_count(len(view["features"]) + 1)
    settle(page)
    rows = page.locator("#grids tbody tr").evaluate_all("rs => rs.map(r => r.dataset.grid)")
    (new,) = set(rows) - {f["properties"]["code"] for f in view["features"]}
    assert count_on_screen(page, code) + count_on_screen(page, new) == households
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        grids, members = plans.current_grids(session, plan)
        assert set(grids.loc[grids["level"] == 1, "code"]) == set(rows)
        assert len(members[code]) + len(members[new]) == households
        assert drafting.describe(session, plan, load_settings()).validation["errors"] == []

    page.click(f"#grids tr[data-grid='{new}']")
    page.select_option("#merge-with", code)
    page.click("#merge")
    expect(page.locator("#grids tbody tr")).to_have_count(len(view["features"]))
    expect(page.locator(f"#grids tr[data-grid='{code}'] .count")).to_have_text(str(households))
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        grids, members = plans.current_grids(session, plan)
        assert new not in set(grids["code"]) and len(members[code]) == households
        assert [e["op"] for e in plans.edits(session, plan)] == ["split", "merge"]
    page_log.assert_clean()


def centre(page: Page, building: str) -> tuple[float, float]:
    box = page.locator(f"path.b-{css_id(building)}").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_brush_buildings_then_revert_from_history(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    open_editor(page, live_server)
    api = Api(live_server)
    plan = api.draft(live_server.code)
    first, source, target, _ = movable_building(api, plan)
    step = [{"op": "reassign", "to": target, "buildings": [first]}]
    second = movable_building(api, plan, source=source, after=step, to=target)[0]
    original = {g: count_on_screen(page, g) for g in (source, target)}

    page.click(f"#grids tr[data-grid='{target}']")
    page.click("#paint")
    page.check("#brush")
    page.mouse.move(*centre(page, first))
    page.mouse.down()
    page.mouse.move(*centre(page, second), steps=10)
    page.mouse.up()
    expect(page.locator("#pending-label")).to_have_text("1 unsaved edit(s)")  # one stroke
    settle(page)
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        (edit,) = plans.edits(session, plan)
        owner = drafting.describe(session, plan, load_settings()).buildings
        left = len(plans.current_grids(session, plan)[1][source])
    brushed = set(edit["payload"]["buildings"])  # the stroke's buildings, in one edit
    assert edit["op"] == "reassign" and edit["payload"]["to"] == target
    assert {first, second} <= brushed and all(owner[b] == target for b in brushed)
    assert count_on_screen(page, source) == left < original[source]

    page.uncheck("#brush")
    page.click(f"#grids tr[data-grid='{source}']")
    page.click("#history")
    versions = page.locator("#history-list li")
    expect(versions).to_have_count(2)
    expect(versions.nth(1)).to_contain_text("(current)")
    versions.nth(0).get_by_role("button", name="Revert to this").click()
    expect(page.locator(f"#grids tr[data-grid='{source}'] .count")).to_have_text(
        str(original[source])
    )
    page.click("#save")
    expect(page.locator("#pending-label")).to_have_text("saved")
    settle(page)
    with session_scope(live_server.engine) as session:
        history = plans.versions(session, plan, source)
        owner = drafting.describe(session, plan, load_settings()).buildings
    back, first_version = history[-1]["geometry"], history[0]["geometry"]
    assert shapely.symmetric_difference(back, first_version).area <= back.length * edits.GRID
    assert sorted(history[-1]["households"]) == sorted(history[0]["households"])
    assert all(owner[b] == source for b in brushed)
    assert count_on_screen(page, target) == original[target]
    page_log.assert_clean()


def test_a_worker_is_told_they_may_not_edit(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    page.goto(f"{live_server.url}/editor?community={live_server.code}")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", PASSWORD)
    page_log.expect_status(403)
    page.click("#signin button[type=submit]")
    expect(page.locator("#status")).to_contain_text("only planners and admins")
    expect(page.locator("#grids tbody tr")).to_have_count(0)
    page_log.assert_clean()


def give_an_island(server: LiveServer) -> tuple[str, str]:
    """Hand a corner of one published grid to a neighbour that does not touch it, so that the
    neighbour holds an island; return (grid with the island, grid that lost the corner)."""
    with session_scope(server.engine) as session:
        grids = repo.read(session, "grids", community=server.code, level=1)
        shapes = dict(zip(grids["code"], grids.geometry, strict=True))
        for a, b in ((a, b) for a in shapes for b in shapes if a != b):
            if shapes[a].intersection(shapes[b]).length == 0:
                continue
            far = max(
                (shapely.Point(p) for p in shapes[b].exterior.coords),
                key=lambda p: p.distance(shapes[a]),
            )
            for share in (0.3, 0.2, 0.1):
                corner = shapes[b].intersection(far.buffer(share * far.distance(shapes[a])))
                rest = shapes[b].difference(corner)
                if corner.geom_type == rest.geom_type == "Polygon" and corner.area > 0:
                    grids.loc[grids["code"] == a, "geometry"] = shapes[a].union(corner)
                    grids.loc[grids["code"] == b, "geometry"] = rest
                    repo.upsert(session, "grids", grids)
                    return a, b
    raise AssertionError("no grid corner can be handed over")


def test_islands_are_highlighted_and_fixed(
    live_server: LiveServer, page: Page, page_log: PageLog
) -> None:
    island, _ = give_an_island(live_server)
    open_editor(page, live_server)
    row = page.locator(f"#grids tr[data-grid='{island}']")
    expect(row).to_have_class(re.compile(r"\bisland\b"))
    expect(page.locator(f"path.g-{island}")).to_have_class(re.compile(r"\bisland\b"))
    expect(page.locator("#validation li.error")).to_contain_text([f"grid {island} is not one"])

    row.click()
    expect(page.locator("#selected-figures")).to_contain_text("1 island(s)")
    page.click("#fix")
    expect(page.locator("#status")).to_have_text(f"Grid {island} rebalanced with its neighbours.")
    settle(page)
    expect(page.locator("#grids tr.island")).to_have_count(0)
    expect(page.locator("#validation li.error")).to_have_count(0)
    api = Api(live_server)
    with session_scope(live_server.engine) as session:
        result = drafting.describe(session, api.draft(live_server.code), load_settings())
    assert result.validation["errors"] == [] and result.grids["islands"].sum() == 0
    page_log.assert_clean()
