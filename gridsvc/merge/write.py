"""Write a merge result: unified.geojson, realigned_<layer>.geojson, crosswalk.csv, moved.csv,
report.json. Files appear together or not at all (written aside, then moved in)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd

from .. import geo
from .pipeline import MergeResult

__all__ = ["file_stem", "write_merge"]


def file_stem(layer: str) -> str:
    """Return ``layer`` made safe for a file name (letters, digits, _ and - kept)."""
    return re.sub(r"[^\w\-]+", "_", layer).strip("_") or "layer"


def _geojson(frame: gpd.GeoDataFrame, path: Path, id_column: str) -> None:
    path.write_text(geo.feature_collection_text(frame, id_column=id_column), encoding="utf-8")


def write_merge(result: MergeResult, out_dir: str | Path) -> list[Path]:
    """Write ``result`` into ``out_dir``; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = ["unified.geojson"] + [f"realigned_{file_stem(n)}.geojson" for n in result.realigned]
    names += ["crosswalk.csv", "moved.csv", "report.json"]
    with tempfile.TemporaryDirectory(dir=out, prefix=".merge-") as tmp:
        t = Path(tmp)
        _geojson(result.unified, t / names[0], "code")
        for name, frame in zip(names[1:], result.realigned.values(), strict=False):
            _geojson(frame, t / name, "grid_id")
        result.crosswalk.to_csv(t / "crosswalk.csv", index=False)
        result.moved.to_csv(t / "moved.csv", index=False)
        (t / "report.json").write_text(
            json.dumps(result.report, ensure_ascii=False, indent=2, default=str) + "\n",
            encoding="utf-8",
        )
        for name in names:
            os.replace(t / name, out / name)
        shutil.rmtree(t, ignore_errors=True)
    return [out / n for n in names]
