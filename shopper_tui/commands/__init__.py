"""Headless analysis commands (`shopper-tui segments`, `affinity`, `funnel`, …).

Each module here defines ``register(sub, common)`` which adds its sub-parser(s) with
``set_defaults(handler=...)``; a handler takes the parsed args and returns an exit code.
``common(parser)`` adds ``--source/--name/--data-dir/--cache-dir``. Handlers open the
workspace with :func:`open_for` (importing the source first if needed) and print with
:func:`emit`, which honours ``--format table|csv|json`` and ``--out FILE``.
Modules import the engine lazily inside handlers so start-up stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from ..analytics.workspace import Workspace

__all__ = ["DEFAULT_METHOD", "COMMAND_MODULES", "register_all", "open_for", "emit", "add_format_options", "labels_for", "note_guests",
           "emit_more"]

#: The segmentation every command uses unless told otherwise: the app's default
#: (``models.SegmentChoice().method``, checked by a test), so a segment named by one command is
#: the same segment in the others and in the app.
DEFAULT_METHOD = "kmeans"

#: Modules (in this package) that register commands. Add one line per new module.
COMMAND_MODULES: tuple[str, ...] = ("overview", "affinity", "recommend", "mongo", "funnels", "reviews", "segments")


def register_all(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    for name in COMMAND_MODULES:
        import_module(f"{__name__}.{name}").register(sub, common)


def add_format_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.add_argument("--out", type=Path, help="write to this file instead of standard output")


def open_for(args: argparse.Namespace) -> Workspace:
    """Import the source named by ``--source`` (default: the sample) if needed and open it."""
    from ..analytics.workspace import import_source, open_workspace
    from ..config import Settings

    settings = Settings.from_env(
        source=getattr(args, "source", None), name=getattr(args, "name", None),
        data_dir=getattr(args, "data_dir", None), cache_dir=getattr(args, "cache_dir", None),
    )
    result = import_source(settings.source, data_dir=settings.data_dir, name=settings.name,
                           collections=settings.collections or None, charge_codes=settings.charge_codes)
    if result.offline:
        print(f"shopper-tui: {result.offline}", file=sys.stderr)
    return open_workspace(result.path)


def emit_more(text: str, args: argparse.Namespace) -> None:
    """Text that follows a table :func:`emit` printed (the reconciliation, recommendation
    reasons): appended to ``--out`` when given, else printed."""
    out = getattr(args, "out", None)
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


def note_guests(ws: Workspace) -> None:
    """Say on standard error how many guest orders a per-customer analysis left out (nothing
    when there are none), so its totals can be reconciled with the Overview's."""
    from ..analytics.purchases import guest_share

    note = guest_share(ws).note()
    if note:
        print(f"shopper-tui: {note}.", file=sys.stderr)


def labels_for(ws: Workspace, args: argparse.Namespace, method: str) -> pl.DataFrame | None:
    """customer_id, segment_id, segment of ``method`` (None for ``"none"``): the app's cached
    segmentation, so a command names the same segments as the Segments screen."""
    if method == "none":
        return None
    from ..config import Settings
    from ..models import SegmentChoice, cached_segmentation, segment_labels

    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    choice = SegmentChoice(method, "rfm" if method == "rfm" else "both")
    return segment_labels(cached_segmentation(ws, settings, choice)).drop("probability")


def emit(frame: pl.DataFrame, args: argparse.Namespace, *, json_records: object | None = None) -> None:
    """Print or write a frame as a table, CSV or JSON (a list of row objects, or ``json_records``)."""
    import polars as pl

    fmt = getattr(args, "format", "table")
    if fmt == "csv":
        text = frame.write_csv()
    elif fmt == "json":
        text = json.dumps(json_records if json_records is not None else frame.to_dicts(), default=str, indent=2) + "\n"
    else:
        with pl.Config(tbl_rows=min(frame.height, 200), tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200,
                       tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            text = f"{frame}\n"
    out = getattr(args, "out", None)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {frame.height:,} rows to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
