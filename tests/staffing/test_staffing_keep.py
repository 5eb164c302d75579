"""After grid changes, valid assignments are kept and every change is reported with its reason."""

from __future__ import annotations

import pandas as pd
from staffing_fixtures import COMM, roster, row_grids, worker

from gridsvc.staffing import assign


def _workers():  # type: ignore[no-untyped-def]
    return roster(
        worker("P1", "police", 100),
        worker("P2", "police", 300, beat=f"{COMM}-JW02"),
        worker("L1", "full_time_grid_worker", 50),
        worker("L2", "full_time_grid_worker", 250),
        worker("L3", "community_worker", 350),
        *(worker(f"B{i}", "building_head", 50 + 100 * i) for i in range(4)),
    )


def test_valid_assignments_are_kept_and_each_change_is_reported() -> None:
    before = row_grids(4)
    first = assign(before, _workers(), model="1+1+N")
    assert first.report["summary"]["required_filled"] == 12
    assert not first.assignments["kept"].any()
    assert first.report["changes"] == []

    # the planner redraws: grid 004 is gone, grid 002 moved to police beat JW02, grid 003 grew
    # to 520 households (over the 500 an all-round grid leader may carry), grid 005 is new
    after = row_grids(5)
    after = after[after["code"] != f"{COMM}004"].copy()
    after.loc[after["code"] == f"{COMM}002", "police_beat"] = f"{COMM}-JW02"
    after.loc[after["code"] == f"{COMM}003", "households"] = 520
    second = assign(after, _workers(), model="1+1+N", previous=first.assignments)

    prev = first.assignments.set_index(["grid_code", "role"])["worker_id"]
    changes = pd.DataFrame(second.report["changes"])
    removed = changes[changes["change"] == "removed"].set_index(["grid_code", "role"])
    gone = removed.loc[(f"{COMM}004", "police_grid_leader")]
    assert gone["reason"] == f"grid {COMM}004 no longer exists"
    assert len(removed.loc[f"{COMM}004"]) == len(prev.loc[f"{COMM}004"])
    moved = removed.loc[(f"{COMM}002", "police_grid_leader")]
    assert moved["worker_id"] == prev[(f"{COMM}002", "police_grid_leader")]
    assert moved["reason"] == (
        f"not eligible: needs a worker who belongs to police beat {COMM}-JW02"
    )
    grown = removed.loc[(f"{COMM}003", "all_round_grid_leader")]
    assert grown["reason"].startswith("capacity: worker is now at max 500 households")

    # everything else the first plan had on grids 001..003 is kept, and flagged as kept
    untouched = first.assignments[first.assignments["grid_code"] != f"{COMM}004"]
    keys = set(untouched[["grid_code", "worker_id", "role"]].itertuples(index=False, name=None))
    keys -= set(
        removed.reset_index()[["grid_code", "worker_id", "role"]].itertuples(index=False, name=None)
    )
    kept = second.assignments[second.assignments["kept"]]
    assert set(kept[["grid_code", "worker_id", "role"]].itertuples(index=False, name=None)) == keys

    added = changes[changes["change"] == "added"]
    assert set(added.loc[added["reason"] == "new grid", "grid_code"]) == {f"{COMM}005"}
    police = added[(added["grid_code"] == f"{COMM}002") & (added["role"] == "police_grid_leader")]
    assert list(police["worker_id"]) == ["P2"]
