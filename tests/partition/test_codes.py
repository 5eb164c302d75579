"""Grid codes: numbering many parents' grids at once gives each parent's codes alone."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.partition.codes import measures, number
from gridsvc.partition.engine import Node, _code_families
from gridsvc.partition.level import Cell

_box = st.tuples(
    st.integers(0, 40), st.integers(0, 40), st.integers(1, 12), st.integers(1, 12)
).map(lambda b: shapely.box(b[0] * 10.0, b[1] * 10.0, (b[0] + b[2]) * 10.0, (b[1] + b[3]) * 10.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_box, min_size=0, max_size=6), min_size=1, max_size=5))
def test_a_level_coded_at_once_gets_each_parents_codes(families: list[list[object]]) -> None:
    # each family alone, as number() codes it from its own geometries
    alone = [
        number(np.array(g, dtype=object), np.full(len(g), np.nan), parent=f"P{i}", level=2)
        for i, g in enumerate(families)
    ]
    nodes = [[Node(Cell(g, np.zeros(0, dtype=np.int64)), 2) for g in gs] for gs in families]
    _code_families([(f"P{i}", kids) for i, kids in enumerate(nodes)], 2)
    assert [[n.code for n in kids] for kids in nodes] == alone
    assert all(n.parent == f"P{i}" for i, kids in enumerate(nodes) for n in kids)


def test_base_grids_skip_taken_serials_and_have_no_parent() -> None:
    nodes = [
        Node(Cell(shapely.box(x, 0, x + 1, 1), np.zeros(0, dtype=np.int64)), 1) for x in (2, 0)
    ]
    _code_families([("110101001001", nodes)], 1, taken=["110101001001007"])
    assert [n.code for n in nodes] == ["110101001001009", "110101001001008"]
    assert [n.parent for n in nodes] == [None, None]


def test_an_empty_grid_has_no_centre_and_does_not_shift_the_others() -> None:
    geoms = np.array([shapely.Polygon(), shapely.box(0, 0, 2, 2)], dtype=object)
    centre, area = measures(geoms)
    assert np.isnan(centre[0]).all()
    assert centre[1].tolist() == [1.0, 1.0]
    assert area.tolist() == [0.0, 4.0]
