"""Write a synthetic city of any size to GeoParquet (or GeoPackage), one row of communities at a
time, so memory holds one row whatever the city's size.

Files in ``folder``: ``communities``, ``households``, ``buildings``, ``barriers`` and, when asked,
``layers`` (police, party and governance grids with their ``community_code``) and ``roster``
(a 1+1+N roster drawn for about one grid per 40 households). Parquet files hold one row group
per community, so a reader filtering on ``community_code`` touches only that community's bytes.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from geopandas.io.arrow import _geopandas_to_arrow

from ._plan import CommunityData
from .city import SIZES, iter_city
from .layers import generate_layers

__all__ = ["CityFiles", "write_city"]

log = logging.getLogger(__name__)

SUFFIXES = (".parquet", ".gpkg")
_HOUSEHOLDS_PER_GRID = 40


@dataclass(frozen=True, slots=True)
class CityFiles:
    """The files of a written city and what is in them."""

    folder: Path
    paths: dict[str, Path]
    communities: int
    households: int
    sizes: list[int] = field(default_factory=list)


class _Sink:
    """Append frames to one file: a GeoParquet writer (a row group per community) or a layer."""

    def __init__(self, path: Path, by_community: bool) -> None:
        self.path = path
        self.by_community = by_community
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, frame: gpd.GeoDataFrame) -> None:
        if frame.empty:
            return
        if self.path.suffix == ".gpkg":
            frame.to_file(self.path, driver="GPKG", engine="pyogrio", append=self.path.exists())
            return
        table = pa.table(_geopandas_to_arrow(frame, index=False))
        if self.writer is None:
            meta = dict(table.schema.metadata or {})
            geo = json.loads(meta[b"geo"])
            for column in geo["columns"].values():
                column.pop("bbox", None)  # the first row's extent would mislead readers
            meta[b"geo"] = json.dumps(geo).encode()
            self.schema = table.schema.with_metadata(meta)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        assert self.schema is not None
        table = table.cast(self.schema)
        if not self.by_community:
            self.writer.write_table(table)
            return
        codes = table.column("community_code").to_numpy(zero_copy_only=False)
        bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
        for lo, hi in itertools.pairwise(bounds):
            self.writer.write_table(table.slice(lo, hi - lo))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _layers(data: CommunityData, seed: int) -> gpd.GeoDataFrame:
    layers = generate_layers(data, seed=seed)
    layers.insert(0, "community_code", layers["grid_id"].str.split("-").str[0])
    return layers.sort_values("community_code", kind="stable").reset_index(drop=True)


def _roster(data: CommunityData, layers: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    """Draw a roster as if each community had one grid per 40 households (sampled homes)."""
    from ..staffing import generate_roster

    rng = np.random.default_rng(seed)
    hh = data.households
    picks = [
        rng.choice(idx, size=max(1, len(idx) // _HOUSEHOLDS_PER_GRID), replace=False)
        for idx in hh.groupby("community_code", sort=True).indices.values()
    ]
    proxy = hh.iloc[np.concatenate(picks)][["community_code", "geometry"]]
    police = layers.loc[layers["layer"] == "police", ["grid_id", "geometry"]]
    beats = gpd.sjoin(proxy, police, how="left", predicate="within")
    proxy = proxy.assign(police_beat=beats.groupby(level=0)["grid_id"].first().fillna(""))
    roster = generate_roster(proxy, hh, seed=seed)
    roster["id"] = roster["community_code"].astype(str) + "-" + roster["id"].astype(str)
    return roster.sort_values("community_code", kind="stable").reset_index(drop=True)


def _frames(
    data: CommunityData, *, seed: int, layers: bool, roster: bool
) -> Iterator[tuple[str, gpd.GeoDataFrame]]:
    yield "communities", data.community
    yield "households", data.households
    yield "buildings", data.buildings
    yield "barriers", data.barriers
    if layers or roster:
        grids = _layers(data, seed)
        if layers:
            yield "layers", grids
        if roster:
            yield "roster", _roster(data, grids, seed)


def write_city(
    folder: str | Path,
    *,
    seed: int,
    households: int,
    sizes: tuple[int, int] = SIZES,
    layers: bool = True,
    roster: bool = True,
    suffix: str = ".parquet",
    **city: Any,
) -> CityFiles:
    """Generate a city (see :func:`gridsvc.synth.iter_city`) and write it into ``folder``."""
    if suffix not in SUFFIXES:
        raise ValueError(f"suffix must be one of {', '.join(SUFFIXES)}, got {suffix!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["communities", "households", "buildings", "barriers"]
    names += ["layers"] * layers + ["roster"] * roster
    paths = {name: folder / f"{name}{suffix}" for name in names}
    for path in paths.values():
        path.unlink(missing_ok=True)
    sizes_out: list[int] = []
    with ExitStack() as stack:
        sinks = {
            n: _Sink(p, n in ("households", "buildings", "layers", "roster"))
            for n, p in paths.items()
        }
        for sink in sinks.values():
            stack.callback(sink.close)
        for seed_row, data in enumerate(
            iter_city(seed=seed, households=households, sizes=sizes, **city)
        ):
            row_seed = int(np.random.default_rng([seed, seed_row]).integers(2**31))
            for name, frame in _frames(data, seed=row_seed, layers=layers, roster=roster):
                sinks[name].write(frame)
            sizes_out += data.households.groupby("community_code").size().tolist()
            log.info("wrote %d communities (%d so far)", len(data.community), len(sizes_out))
    return CityFiles(folder, paths, len(sizes_out), int(sum(sizes_out)), sizes_out)
