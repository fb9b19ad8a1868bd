"""shopper-tui: understand your shoppers from the terminal."""

from __future__ import annotations

import os as _os
import sys as _sys
from pathlib import Path as _Path

__version__ = "0.1.0"

#: Polars' allocator (jemalloc) settings, read once when Polars is first imported: memory
#: freed is handed back to the system within 0.1 s (Polars' own default keeps it 0.5 s, then
#: 1 s more as "muzzy" pages that still count as the process's memory). A CSV import frees and
#: allocates gigabytes within seconds; at size L the full refresh from CSV peaked at 4.5 GB with
#: Polars' default and 3.7 GB with this, in the same time (benchmarks/results/README-performance.md).
#: Handing memory back at once (0 ms) cost 40 % more time in the funnels. A value the user set
#: is kept.
ALLOCATOR_SETTINGS = "dirty_decay_ms:100,muzzy_decay_ms:0"
if "polars" not in _sys.modules:
    _os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_SETTINGS)

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
