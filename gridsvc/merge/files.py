"""The file front of :func:`merge`: read the inputs, merge, write the outputs (CLI and jobs).

A layer is given as ``NAME=FILE[@GPKG_LAYER]:POLICY`` (``police=beats.geojson:hard``). ``NAME``
is the layer and, unless the file has a ``department`` column, its department. Grid ids come
from the file's ``grid_id`` column, else ``id``, else ``name``. A file holding several layers
(a ``layer`` column) contributes the rows of layer ``NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..errors import InputError, Problem
from ..ingest import load_frame
from .layers import POLICIES
from .pipeline import merge
from .write import write_merge

__all__ = ["LayerSpec", "parse_layer_spec", "read_layer", "run_merge_files"]

ID_COLUMNS = ("grid_id", "id", "name")


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """One ``--layer`` argument: layer name, file, GeoPackage layer and policy."""

    name: str
    path: Path
    gpkg_layer: str | None
    policy: str


def _source(text: str) -> tuple[Path, str | None]:
    path, _, layer = text.partition("@")
    return Path(path), layer or None


def parse_layer_spec(spec: str) -> LayerSpec:
    """Parse ``NAME=FILE[@GPKG_LAYER]:POLICY``; raise InputError naming what is missing."""
    name, eq, rest = spec.partition("=")
    if not eq or not name.strip():
        raise InputError(
            Problem(
                f"layer {spec!r} has no department; write "
                "NAME=FILE:hard|soft, e.g. police=beats.geojson:hard",
                source=spec,
                field="department",
            )
        )
    file, colon, policy = rest.rpartition(":")
    if not colon or policy.strip().lower() not in POLICIES:
        raise InputError(
            Problem(
                f"layer {name!r} needs a policy: {name}=FILE:hard or "
                f"{name}=FILE:soft (got {spec!r})",
                source=spec,
                field="policy",
            )
        )
    path, gpkg_layer = _source(file)
    return LayerSpec(name.strip(), path, gpkg_layer, policy.strip().lower())


def read_layer(
    spec: LayerSpec, crs: str | None = None, *, frame: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Read one layer file as ``layer_grids`` rows (layer, department, policy, grid_id, name).

    ``frame`` is the file's content already read (e.g. one community's slice, in WGS 84).
    """
    if frame is None:
        if not spec.path.exists():
            raise InputError(Problem(f"layer file {spec.path} does not exist", source=spec.name))
        frame = load_frame(spec.path, kind=None, crs=crs, layer=spec.gpkg_layer)
    if "layer" in frame.columns and (frame["layer"].astype(str) == spec.name).any():
        frame = frame[frame["layer"].astype(str) == spec.name]  # one layer of a multi-layer file
    id_col = next((c for c in ID_COLUMNS if c in frame.columns), None)
    ids = (
        frame[id_col].astype("string").fillna("")
        if id_col
        else pd.Series([str(i + 1) for i in range(len(frame))], index=frame.index)
    )
    department = (
        frame["department"].astype("string").fillna("")
        if "department" in frame.columns
        else pd.Series("", index=frame.index)
    )
    department = department.where(department.str.strip() != "", spec.name)
    names = frame["name"].astype("string").fillna("") if "name" in frame.columns else ids
    return gpd.GeoDataFrame(
        {
            "layer": spec.name,
            "department": department.to_numpy(),
            "policy": spec.policy,
            "grid_id": ids.to_numpy(),
            "name": names.to_numpy(),
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )


def run_merge_files(
    boundary: str | Path,
    households: str | Path | None,
    layers: list[str],
    out: str | Path,
    *,
    crs: str | None = None,
    buildings: str | Path | None = None,
    barriers: str | Path | None = None,
    areas: str | Path | None = None,
    count_field: str | None = None,
    **engine: Any,
) -> dict[str, Any]:
    """Read the files, merge and write ``out``; return the report. Nothing is written on error.

    Paths may name a GeoPackage layer as ``FILE@LAYER``. ``engine`` holds the partition
    engine's options given to :func:`merge` (levels, seed, budget, dedicated; usually
    ``engine_options(settings)``).
    """
    specs = [parse_layer_spec(s) for s in layers]
    if not specs:
        raise InputError(Problem("give at least one --layer NAME=FILE:hard|soft", source="layers"))
    seen = pd.Series([s.name for s in specs])
    if seen.duplicated().any():
        dup = seen[seen.duplicated()].iloc[0]
        raise InputError(Problem(f"layer {dup!r} is given twice", source=str(dup)))
    frame = gpd.GeoDataFrame(
        pd.concat([read_layer(s, crs).to_crs("EPSG:4326") for s in specs], ignore_index=True),
        geometry="geometry",
        crs="EPSG:4326",
    )
    result = merge(
        _load(boundary, None, crs),
        _load(households, "households", crs),
        frame,
        areas=_load(areas, None, crs),
        count_field=count_field,
        buildings=_load(buildings, "buildings", crs),
        barriers=_load(barriers, None, crs),
        **engine,
    )
    write_merge(result, out)
    return result.report


def _load(value: str | Path | None, kind: str | None, crs: str | None) -> gpd.GeoDataFrame | None:
    if value is None:
        return None
    path, layer = _source(str(value))
    return load_frame(path, kind=kind, crs=crs, layer=layer)
