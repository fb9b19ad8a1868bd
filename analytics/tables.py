"""What a workspace holds: facts about the file, per-table counts, previews.

Used by the Data screen and usable from a notebook. Personal columns (``TableSpec.pii``)
are masked in previews unless asked otherwise (:mod:`.pii`: ``j***@e***.com``, initials).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .pii import mask_frame
from .schema import TABLE_NAMES, TABLES
from .workspace import Workspace

__all__ = ["WorkspaceFacts", "workspace_facts", "table_summary", "table_preview"]


@dataclass(frozen=True)
class WorkspaceFacts:
    """Where a workspace came from and where it lives.

    Attributes:
        source: The source spec, credentials masked.
        kind: "sample", "files", "retail" or "mongodb".
        description: The loader's description of the source.
        path: The workspace file.
        display_path: ``path`` relative to the data folder when it is inside it.
        size_bytes: File size.
        imported_at: ISO timestamp (UTC) of the import.
    """

    source: str
    kind: str
    description: str
    path: Path
    display_path: str
    size_bytes: int
    imported_at: str


def workspace_facts(ws: Workspace, *, data_dir: Path | None = None) -> WorkspaceFacts:
    """Facts about ``ws``; ``display_path`` is relative to ``data_dir`` when possible."""
    display = str(ws.path)
    if data_dir is not None:
        try:
            display = str(ws.path.resolve().relative_to(Path(data_dir).expanduser().resolve()))
        except ValueError:
            pass
    return WorkspaceFacts(
        source=ws.meta.get("source", "?"),
        kind=ws.meta.get("kind", "?"),
        description=ws.meta.get("description", ""),
        path=ws.path,
        display_path=display,
        size_bytes=ws.path.stat().st_size if ws.path.exists() else 0,
        imported_at=ws.meta.get("imported_at", "?"),
    )


def table_summary(ws: Workspace) -> pl.DataFrame:
    """One row per canonical table: rows kept, rows read, rejected, whether the source had it.

    Returns:
        Frame with table, rows, read, rejected, present (bool), origin.
    """
    counts = ws.row_counts()
    report = ws.report
    present = ws.present
    rows = []
    for name in TABLE_NAMES:
        rep = report.tables.get(name)
        rows.append(
            {
                "table": name,
                "rows": counts[name],
                "read": rep.rows_read if rep else 0,
                "rejected": rep.rows_rejected if rep else 0,
                "present": name in present,
                "origin": rep.origin if rep else "",
            }
        )
    return pl.DataFrame(
        rows,
        schema={"table": pl.String, "rows": pl.Int64, "read": pl.Int64, "rejected": pl.Int64,
                "present": pl.Boolean, "origin": pl.String},
    )


def table_preview(ws: Workspace, table: str, *, limit: int = 1000, show_pii: bool = False) -> pl.DataFrame:
    """The first ``limit`` rows of a canonical table (or ``_rejects``), personal columns masked.

    Raises:
        ValueError: ``table`` is not a canonical table or ``_rejects``.
    """
    if table not in TABLES and table != "_rejects":
        raise ValueError(f"unknown table {table!r}")
    df = ws.sql(f'SELECT * FROM "{table}" LIMIT {int(limit)}')
    if table in TABLES:
        df = mask_frame(df, show_pii=show_pii, columns=TABLES[table].pii)
    return df
