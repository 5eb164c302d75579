"""Deterministic synthetic rosters for tests and benchmarks (no network, seed in, frame out)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridsvc import frames
from gridsvc.geo import metric_crs

__all__ = ["generate_roster"]

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志文斌")

# Staff per grid of each community (scaled by ``density`` for social forces) and per community.
_PER_GRID = (  # (category, roles, per grid, party share, hours, lives in a household)
    ("full_time", "full_time_grid_worker;community_worker", 0.6, 0.5, 160.0, False),
    ("building_head", "building_head", 1.2, 0.4, 20.0, True),
    ("central_household", "party_central_household", 0.4, 1.0, 20.0, True),
    ("volunteer", "volunteer", 0.5, 0.2, 10.0, True),
    ("in_service", "in_service_party_member", 0.2, 1.0, 8.0, False),
)
_PER_COMMUNITY = (
    ("secretary", "party_secretary", 1, 1.0, 176.0),
    ("director", "community_director;community_worker", 1, 1.0, 176.0),
    ("all_round", "all_round_social_worker;community_worker", 2, 0.5, 176.0),
)


def generate_roster(
    grids: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame | None = None,
    *,
    seed: int,
    density: float = 1.0,
    police_per_grid: float = 1 / 6,
) -> gpd.GeoDataFrame:
    """Return a roster for the communities of ``grids``: police per beat, leaders, grid workers.

    Per community: a party secretary, a director and two all-round social workers; police and
    auxiliary police per police beat (``police_beat`` column of the grids, else one beat per
    community); full-time grid workers (0.6 per grid); building heads, party central households,
    volunteers and in-service party members (2.3 per grid × ``density``) living in the community
    (at a household of it, with ``household_id``, when ``households`` are given).
    """
    rng = np.random.default_rng(seed)
    crs = metric_crs(grids)
    metric = grids.to_crs(crs)
    rep = shapely.get_coordinates(metric.representative_point().values)
    comm = grids["community_code"].astype(str).to_numpy()
    beats = (
        grids["police_beat"].astype(object).fillna("").astype(str).to_numpy()
        if "police_beat" in grids
        else np.full(len(grids), "", dtype=object)
    )
    hh_xy, hh_comm, hh_ids = _households(households, crs)
    rows: list[dict[str, object]] = []
    for c in sorted(set(comm)):
        gi = np.flatnonzero(comm == c)
        home_of = _homes(rng, rep[gi], hh_xy, hh_ids, hh_comm == c if hh_comm is not None else None)
        for category, roles, count, party, hours in _PER_COMMUNITY:
            rows += _people(rng, c, category, roles, count, party, hours, home_of, False)
        for beat in sorted(set(beats[gi])):
            n = max(1, math.ceil((beats[gi] == beat).sum() * police_per_grid))
            label = beat or f"{c}-JW01"
            for k in range(n):
                role = "police" if k % 2 == 0 else "auxiliary_police"
                rows += _people(rng, c, "police", role, 1, 0.7, 176.0, home_of, False, beat=label)
        for category, roles, per, party, hours, lives in _PER_GRID:
            scale = 1.0 if category == "full_time" else density
            n = round(len(gi) * per * scale)
            rows += _people(rng, c, category, roles, n, party, hours, home_of, lives)
    frame = pd.DataFrame(rows)
    frame["id"] = [f"W{i + 1:06d}" for i in range(len(frame))]
    xy = np.array(frame.pop("xy").tolist(), dtype=float).reshape(-1, 2)
    geometry = gpd.GeoSeries(shapely.points(xy), crs=crs).to_crs(frames.WGS84)
    out = gpd.GeoDataFrame(frame, geometry=geometry.values, crs=frames.WGS84)
    return out


def _households(
    households: gpd.GeoDataFrame | None, crs: object
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    if households is None or households.empty:
        return None, None, None
    xy = shapely.get_coordinates(households.to_crs(crs).geometry.values)
    return (
        xy,
        households["community_code"].astype(str).to_numpy(),
        households["id"].astype(str).to_numpy(),
    )


def _homes(
    rng: np.random.Generator,
    rep: np.ndarray,
    hh_xy: np.ndarray | None,
    hh_ids: np.ndarray | None,
    mask: np.ndarray | None,
):  # type: ignore[no-untyped-def]
    """Return a function drawing ``n`` homes (xy, household id or '') in the community."""
    idx = np.flatnonzero(mask) if mask is not None else np.zeros(0, int)

    def draw(n: int, in_household: bool) -> list[tuple[np.ndarray, str]]:
        if in_household and len(idx) and hh_xy is not None and hh_ids is not None:
            pick = rng.choice(idx, size=n)
            return [(hh_xy[p], str(hh_ids[p])) for p in pick]
        pick = rng.integers(0, len(rep), size=n)
        jitter = rng.normal(0.0, 40.0, size=(n, 2))
        return [(rep[p] + j, "") for p, j in zip(pick, jitter, strict=True)]

    return draw


def _people(
    rng: np.random.Generator,
    comm: str,
    category: str,
    roles: str,
    n: int,
    party: float,
    hours: float,
    home_of,  # type: ignore[no-untyped-def]
    lives: bool,
    beat: str = "",
) -> list[dict[str, object]]:
    homes = home_of(n, lives)
    out = []
    for xy, hid in homes:
        name = _SURNAMES[int(rng.integers(len(_SURNAMES)))] + "".join(
            _GIVEN[int(k)] for k in rng.integers(len(_GIVEN), size=int(rng.integers(1, 3)))
        )
        out.append(
            {
                "id": "",
                "name": name,
                "phone": "1" + "".join(str(d) for d in rng.integers(0, 10, size=10)),
                "roles": roles,
                "party_member": bool(rng.random() < party),
                "police_beat": beat,
                "hours": hours,
                "community_code": comm,
                "household_id": hid,
                "category": category,
                "xy": xy,
            }
        )
    return out
