"""gridsvc: grids of 30–50 households for community governance (网格化管理)."""

__version__ = "0.1.0"
