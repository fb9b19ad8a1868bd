"""Shared fixtures. Tests never touch the user's real data folder: every test gets its own
``SHOPPER_TUI_DATA_DIR`` / ``SHOPPER_TUI_CACHE_DIR`` under pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from _mongo_server import mongo_db, mongo_replset_url, mongo_url  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHOPPER_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("SHOPPER_TUI_MONGO_URI", "SHOPPER_TUI_MONGODB_URI", "SHOPPER_TUI_CONFIG_FILE",
                "SHOPPER_TUI_SOURCE", "SHOPPER_TUI_SHOW_PII", "SHOPPER_TUI_THEME"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
