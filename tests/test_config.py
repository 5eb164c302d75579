"""Settings: environment, files, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridsvc.config import load_settings


def test_defaults_are_spatialite_and_30_to_50(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GRIDSVC_DATABASE_URL", "GRIDSVC_MIN_HOUSEHOLDS", "GRIDSVC_MAX_HOUSEHOLDS"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url == "sqlite:///gridsvc.sqlite"
    assert (s.min_households, s.max_households, s.micro_max_households) == (30, 50, 15)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDSVC_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/x")
    monkeypatch.setenv("GRIDSVC_MAX_HOUSEHOLDS", "500")
    monkeypatch.setenv("GRIDSVC_MIN_HOUSEHOLDS", "300")
    s = load_settings()
    assert s.database_url.startswith("postgresql+psycopg://")
    assert s.base_bounds.max_households == 500 and s.base_bounds.min_households == 300


def test_settings_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "gridsvc.toml"
    path.write_text("[gridsvc]\nmin_households = 20\nmax_households = 40\n", encoding="utf-8")
    s = load_settings(path, max_households=45)
    assert (s.min_households, s.max_households) == (20, 45)


def test_min_above_max_is_refused() -> None:
    with pytest.raises(ValueError, match="min_households 60 > max_households 50"):
        load_settings(min_households=60)
