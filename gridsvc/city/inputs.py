"""City-run inputs: the files, an index of communities, and one community's slice of each file.

Households, buildings, departmental layers and the roster are read per community: GeoParquet
with a pyarrow filter on ``community_code`` (row groups of other communities are skipped),
GeoPackage with a bbox read on its R-tree, then the code. Barriers (no community code) are read
by the community's bbox. Every slice is validated like an import; its digest (SHA-256 over the
rows in any order, their geometry and the settings) tells a rerun whether the input changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely

from ..errors import InputError, Problem
from ..geo import WGS84, crs_of
from ..ingest import load_frame, validate
from ..ingest.importer import prepare_frame
from .digest import frames_digest
from .slices import read_by_code, read_whole

__all__ = ["CityInputs", "CommunityInputs", "CommunityJob", "index_city", "read_community"]

PARQUET = (".parquet", ".geoparquet")
CODE = "community_code"


@dataclass(frozen=True, slots=True)
class CityInputs:
    """The files of a city run (the CLI's flags). ``layers`` are NAME=FILE:hard|soft specs."""

    communities: Path
    households: Path
    buildings: Path | None = None
    barriers: Path | None = None
    layers: tuple[str, ...] = ()
    roster: Path | None = None
    crs: str | None = None

    @property
    def staffed(self) -> bool:
        """Tell whether the run merges layers and staffs grids (layers and a roster given)."""
        return bool(self.layers) and self.roster is not None


@dataclass(frozen=True, slots=True)
class CommunityJob:
    """One community to run: its code, boundary (WGS 84 WKB) and bbox."""

    code: str
    boundary_wkb: bytes
    bbox: tuple[float, float, float, float]

    @property
    def boundary(self) -> gpd.GeoDataFrame:
        geometry = [shapely.from_wkb(self.boundary_wkb)]
        return gpd.GeoDataFrame({"code": [self.code]}, geometry=geometry, crs=crs_of(WGS84))


@dataclass(frozen=True, slots=True)
class CommunityInputs:
    """One community's slice of every input, validated, and the digest of all of it."""

    community: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    layers: gpd.GeoDataFrame | None
    roster: gpd.GeoDataFrame | None
    digest: str


def _code_batches(path: Path, rows: int = 1 << 20) -> Iterator[pd.Series]:
    """Yield the ``community_code`` column of ``path`` in batches (no geometry is read)."""
    if not path.exists():
        raise InputError(Problem(f"file not found: {path}", source=path.name))
    if path.suffix.lower() in PARQUET:
        if CODE not in pq.read_schema(path).names:
            raise InputError(Problem("missing column", source=path.name, field=CODE))
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=[CODE]):
            yield batch.column(0).to_pandas().astype("string")
        return
    total = int(pyogrio.read_info(path)["features"])
    for start in range(0, max(total, 1), rows):
        frame = pyogrio.read_dataframe(
            path, columns=[CODE], read_geometry=False, skip_features=start, max_features=rows
        )
        if CODE not in frame.columns:
            raise InputError(Problem("missing column", source=path.name, field=CODE))
        yield frame[CODE].astype("string")


def _count_codes(inputs: CityInputs, known: set[str]) -> dict[str, int]:
    """Count households per community, streaming; raise on a code not in ``known``."""
    counts: dict[str, int] = {}
    seen = 0
    for codes in _code_batches(inputs.households):
        unknown = ~codes.isin(known) | codes.isna()
        if unknown.any():
            first = seen + int(unknown.to_numpy().nonzero()[0][0])
            bad = sorted(set(codes[unknown].fillna("<empty>")))
            raise InputError(
                Problem(
                    f"{int(unknown.sum())} households name communities not in "
                    f"{inputs.communities.name}: {', '.join(bad[:5])}; add the communities or "
                    "fix the codes",
                    source=inputs.households.name,
                    feature=first,
                    field=CODE,
                )
            )
        for code, n in codes.value_counts().items():
            counts[str(code)] = counts.get(str(code), 0) + int(n)
        seen += len(codes)
    return counts


def index_city(inputs: CityInputs) -> tuple[list[CommunityJob], dict[str, int]]:
    """Check the inputs city-wide and return one job per community and its household count.

    The jobs come largest first (most households, then code): a scheduler that starts them in
    this order keeps the biggest community off the end of the run, where one worker would
    finish it while the others idle.

    Raises InputError naming the file, feature and field when a household names a community
    that is not in the communities file, a file is missing, or a CRS is wrong.
    """
    from ..merge import parse_layer_spec

    for path in (inputs.buildings, inputs.barriers, inputs.roster):
        if path is not None and not path.exists():
            raise InputError(Problem(f"file not found: {path}", source=path.name))
    for spec in map(parse_layer_spec, inputs.layers):
        if not spec.path.exists():
            raise InputError(Problem(f"layer file {spec.path} does not exist", source=spec.name))
    communities = load_frame(inputs.communities, kind="communities", crs=inputs.crs)
    counts = _count_codes(inputs, set(communities["code"].astype(str)))
    jobs = [
        CommunityJob(str(code), shapely.to_wkb(geom), tuple(float(v) for v in geom.bounds))  # type: ignore[arg-type]
        for code, geom in zip(communities["code"], communities.geometry, strict=True)
    ]
    if jobs:  # the CRS of the per-community files, checked once on the file's first community
        _households(inputs, jobs[0], communities)
    jobs.sort(key=lambda job: (-counts.get(job.code, 0), job.code))
    return jobs, counts


def _slice(path: Path, job: CommunityJob, *, by_code: bool) -> gpd.GeoDataFrame:
    """Read ``path``'s rows of ``job``: by community code when ``by_code``, else by bbox."""
    suffix = path.suffix.lower()
    if suffix in PARQUET and by_code:
        return read_by_code(path, CODE, job.code)
    if suffix in PARQUET and "bbox" in pq.read_schema(path).names:
        return gpd.read_parquet(path, bbox=job.bbox)
    if suffix == ".gpkg":
        if by_code:  # an attribute filter, so a stray point outside the bbox is still read
            code = job.code.replace("'", "''")
            return pyogrio.read_dataframe(path, where=f"{CODE} = '{code}'")
        return pyogrio.read_dataframe(path, bbox=job.bbox)
    frame = read_whole(path)  # small formats, Parquet without bbox: once per process, filtered
    if by_code and CODE in frame.columns:
        return frame[frame[CODE].astype(str) == job.code].reset_index(drop=True)
    return frame.iloc[frame.sindex.query(shapely.box(*job.bbox))].reset_index(drop=True)


def _households(
    inputs: CityInputs, job: CommunityJob, communities: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    raw = _slice(inputs.households, job, by_code=True)
    return validate(
        raw,
        kind="households",
        source=inputs.households.name,
        crs=inputs.crs,
        communities=communities if communities is not None else job.boundary,
    ).frame


def read_community(
    inputs: CityInputs, job: CommunityJob, *, settings: dict[str, Any]
) -> CommunityInputs:
    """Read and validate ``job``'s slice of every input; the digest covers it and ``settings``."""
    community = job.boundary
    households = _households(inputs, job, community)
    buildings = (
        validate(
            _slice(inputs.buildings, job, by_code=True),
            kind="buildings", source=inputs.buildings.name, crs=inputs.crs,
        ).frame
        if inputs.buildings else None
    )  # fmt: skip
    barriers = None
    if inputs.barriers is not None:
        raw = _slice(inputs.barriers, job, by_code=False)
        barriers = prepare_frame(raw, crs=inputs.crs, source=inputs.barriers.name)
    layers = roster = None
    if inputs.staffed:
        layers = _layers(inputs, job)
        assert inputs.roster is not None
        roster = prepare_frame(
            _slice(inputs.roster, job, by_code=True), crs=inputs.crs, source=inputs.roster.name
        )
    frames = {"households": households, "buildings": buildings, "barriers": barriers,
              "layers": layers, "roster": roster, "community": community}  # fmt: skip
    return CommunityInputs(
        community, households, buildings, barriers, layers, roster, frames_digest(frames, settings)
    )


def _layers(inputs: CityInputs, job: CommunityJob) -> gpd.GeoDataFrame:
    from ..merge import parse_layer_spec
    from ..merge.files import read_layer

    parts = []
    for spec in map(parse_layer_spec, inputs.layers):
        by_code = CODE in (pq.read_schema(spec.path).names if spec.path.suffix in PARQUET else [])
        raw = _slice(spec.path, job, by_code=by_code)
        frame = prepare_frame(raw, crs=inputs.crs, source=spec.path.name)
        frame = read_layer(spec, inputs.crs, frame=frame)
        parts.append(frame.to_crs(4326))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=4326)
