"""assign on 禹都花园 and on tiny rows of grids: filled, valid, explained, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from staffing_fixtures import COMM, assert_maximal, roster, row_grids, worker

from gridsvc.errors import InputError
from gridsvc.staffing import (
    assign,
    check_plan,
    load_model,
    plan_context,
    plan_problems,
    write_assignment,
)
from gridsvc.staffing.model import model_from_dict


@pytest.mark.parametrize("model", ["1+1+N", "jiangxi", "1+2+X"])
def test_every_slot_with_an_eligible_candidate_is_filled_on_yudu(yudu, model: str) -> None:
    result = assign(yudu.grids, yudu.workers, model=model, households=yudu.households)
    summary = result.report["summary"]
    assert summary["grids"] == len(yudu.grids)
    assert summary["required_filled"] == summary["required_positions"]
    assert all(r["satisfied"] for r in result.rosters.values())
    ctx = plan_context(yudu.grids, yudu.workers, model=model, households=yudu.households)
    assert plan_problems(result.assignments, ctx) == []
    assert_maximal(ctx, result.assignments)


def test_assign_is_deterministic(yudu) -> None:
    one = assign(yudu.grids, yudu.workers, model="1+1+N", households=yudu.households)
    two = assign(yudu.grids, yudu.workers, model="1+1+N", households=yudu.households)
    pd.testing.assert_frame_equal(one.assignments, two.assignments)
    assert one.rosters == two.rosters


def test_report_counts_the_quota_and_the_visit_load(yudu) -> None:
    result = assign(yudu.grids, yudu.workers, model="1+2+X", households=yudu.households)
    (community,) = result.report["communities"].values()
    assert community["residents"] == 4860
    assert community["required_workers"] == 9  # ceil(4860 / 10000 × 18)
    cadence = yudu.households["visit_cadence"].value_counts()
    visits = 30 * cadence.get("daily", 0) + 4.3 * cadence.get("weekly", 0)
    visits += cadence.get("monthly", 0)
    assert community["visits"] == pytest.approx(visits, abs=0.5)
    seats = [(s["seat"], bool(s["worker_id"])) for s in community["centre"]]
    assert seats == [("书记(主任)", True), ("全科社工", True), ("全科社工", True)]
    centre = {s["worker_id"] for s in community["centre"]}
    assert not centre & set(result.assignments["worker_id"])


def test_write_assignment_writes_three_files(yudu, tmp_path: Path) -> None:
    result = assign(yudu.grids, yudu.workers, model="1+1+N", households=yudu.households)
    paths = write_assignment(result, tmp_path / "out")
    table = pd.read_csv(paths["assignments"], dtype=str)
    assert list(table.columns) == ["grid_code", "worker_id", "role", "kept"]
    assert len(table) == len(result.assignments)
    rosters = json.loads(paths["rosters"].read_text(encoding="utf-8"))
    assert set(rosters) == set(yudu.grids["code"])
    report = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert report["model"] == "1+1+N" and report["summary"]["grids"] == len(yudu.grids)


def test_unfilled_slot_says_no_police_in_the_beat() -> None:
    beats = [f"{COMM}-JW01", f"{COMM}-JW02"]
    grids = row_grids(2, beats=beats)
    workers = roster(
        worker("P1", "police", 50),
        worker("L1", "full_time_grid_worker", 60),
        worker("B1", "building_head", 50),
        worker("B2", "building_head", 150),
    )
    result = assign(grids, workers, model="1+1+N")
    (missing,) = result.rosters[f"{COMM}002"]["unfilled"]
    assert missing["role"] == "police_grid_leader"
    assert missing["reason"] == (
        f"no worker who belongs to police beat {COMM}-JW02 among those who has role "
        f"auxiliary_police/police and lives in community {COMM} and is not kept at the "
        "community centre"
    )
    (gap,) = [p for p in result.report["proposal"] if p["role"] == "police_grid_leader"]
    assert (gap["police_beat"], gap["extra_workers"]) == (f"{COMM}-JW02", 1)


def test_unfilled_slot_says_who_is_at_capacity_and_proposes_more() -> None:
    grids = row_grids(3)
    workers = roster(
        worker("P1", "police", 50),
        worker("L1", "full_time_grid_worker", 150),
        *(worker(f"B{i}", "building_head", 50 + 100 * i) for i in range(3)),
    )
    result = assign(grids, workers, model="1+1+N")
    short = {c: r["unfilled"] for c, r in result.rosters.items() if r["unfilled"]}
    assert len(short) == 1
    (missing,) = next(iter(short.values()))
    assert missing["reason"] == "no eligible 全科网格长 has capacity (1 eligible: 1 at max 2 grids)"
    (gap,) = [p for p in result.report["proposal"] if p["role"] == "all_round_grid_leader"]
    assert gap["short_positions"] == 1 and gap["extra_workers"] == 1


def test_overload_is_flagged_at_1000_residents() -> None:
    grids = row_grids(3, households=130)  # 390 residents each
    model = model_from_dict(
        {
            "name": "wide",
            "slots": [{"role": "worker", "eligible": ["full_time_grid_worker"], "max_grids": 3}],
        }
    )
    result = assign(grids, roster(worker("L1", "full_time_grid_worker", 150)), model=model)
    (load,) = result.report["workers"]
    assert load["grids"] == 3 and load["residents"] == 1170
    assert load["overload"] == ["residents 1170 > 1000"]
    assert result.report["summary"]["workers_overloaded"] == 1


def test_hand_made_plan_beyond_capacity_is_refused() -> None:
    grids = row_grids(3)
    workers = roster(worker("P1", "police", 50), worker("L1", "full_time_grid_worker", 150))
    ctx = plan_context(grids, workers, model="1+1+N")
    plan = pd.DataFrame(
        {
            "grid_code": [f"{COMM}00{i}" for i in (1, 2, 3)] + [f"{COMM}001"],
            "worker_id": ["L1", "L1", "L1", "P1"],
            "role": ["all_round_grid_leader"] * 3 + ["all_round_grid_leader"],
        }
    )
    with pytest.raises(InputError) as caught:
        check_plan(plan, ctx, source="plan.csv")
    messages = [p.message for p in caught.value.problems]
    assert messages == [
        f"worker P1 (员工P1) cannot be 全科网格长 of grid {COMM}001: not eligible: needs a "
        "worker who has role all_round_social_worker/community_worker/full_time_grid_worker/"
        "social_worker",
        f"worker L1 (员工L1) is 全科网格长 of 3 grids ({COMM}001, {COMM}002, {COMM}003); "
        "model 1+1+N allows at most 2",
        f"grid {COMM}001 has 2 全科网格长 (L1, P1); the model allows 1",
    ]


def test_hand_made_plan_with_unknown_names_is_refused() -> None:
    ctx = plan_context(row_grids(1), roster(worker("P1", "police", 50)), model="1+1+N")
    plan = pd.DataFrame({"grid_code": ["X"], "worker_id": ["W9"], "role": ["boss"]})
    with pytest.raises(InputError, match=r"plan, feature 0, field 'grid_code': unknown grid X"):
        check_plan(plan, ctx)
    problems = [str(p) for p in plan_problems(plan, ctx)]
    assert "plan, feature 0, field 'worker_id': unknown worker W9" in problems
    assert any("role 'boss' is not a slot of model 1+1+N" in p for p in problems)


def test_unknown_model_name_in_assign() -> None:
    with pytest.raises(InputError, match=r"unknown staffing model 'nope'"):
        assign(row_grids(1), roster(worker("P1", "police", 50)), model="nope")


def test_duplicate_worker_ids_in_assign() -> None:
    workers = roster(worker("P1", "police", 50), worker("P1", "police", 60))
    with pytest.raises(InputError, match=r"duplicate id 'P1' \(features 0, 1\)"):
        assign(row_grids(1), workers, model=load_model("1+1+N"))
