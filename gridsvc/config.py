"""Settings, read once from ``GRIDSVC_*`` environment variables or a settings file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["GridBounds", "Settings", "load_settings"]


class GridBounds(BaseSettings):
    """Household bounds of one grid level (base grids 30–50 by default)."""

    min_households: int = Field(30, ge=0)
    max_households: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_households > self.max_households:
            raise ValueError(
                f"grid bounds min {self.min_households} > max {self.max_households}; set min <= max"
            )
        return self


# /me/assignments answers cached per server process: a 1,000,000-household city has about
# 25,000 grids and two phone users per grid (grid leader and full-time worker, the 1+1+N teams),
# so 50,000 answers. Measured on the 1M city (200 random grids, 40 households on average): an
# answer is 6.6 kB of JSON, 1.5 kB gzipped (the form kept), plus ≤ 1 kB of Python objects
# (caching.ENTRY_OVERHEAD): 50,000 × 2.5 kB = 124 MB.
ANSWER_CACHE_MB = 128
CITY_BUDGET = 0.2  # partition budget units per community of run-city (see gridsvc.partition.budget)


class Settings(BaseSettings):
    """Everything configurable. ``load_settings()`` builds one; callers pass it on."""

    model_config = SettingsConfigDict(env_prefix="GRIDSVC_", env_nested_delimiter="__")

    database_url: str = "sqlite:///gridsvc.sqlite"
    spatialite_path: str = Field(
        "mod_spatialite", description="SpatiaLite extension to load (name or path)"
    )
    min_households: int = Field(30, ge=0, description="base grid lower bound")
    max_households: int = Field(50, ge=1, description="base grid upper bound")
    micro_max_households: int = Field(15, ge=1, description="micro-grid upper bound")
    partition_budget: float | None = Field(
        None,
        ge=0,
        description="units of deterministic work per community for the partition's exact search "
        "and repair: one unit is about one CPU second of counted work "
        "(see gridsvc.partition.budget; None: unlimited; run-city uses 0.2, CITY_BUDGET). "
        "Formerly partition_budget_seconds (CPU seconds), still read under that name",
    )
    dedicated_grids: bool = Field(
        False, description="make schools, markets, enterprises, hospitals dedicated grids"
    )
    seed: int = 0
    maps_dir: Path = Path("maps")
    far_from_community_km: float = Field(
        5.0, gt=0, description="a point further than this from its community is an input error"
    )
    secret_key: str = Field(
        "", description="key signing API tokens; empty = a random key per process"
    )
    token_minutes: int = Field(60, ge=1, description="lifetime of an API token")
    max_request_bytes: int = Field(2_000_000, ge=1024, description="largest request body")
    job_workers: int = Field(2, ge=1, description="threads running background jobs")
    answer_cache_mb: int = Field(
        ANSWER_CACHE_MB,
        ge=0,
        description="memory per server process for cached /me/assignments answers (0: none); "
        "the default holds a 1,000,000-household city's grid workers",
    )
    assets_dir: Path | None = Field(
        None, description="folder of the npm browser assets (default: <repo>/node_modules)"
    )
    tianditu_key: str = Field("", description="API key (tk) for Tianditu map tiles")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        """Read the budget under its old name (``partition_budget_seconds``) too."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        old = data.pop("partition_budget_seconds", None)
        if "partition_budget" in data:
            return data  # given under its own name (even as None, "no limit"): that wins
        if old is None:
            old = os.environ.get("GRIDSVC_PARTITION_BUDGET_SECONDS")
        if old is not None:
            data["partition_budget"] = old
        return data

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_households > self.max_households:
            raise ValueError(
                f"min_households {self.min_households} > max_households "
                f"{self.max_households}; set min <= max"
            )
        return self

    @property
    def base_bounds(self) -> GridBounds:
        return GridBounds(min_households=self.min_households, max_households=self.max_households)


def load_settings(path: Path | None = None, **overrides: object) -> Settings:
    """Read settings once: a JSON/TOML settings file if given, then env vars, then overrides."""
    values: dict[str, object] = {}
    if path is not None:
        values.update(_read_settings_file(path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def _read_settings_file(path: Path) -> dict[str, object]:
    import json
    import tomllib

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        data = tomllib.loads(text)
        return dict(data.get("gridsvc", data))
    return dict(json.loads(text))
