"""shopper-tui: understand your shoppers from the terminal."""

from __future__ import annotations

from pathlib import Path as _Path

__version__ = "0.1.0"

# In a source checkout that was installed non-editable, `python -m pytest` (or any
# `python -m` from the repo root) puts the root first on sys.path, so this folder shadows the
# installed package; `analytics/`, `screens/` and `sample_data/` then sit beside it rather than
# inside it. Let the sub-packages resolve from the checkout in that case. In an installed
# package (or an editable install, which maps them explicitly) this does nothing.
_here = _Path(__file__).resolve().parent
_root = _here.parent
if not (_here / "analytics").is_dir() and (_root / "analytics" / "__init__.py").is_file() and (
    _root / "pyproject.toml"
).is_file():
    __path__.append(str(_root))  # noqa: F821  (module __path__)
