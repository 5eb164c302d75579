"""The report's totals counted from the nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridsvc.partition.engine import Node
from gridsvc.partition.level import Cell
from gridsvc.partition.report import _split_buildings


def test_split_buildings_counts_buildings_in_two_grids_but_not_stacked_ones() -> None:
    hh = pd.DataFrame({"building_id": pd.array(["A", "A", "B", "B", "C", None, "D"], "string")})
    square = shapely.box(0, 0, 1, 1)
    nodes = [
        Node(Cell(square, np.array([0, 2, 3])), 1, code="001"),
        Node(Cell(square, np.array([1, 4, 5])), 1, code="002"),  # A in 001 and 002: split
        Node(Cell(square, np.array([6])), 1, code="003"),
        Node(Cell(square, np.array([2]), stacked=True), 1, code="004"),  # B stacked: not split
    ]
    assert _split_buildings(nodes, hh) == 1
    nodes[0] = Node(Cell(square, np.array([0, 2])), 1, code="001")
    nodes[2] = Node(Cell(square, np.array([3, 6])), 1, code="003")  # B now in 001 and 003
    assert _split_buildings(nodes, hh) == 2
