"""Partition engine: community + households → nested grids of bounded household counts.

``partition`` is the one entry point; ``check_partition`` the one validator of its result.
"""

from .atoms import Bounds
from .check import check_partition
from .engine import PartitionResult, partition

__all__ = ["Bounds", "PartitionResult", "check_partition", "partition"]
