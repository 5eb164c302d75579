"""Staffing models as data: the shipped three, a jurisdiction's own file, impossible slots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridsvc.errors import InputError
from gridsvc.staffing import load_model, shipped_models
from gridsvc.staffing.model import model_from_dict

SLOT = {"role": "leader", "label": "网格长", "eligible": ["party_secretary"], "min": 1, "max": 1}


def test_shipped_models_load_with_their_slots() -> None:
    assert shipped_models() == ["1+1+N", "1+2+X", "jiangxi"]
    one = load_model("1+1+N")
    assert [s.role for s in one.slots] == [
        "police_grid_leader",
        "all_round_grid_leader",
        "grid_member",
    ]
    assert one.slot("police_grid_leader").same_beat
    assert one.slot("police_grid_leader").eligible == {"police", "auxiliary_police"}
    jx = load_model("JIANGXI")
    assert jx.slot("grid_leader").party_member and not jx.slot("grid_leader").spread
    guangling = load_model("1+2+X")
    assert [(c.label, c.count) for c in guangling.centre] == [("书记(主任)", 1), ("全科社工", 2)]


def test_a_jurisdiction_adds_its_own_model_without_code(tmp_path: Path) -> None:
    path = tmp_path / "wenzhou.json"
    data = {
        "name": "wenzhou",
        "roles": {"courier": "快递小哥"},
        "slots": [SLOT, {**SLOT, "role": "probe", "eligible": ["courier"], "min": 0, "max": 2}],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    model = load_model(path)
    assert model.name == "wenzhou"
    assert model.slot("probe").eligible == {"courier"}
    assert model.known_roles["courier"] == "快递小哥"


def test_unknown_model_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InputError, match=r"unknown staffing model '1\+1\+M'; use one of 1\+1\+N"):
        load_model("1+1+M")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min": 2, "max": 1}, r"slot leader can never be met: min 2 > max 1"),
        ({"eligible": []}, r"slot leader can never be met: no eligible roles"),
        ({"max_grids": 0}, r"slot leader can never be met: max_grids 0 lets nobody take a grid"),
        ({"max_households": 0}, r"max_households 0 admits no grid with any households"),
        ({"same_beat": True}, r"same_beat needs police or auxiliary_police"),
        ({"eligible": ["wizard"]}, r"unknown role 'wizard'; known: "),
        ({"colour": "red"}, r"unknown slot keys \['colour'\]"),
    ],
)
def test_a_model_whose_slots_can_never_be_met_is_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        model_from_dict({"name": "bad", "slots": [{**SLOT, **change}]}, source="bad.json")


def test_model_problems_name_the_file_and_slot() -> None:
    with pytest.raises(InputError, match=r"bad\.json, field 'slots\[leader\]': slot leader"):
        model_from_dict({"name": "bad", "slots": [{**SLOT, "min": 3}]}, source="bad.json")


def test_model_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json: cannot parse model file"):
        load_model(path)
