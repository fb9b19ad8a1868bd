"""Masking of personal data (emails and names) for display and export.

Every place that shows or writes customer emails or names goes through here, so one rule
holds everywhere unless the user started with ``--show-pii``:

* email: first character of the local part, ``***``, ``@``, first character of the domain,
  ``***`` and the top-level domain — ``john.doe@example.com`` → ``j***@e***.com``; a value
  that is not an address becomes ``***``;
* name: initials — ``Quinn Okafor`` → ``Q. O.``;
* nulls stay null (a missing value is not hidden data).

Vectorised Polars expressions; no Python loops over rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

__all__ = ["PII_COLUMNS", "mask_email", "mask_name", "mask_email_expr", "mask_name_expr", "mask_frame"]

#: Column names treated as personal data, with their masking rule.
PII_COLUMNS: dict[str, str] = {"email": "email", "name": "name"}

_EMAIL = r"^\s*(\S)[^@]*@(\S)[^@]*?(\.[^.@\s]+)\s*$"
_EMAIL_NO_TLD = r"^\s*(\S)[^@]*@(\S)[^@.]*\s*$"


def mask_email_expr(column: str | pl.Expr) -> pl.Expr:
    """``j***@e***.com`` for every address in ``column`` (``***`` when it is not an address)."""
    col = pl.col(column) if isinstance(column, str) else column
    col = col.cast(pl.String)
    return (
        pl.when(col.is_null()).then(None)
        .when(col.str.contains(_EMAIL)).then(col.str.replace(_EMAIL, "${1}***@${2}***${3}"))
        .when(col.str.contains(_EMAIL_NO_TLD)).then(col.str.replace(_EMAIL_NO_TLD, "${1}***@${2}***"))
        .otherwise(pl.lit("***"))
    )


def mask_name_expr(column: str | pl.Expr) -> pl.Expr:
    """Initials for every name in ``column``: ``Quinn Okafor`` → ``Q. O.``."""
    col = pl.col(column) if isinstance(column, str) else column
    col = col.cast(pl.String)
    initials = (
        col.str.strip_chars()
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0).str.slice(0, 1).str.to_uppercase() + ".")
        .list.join(" ")
    )
    return pl.when(col.is_null()).then(None).when(initials == "").then(pl.lit("***")).otherwise(initials)


def _one(value: str | None, expr_fn) -> str | None:  # noqa: ANN001
    if value is None:
        return None
    return pl.select(expr_fn(pl.lit(value, dtype=pl.String))).item()


def mask_email(value: str | None) -> str | None:
    """One email masked (see the module docstring)."""
    return _one(value, mask_email_expr)


def mask_name(value: str | None) -> str | None:
    """One name as initials (see the module docstring)."""
    return _one(value, mask_name_expr)


def mask_frame(frame: pl.DataFrame, *, show_pii: bool = False, columns: Iterable[str] | None = None) -> pl.DataFrame:
    """``frame`` with its personal columns masked, unless ``show_pii``.

    Args:
        frame: Any frame.
        show_pii: Return the frame unchanged (the user asked to see personal data).
        columns: Columns to mask; default those of :data:`PII_COLUMNS` present. A column
            named like an email (``email``) is masked as an email, any other as a name.
    """
    if show_pii:
        return frame
    names = [c for c in (columns if columns is not None else PII_COLUMNS) if c in frame.columns]
    if not names:
        return frame
    return frame.with_columns(
        (mask_email_expr(c) if PII_COLUMNS.get(c) == "email" or "email" in c else mask_name_expr(c)).alias(c)
        for c in names
    )
