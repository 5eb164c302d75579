"""Import one file into the store: read → validate → conform → upsert, in the caller's session.

The caller's ``session_scope`` makes an import all-or-nothing: any InputError raised here leaves
the store as it was. Re-importing the same file updates the same keys (idempotent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from sqlalchemy.orm import Session

from gridsvc import frames, geo
from gridsvc.domain import LayerPolicy
from gridsvc.errors import InputError, Problem
from gridsvc.ingest.readers import read_any
from gridsvc.ingest.validate import effective_crs, polygonal_part, validate
from gridsvc.store import repo

__all__ = ["ImportReport", "import_file", "load_frame"]

log = logging.getLogger(__name__)

_PLACED = ("buildings", "households", "grids")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did: counts, the CRS read, and repairs/decodings made (warnings)."""

    kind: str
    source: str
    inserted: int
    updated: int
    crs: str = "EPSG:4326"
    warnings: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.inserted + self.updated


def import_file(
    session: Session,
    path: str | Path,
    *,
    kind: str,
    crs: str | None = None,
    layer: str | None = None,
    department: str | None = None,
    policy: str | None = None,
    far_km: float = 5.0,
    layer_name: str | None = None,
) -> ImportReport:
    """Import ``path`` as ``kind`` into the store through ``session``; raise InputError if bad.

    ``layer`` picks the layer of a GeoPackage or multi-shapefile zip. For ``layer_grids`` the
    departmental layer is named by ``layer_name``, else ``layer``, else the file's ``layer``
    column, else the file name's stem; ``department`` and ``policy`` (hard|soft) likewise
    override the file's columns.
    """
    path = Path(path)
    if kind not in frames.KINDS:
        raise InputError(
            Problem(
                f"unknown kind {kind!r}; use one of {', '.join(sorted(frames.KINDS))}",
                source=path.name,
            )
        )
    frame = read_any(path, layer=layer)
    if kind == "layer_grids":
        frame = _layer_columns(frame, path, layer_name or layer, department, policy)
    communities = repo.read(session, "communities") if kind in _PLACED else None
    known = None
    if kind == "households" and "building_id" in frame and frame["building_id"].notna().any():
        known = set(repo.read(session, "buildings")["id"].dropna().astype(str))
    checked = validate(
        frame,
        kind=kind,
        source=path.name,
        crs=crs,
        communities=communities,
        known_buildings=known,
        far_km=far_km,
    )
    counts = repo.upsert(session, kind, checked.frame)
    report = ImportReport(
        kind=kind,
        source=path.name,
        inserted=counts.inserted,
        updated=counts.updated,
        crs=checked.crs,
        warnings=tuple(checked.warnings),
    )
    log.info("imported %s: %d inserted, %d updated", path.name, report.inserted, report.updated)
    return report


def _layer_columns(
    frame: gpd.GeoDataFrame,
    path: Path,
    name: str | None,
    department: str | None,
    policy: str | None,
) -> gpd.GeoDataFrame:
    frame = frame.copy()
    if name is not None or "layer" not in frame:
        frame["layer"] = name or path.stem.removesuffix(".shp")
    if department is not None or "department" not in frame:
        frame["department"] = department or ""
    if policy is not None:
        if policy not in {p.value for p in LayerPolicy}:
            raise InputError(
                Problem(
                    f"unknown layer policy {policy!r}; use hard or soft",
                    source=path.name,
                    field="policy",
                )
            )
        frame["policy"] = policy
    return frame


def load_frame(
    path: str | Path, *, kind: str | None, crs: str | None = None, layer: str | None = None
) -> gpd.GeoDataFrame:
    """Read and check a file without the store: a conformed ``kind`` frame in WGS 84.

    With ``kind=None`` (barriers, areal units) the file's own columns are kept; geometries are
    converted to WGS 84 and invalid ones repaired.
    """
    path = Path(path)
    frame = read_any(path, layer=layer)
    if kind is not None:
        return validate(frame, kind=kind, source=path.name, crs=crs).frame
    return prepare_frame(frame, crs=crs, source=path.name)


def prepare_frame(frame: gpd.GeoDataFrame, *, crs: str | None, source: str) -> gpd.GeoDataFrame:
    """Convert a frame of no kind (barriers, layers, rosters) to WGS 84, repairing geometries."""
    declared = effective_crs(crs, frame.crs, source)
    if declared == geo.WGS84:  # what to_wgs84 does then, without its copies and identity transform
        out = frame.set_crs(geo.crs_of(geo.WGS84), allow_override=True)
    else:
        out = geo.to_wgs84(frame, declared)
    bad = ~out.geometry.is_valid & out.geometry.notna()
    if bad.any():
        # a repaired polygon stays a polygon: make_valid may add the lines and points it cut off
        was_polygon = out.geometry[bad].geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        fixed = out.geometry[bad].make_valid().to_numpy()
        fixed[was_polygon] = [polygonal_part(g) for g in fixed[was_polygon]]
        out.loc[bad, out.geometry.name] = fixed
    return out
