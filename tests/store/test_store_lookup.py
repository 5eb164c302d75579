"""Point lookups (``store.lookup.covering``, behind ``/locate``) on SpatiaLite and PostGIS.

Its statements are built once per kind and database and only bound per call, so the property
runs many points through one session: a statement that kept an earlier point's bbox or point
would answer later points with the wrong rows.

    30.02 +---------+---------+          A = 420111001001 (Polygon), grids A001 (south),
          |  A002   |    B    |              A002 (north) and micro-grid A00101 (SW quarter)
    30.01 +----+----+         |          B = 420111001002 (MultiPolygon: this box + one far
          |A00101   |         |              east), grid B001 = the west box
    30.00 +----+----+---------+
        114.00    114.01    114.02
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, box
from sqlalchemy import Engine

from gridsvc import frames
from gridsvc.store import session_scope, upsert
from gridsvc.store.lookup import covering

A, B = "420111001001", "420111001002"
WGS84 = "EPSG:4326"
COMMUNITIES = {
    A: box(114.00, 30.00, 114.01, 30.02),
    B: MultiPolygon([box(114.01, 30.00, 114.02, 30.02), box(114.05, 30.00, 114.06, 30.01)]),
}
GRIDS = {
    A + "001": (A, 1, box(114.00, 30.00, 114.01, 30.01)),
    A + "002": (A, 1, box(114.00, 30.01, 114.01, 30.02)),
    A + "00101": (A, 2, box(114.00, 30.00, 114.005, 30.01)),
    B + "001": (B, 1, box(114.01, 30.00, 114.02, 30.02)),
}


def _fill(store: Engine) -> None:
    communities = gpd.GeoDataFrame(
        {"code": list(COMMUNITIES)}, geometry=list(COMMUNITIES.values()), crs=WGS84
    )
    grids = gpd.GeoDataFrame(
        {
            "code": list(GRIDS),
            "community_code": [c for c, _, _ in GRIDS.values()],
            "level": [level for _, level, _ in GRIDS.values()],
            "parent_code": [None, None, A + "001", None],
        },
        geometry=[g for _, _, g in GRIDS.values()],
        crs=WGS84,
    )
    with session_scope(store) as session:
        upsert(session, "communities", frames.conform("communities", communities))
        upsert(session, "grids", frames.conform("grids", grids))


# steps of 0.0025°: many points fall exactly on edges, corners and the A|B border
steps = st.tuples(st.integers(-2, 26), st.integers(-2, 10))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(steps, min_size=1, max_size=30))
def test_covering_answers_each_point_as_shapely_does(
    store: Engine, points: list[tuple[int, int]]
) -> None:
    _fill(store)
    with session_scope(store) as session:
        for i, j in points:
            x, y = 114.0 + i * 0.0025, 30.0 + j * 0.0025
            where = shapely.Point(x, y)
            want = sorted(c for c, g in COMMUNITIES.items() if g.covers(where))
            got = covering(session, "communities", x, y)
            assert [r["code"] for r in got] == want, (x, y)
            for community in (A, B):
                want_grids = sorted(
                    code for code, (c, _, g) in GRIDS.items() if c == community and g.covers(where)
                )
                rows = covering(session, "grids", x, y, community=community)
                assert [r["code"] for r in rows] == want_grids, (x, y, community)
                assert all(r["community_code"] == community for r in rows)


def test_a_point_on_the_shared_border_is_in_both_communities(store: Engine) -> None:
    _fill(store)
    with session_scope(store) as session:
        rows = covering(session, "communities", 114.01, 30.015)
        assert [r["code"] for r in rows] == [A, B]
        assert covering(session, "communities", 114.03, 30.005) == []  # between B's parts
        grids = covering(session, "grids", 114.0025, 30.005, community=A)
        assert [(r["code"], r["level"]) for r in grids] == [(A + "001", 1), (A + "00101", 2)]
