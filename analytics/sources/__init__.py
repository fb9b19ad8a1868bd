"""Sources: where data comes from, read into raw frames before validation.

Every loader returns a :class:`RawSource`: one :class:`RawTable` per canonical table it found,
with columns already renamed to canonical names (values may still be strings) and a
``__line`` column giving the line (files) or document number (MongoDB) of each row, so the
validator can name file, column and line in its report.

Dispatch on the spec string:

* ``"sample"`` — the bundled sample data set;
* a folder — CSV / Parquet / JSON Lines files named after the canonical tables;
* a single ``.csv`` / ``.xlsx`` / ``.parquet`` file — one flat retail transactions export;
* ``mongodb://…`` / ``mongodb+srv://…`` — a MongoDB database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..errors import SourceUnavailable

__all__ = [
    "ProgressFn",
    "RawTable",
    "RawSource",
    "SourceKind",
    "source_kind",
    "default_name",
    "source_fingerprint",
    "load_source",
    "mask_uri",
    "bundled_sample_dir",
]

#: ``progress(step, fraction)``: step is a short label ("reading orders.csv"), fraction in
#: [0, 1] or None when unknown. It may raise :class:`~shopper_tui.analytics.errors.Cancelled`.
ProgressFn = Callable[[str, "float | None"], None]

SourceKind = str  # "sample" | "files" | "retail" | "mongodb"


def _no_progress(step: str, fraction: float | None = None) -> None:  # noqa: ARG001
    return None


@dataclass
class RawTable:
    """One table as read from a source, before validation.

    Attributes:
        name: Canonical table name.
        frame: Columns renamed to canonical names; values as read; plus ``__line``.
        origin: Where it came from, for messages ("orders.csv", "collection 'users'").
        encoding: The text encoding used when it was not UTF-8, else None.
    """

    name: str
    frame: pl.DataFrame
    origin: str
    encoding: str | None = None


@dataclass
class RawSource:
    """Everything a loader read.

    Attributes:
        kind: "sample", "files", "retail" or "mongodb".
        description: Human-readable, credentials masked.
        tables: Canonical table name → raw table.
        notes: Facts worth telling the user (date format detected, encoding fallback,
            files ignored, import mode).
        loader_rejects: Rows a loader could not turn into canonical rows at all, as a frame
            with columns table, origin, line, column, value, reason.
        extras: Non-canonical frames worth keeping (the sample's planted truth), stored in
            the workspace under their own names.
    """

    kind: SourceKind
    description: str
    tables: dict[str, RawTable]
    notes: list[str] = field(default_factory=list)
    loader_rejects: pl.DataFrame | None = None
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)


def bundled_sample_dir() -> Path:
    """The folder holding the bundled sample data set (package data)."""
    from ..sample_data_location import bundled_dir

    return bundled_dir()


def source_kind(spec: str | Path) -> SourceKind:
    """Classify a source spec without reading it."""
    s = str(spec)
    if s == "sample":
        return "sample"
    if s.startswith(("mongodb://", "mongodb+srv://")):
        return "mongodb"
    p = Path(s).expanduser()
    if p.is_dir():
        return "files"
    if p.is_file():
        return "retail"
    raise SourceUnavailable(
        f"Source not found: '{s}'. Give a folder of CSV/Parquet/JSON Lines files, one retail "
        "transactions file (.csv, .xlsx, .parquet), a mongodb:// URI, or 'sample'."
    )


_URI_PASSWORD = re.compile(r"(mongodb(?:\+srv)?://)([^:/@]+):([^@]*)@")


def mask_uri(uri: str) -> str:
    """Hide the password in a MongoDB URI: ``mongodb://u:secret@h`` → ``mongodb://u:***@h``."""
    return _URI_PASSWORD.sub(r"\1\2:***@", uri)


def default_name(spec: str | Path) -> str:
    """A workspace name derived from the source: "sample", the folder or file stem, the db name."""
    kind = source_kind(spec)
    if kind == "sample":
        return "sample"
    if kind == "mongodb":
        from .mongo import database_name

        return _slug(database_name(str(spec)))
    return _slug(Path(str(spec)).expanduser().resolve().stem)


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return slug or "data"


def source_fingerprint(spec: str | Path, *, collections: dict[str, str] | None = None) -> str:
    """A cheap fingerprint that changes when the source's content may have changed.

    Files: name, size and modification time of every file read. MongoDB: collection counts
    and newest ``_id`` (see :func:`shopper_tui.analytics.sources.mongo.fingerprint`).
    """
    kind = source_kind(spec)
    h = hashlib.sha256(kind.encode())
    if kind == "mongodb":
        from .mongo import fingerprint

        h.update(fingerprint(str(spec), collections=collections).encode())
        h.update(repr(sorted((collections or {}).items())).encode())
        return h.hexdigest()[:16]
    path = bundled_sample_dir() if kind == "sample" else Path(str(spec)).expanduser().resolve()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for f in files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load_source(
    spec: str | Path,
    *,
    progress: ProgressFn | None = None,
    collections: dict[str, str] | None = None,
    charge_codes: tuple[str, ...] = (),
) -> RawSource:
    """Read a source into raw frames.

    Args:
        spec: "sample", a folder, a retail file, or a MongoDB URI.
        progress: Called with (step, fraction) as reading advances.
        collections: MongoDB only: canonical role → collection name overrides
            (users, products, transactions, sessions, reviews).
        charge_codes: Stock codes that are charges besides the built-in list (a retail file
            keeps them out of its catalogue; the validator marks such lines of any source).

    Raises:
        ShopperError: The source cannot be read (not found, unreadable, unreachable).
    """
    progress = progress or _no_progress
    kind = source_kind(spec)
    if kind == "sample":
        from .files import load_folder

        raw = load_folder(bundled_sample_dir(), progress=progress)
        raw.kind = "sample"
        raw.description = "bundled sample data"
        return raw
    if kind == "files":
        from .files import load_folder

        return load_folder(Path(str(spec)).expanduser(), progress=progress)
    if kind == "retail":
        from .retail import load_retail_file

        return load_retail_file(Path(str(spec)).expanduser(), progress=progress, charge_codes=charge_codes)
    from .mongo import load_mongo

    return load_mongo(str(spec), progress=progress, collections=collections)
