"""Seeded sample data: a generator with planted structure and a small bundled data set.

Importing this package is cheap (no numpy, no Polars): the generator module is loaded only
when one of its names is first used, e.g. ``from shopper_tui.sample_data import generate``.
The bundled files live in ``bundled/`` (see :func:`shopper_tui.analytics.sample_data_location.bundled_dir`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .generator import SampleData, generate, generate_to, write

__all__ = ["SampleData", "generate", "generate_to", "write"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
