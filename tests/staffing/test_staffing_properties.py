"""Invariants on random small cases: valid plans, no slot left short while someone has room,
and a cost within 5% of the CP-SAT optimum."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from staffing_fixtures import COMM, assert_maximal, roster, row_grids, worker

from gridsvc.staffing import StaffingSettings, assign, plan_context, plan_problems
from gridsvc.staffing.assign import community_blocks
from gridsvc.staffing.context import Ledger
from gridsvc.staffing.exact import solve_exact
from gridsvc.staffing.model import model_from_dict
from gridsvc.staffing.solver import block_candidates, plan_cost

ROLES = ["police", "full_time_grid_worker", "community_worker", "building_head", "volunteer"]
BEATS = [f"{COMM}-JW01", f"{COMM}-JW02"]


@st.composite
def cases(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 4))
    grids = row_grids(n, beats=[draw(st.sampled_from(BEATS)) for _ in range(n)])
    grids["households"] = draw(st.lists(st.integers(20, 60), min_size=n, max_size=n))
    rows = []
    for i in range(draw(st.integers(1, 8))):
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
        rows.append(
            worker(
                f"W{i}",
                ";".join(roles),
                draw(st.floats(-50, 100 * n + 50)),
                draw(st.floats(0, 100)),
                party=draw(st.booleans()),
                beat=draw(st.sampled_from(BEATS)),
            )
        )
    model = model_from_dict(
        {
            "name": "random",
            "slots": [
                {
                    "role": "police",
                    "eligible": ["police"],
                    "same_beat": True,
                    "max_grids": draw(st.integers(1, 4)),
                    "max_households": draw(st.sampled_from([None, 80, 120])),
                },
                {
                    "role": "leader",
                    "eligible": ["full_time_grid_worker", "community_worker"],
                    "party_member": draw(st.booleans()),
                    "max_grids": draw(st.integers(1, 3)),
                    "spread": draw(st.booleans()),
                },
                {
                    "role": "member",
                    "eligible": ["building_head", "volunteer", "community_worker"],
                    "min": draw(st.integers(0, 1)),
                    "max": draw(st.integers(1, 2)),
                    "home_within_m": draw(st.sampled_from([None, 60.0])),
                    "max_grids": draw(st.integers(1, 2)),
                },
            ],
            "one_role_per_worker": draw(st.booleans()),
        }
    )
    return grids, roster(*rows), model


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plans_are_valid_maximal_and_near_optimal(case) -> None:  # type: ignore[no-untyped-def]
    grids, workers, model = case
    result = assign(grids, workers, model=model)
    ctx = plan_context(grids, workers, model=model)
    assert plan_problems(result.assignments, ctx) == []
    assert_maximal(ctx, result.assignments)
    knobs = StaffingSettings()
    exact = Ledger(ctx)
    for g, w in community_blocks(ctx):
        for gi, wi, si in solve_exact(ctx, block_candidates(ctx, g, w, set()), knobs).triples:
            exact.add(wi, gi, si)
    best = plan_cost(ctx, exact, set(), knobs)["total"]
    assert result.report["cost"]["total"] <= 1.05 * best + 1e-6
    assert result.report["cost"]["total"] >= best - 1e-6  # the optimum is a true lower bound
