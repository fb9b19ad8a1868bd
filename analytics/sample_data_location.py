"""Where the bundled sample data lives, without importing the generator (numpy-heavy)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["bundled_dir"]


def bundled_dir() -> Path:
    """``shopper_tui/sample_data/bundled`` wherever the package is installed (or checked out)."""
    return Path(str(files("shopper_tui.sample_data"))) / "bundled"
