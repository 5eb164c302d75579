"""多格合一: merge departmental grid layers into one unified grid (一张网).

``merge`` diagnoses each layer, builds the unified grid with the partition engine (hard layers
as barriers, soft layers as soft barriers), re-aligns every layer as unions of unified grids
and writes a crosswalk; ``write_merge`` writes the files; ``run_merge_files`` is the CLI body.
"""

from .diagnose import Thresholds, diagnose_layer
from .files import parse_layer_spec, run_merge_files
from .pipeline import MergeResult, merge
from .write import write_merge

__all__ = [
    "MergeResult",
    "Thresholds",
    "diagnose_layer",
    "merge",
    "parse_layer_spec",
    "run_merge_files",
    "write_merge",
]
