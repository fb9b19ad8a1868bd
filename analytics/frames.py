"""Frame operations behind every table in the app: filter, sort and export.

Pure Polars, usable from a notebook or the CLI. The app's data table calls these on the
frame it shows; nothing here knows about the UI.

Filter language (one string, parts joined by ``and``; every part must hold):

* ``column op value`` with op one of ``= == != > >= < <= ~`` (``~`` is "contains",
  case-insensitive), e.g. ``revenue > 100``, ``status = returned``, ``name ~ shoe``;
  numbers compare numerically, dates and timestamps accept ``2024-01-31``;
* anything else is a case-insensitive literal substring searched in every text column.

CSV export neutralises spreadsheet formula injection: a text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written with a leading single quote
(OWASP's advice), and the result says how many cells were changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from .errors import ShopperError

__all__ = [
    "ExportResult",
    "FORMULA_PREFIXES",
    "export_frame",
    "filter_frame",
    "neutralise_formulas",
    "sort_frame",
]

#: Leading characters a spreadsheet may read as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"
_CONDITION = re.compile(r"^\s*(?P<col>[A-Za-z_][\w.]*)\s*(?P<op>==|!=|>=|<=|=|>|<|~)\s*(?P<value>.*?)\s*$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _literal(column: str, dtype: pl.DataType, raw: str) -> object:
    text = _unquote(raw)
    try:
        if dtype.is_integer() or dtype.is_float():
            return float(text.replace(",", ""))
        if dtype == pl.Boolean:
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError(text)
        if dtype == pl.Date:
            return date.fromisoformat(text)
        if isinstance(dtype, pl.Datetime):
            return datetime.fromisoformat(text)
    except ValueError:
        raise ShopperError(
            f"Filter: {text!r} is not a valid value for column '{column}' ({dtype}).",
            hint="Numbers like 100 or 12.5; dates like 2024-01-31.",
        ) from None
    return text


def _condition(df: pl.DataFrame, part: str) -> pl.Expr:
    match = _CONDITION.match(part)
    if match and match["col"] in df.columns:
        column, op, raw = match["col"], match["op"], match["value"]
        dtype = df.schema[column]
        col = pl.col(column)
        if op == "~":
            return col.cast(pl.String).str.to_lowercase().str.contains(_unquote(raw).lower(), literal=True)
        value = _literal(column, dtype, raw)
        if dtype == pl.String:
            col = col.str.strip_chars()
        if isinstance(dtype, pl.Datetime) and isinstance(value, datetime) and dtype.time_zone:
            col = col.dt.replace_time_zone(None)
        ops = {
            "=": col == value, "==": col == value, "!=": col != value,
            ">": col > value, ">=": col >= value, "<": col < value, "<=": col <= value,
        }
        return ops[op].fill_null(False)
    text_columns = [c for c, t in df.schema.items() if t in (pl.String, pl.Categorical) or t == pl.Enum]
    needle = _unquote(part.strip()).lower()
    if not text_columns:
        return pl.lit(False)
    return pl.any_horizontal(
        pl.col(c).cast(pl.String).str.to_lowercase().str.contains(needle, literal=True).fill_null(False)
        for c in text_columns
    )


def filter_frame(df: pl.DataFrame, query: str) -> pl.DataFrame:
    """Rows of ``df`` matching ``query`` (see the module docstring for the language).

    Args:
        df: Any frame.
        query: The filter text; blank returns ``df`` unchanged.

    Raises:
        ShopperError: A value does not fit its column's type.
    """
    parts = [p for p in _AND.split(query.strip()) if p.strip()]
    if not parts:
        return df
    return df.filter(pl.all_horizontal(_condition(df, p) for p in parts))


def sort_frame(df: pl.DataFrame, column: str, *, descending: bool = False) -> pl.DataFrame:
    """``df`` sorted by one column, nulls last, stable."""
    return df.sort(column, descending=descending, nulls_last=True, maintain_order=True)


def neutralise_formulas(df: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Prefix text cells a spreadsheet would run as a formula with ``'``.

    Returns:
        The changed frame and how many cells were prefixed.
    """
    text_columns = [c for c, t in df.schema.items() if t == pl.String]
    if not text_columns or df.is_empty():
        return df, 0
    risky = {c: pl.col(c).str.contains(_FORMULA_PATTERN).fill_null(False) for c in text_columns}
    count = int(df.select(pl.sum_horizontal(e.sum() for e in risky.values())).item())
    if count == 0:
        return df, 0
    return df.with_columns(
        pl.when(risky[c]).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text_columns
    ), count


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_frame` wrote."""

    path: Path
    format: Literal["csv", "parquet"]
    rows: int
    neutralised_cells: int

    def describe(self) -> str:
        text = f"Exported {self.rows:,} rows to {self.path} ({self.format.upper()})."
        if self.format == "csv":
            text += (
                f" {self.neutralised_cells:,} cell(s) starting with = + - @ were prefixed with ' "
                "so spreadsheets do not run them as formulas."
                if self.neutralised_cells
                else " No cell needed formula neutralising."
            )
        return text


def export_frame(
    df: pl.DataFrame, path: str | Path, *, format: Literal["csv", "parquet"] | None = None
) -> ExportResult:
    """Write ``df`` to CSV (formula-safe, see module docstring) or Parquet.

    Args:
        df: The frame to write.
        path: Target file; ``~`` is expanded and missing folders are created.
        format: "csv" or "parquet"; default from the suffix (CSV unless ``.parquet``/``.pq``).

    Raises:
        ShopperError: The file cannot be written.
    """
    target = Path(path).expanduser()
    fmt = format or ("parquet" if target.suffix.lower() in (".parquet", ".pq") else "csv")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            df.write_parquet(target)
            return ExportResult(target, "parquet", df.height, 0)
        safe, count = neutralise_formulas(df)
        safe.write_csv(target)
        return ExportResult(target, "csv", df.height, count)
    except OSError as exc:
        raise ShopperError(
            f"Cannot write '{target}': {exc.strerror or exc}.",
            hint="Choose a folder you can write to.",
        ) from exc
