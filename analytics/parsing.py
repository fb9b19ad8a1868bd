"""Turning raw text columns into typed columns, with the format detected per file.

Real exports write dates as ISO (``2010-12-01 08:26:00``), US (``12/1/2010 8:26``) or
European (``01/12/2010 08:26``) text, ids as floats (``17850.0``) and numbers with stray
spaces. These helpers detect the format on a sample of the column, parse the whole column
with it in Polars (no Python row loops) and leave unparseable values as nulls for the
validator to report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

__all__ = ["DateParse", "parse_datetimes", "to_id_strings", "MISSING_ID_TOKENS", "to_integers", "to_floats", "as_text", "is_nested",
           "clean_text"]

_TIME_PARTS = ("%H:%M:%S", "%H:%M:%S%.f", "%H:%M")
_ISO = (
    [f"%Y-%m-%dT{t}Z" for t in _TIME_PARTS]
    + [f"%Y-%m-%dT{t}%z" for t in _TIME_PARTS]
    + [f"%Y-%m-%d {t}%z" for t in _TIME_PARTS]
    + [f"%Y-%m-%dT{t}" for t in _TIME_PARTS]
    + [f"%Y-%m-%d {t}" for t in _TIME_PARTS]
    + ["%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d"]
)
_US = [f"%m/%d/%Y {t}" for t in _TIME_PARTS] + ["%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y"]
_EU = (
    [f"%d/%m/%Y {t}" for t in _TIME_PARTS]
    + ["%d/%m/%Y", "%d/%m/%y %H:%M", "%d/%m/%y"]
    + [f"%d.%m.%Y {t}" for t in _TIME_PARTS]
    + ["%d.%m.%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d-%m-%y %H:%M", "%d-%m-%y"]
)
_FAMILY = {**{f: "ISO" for f in _ISO}, **{f: "US month/day/year" for f in _US}}
_FAMILY.update({f: "day/month/year" for f in _EU})
_SAMPLE = 2000
#: Years a timestamp in shop data plausibly has; a format reading the sample into these years
#: wins over one reading it into others (two-digit years read by %Y as the years 1–99).
_PLAUSIBLE = (1900, 2200)


@dataclass(frozen=True)
class DateParse:
    """How a date column was read.

    Attributes:
        formats: The strptime formats used, most common first (a column may mix e.g.
            ``%m/%d/%Y %H:%M`` and ``%m/%d/%Y``).
        family: "ISO", "US month/day/year", "day/month/year", "native" (already typed) or
            "epoch seconds"/"epoch milliseconds".
        ambiguous: True when day/month order could not be told apart (every day ≤ 12);
            month/day (US) is then assumed.
    """

    formats: tuple[str, ...]
    family: str
    ambiguous: bool = False

    def describe(self) -> str:
        text = f"{self.family} ({', '.join(self.formats)})" if self.formats else self.family
        if self.ambiguous:
            text += "; day and month could not be told apart, month/day assumed"
        return text


def is_nested(dtype: pl.DataType) -> bool:
    """True for list / array / struct columns (JSON objects and arrays, nested Parquet)."""
    return isinstance(dtype, (pl.List, pl.Array, pl.Struct))


def _py_text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    return str(v)


def as_text(s: pl.Series) -> pl.Series:
    """Any column as text, never raising: nested values as JSON, bytes decoded as UTF-8
    (bad bytes replaced), durations and other types Polars cannot cast by ``str()``."""
    if s.dtype == pl.String:
        return s
    if not is_nested(s.dtype) and s.dtype != pl.Binary:
        try:
            return s.cast(pl.String, strict=False)
        except pl.exceptions.PolarsError:
            pass
    return pl.Series(s.name, [_py_text(v) for v in s.to_list()], dtype=pl.String)


#: Largest magnitude of microseconds since 1970 a Datetime("us") holds (about year 294 000).
_MAX_US = 9.2e18


def _to_datetime_us(s: pl.Series) -> pl.Series:
    """A Date / Datetime column as Datetime("us"); values out of its range become null (a
    plain cast raises, or for dates panics, on them)."""
    name = s.name
    if getattr(s.dtype, "time_zone", None):
        s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if s.dtype == pl.Date:
        per_unit = 86_400_000_000
    else:
        per_unit = {"ns": 0.001, "us": 1, "ms": 1000}[s.dtype.time_unit]  # type: ignore[union-attr]
    phys = s.to_physical().cast(pl.Float64) * per_unit
    ok = phys.is_finite() & (phys.abs() < _MAX_US)
    us = pl.select(pl.when(ok).then(phys).otherwise(None)).to_series().cast(pl.Int64)
    return us.cast(pl.Datetime("us")).alias(name)


def _parse_expr(e: pl.Expr, fmt: str) -> pl.Expr:
    if "%z" in fmt:
        return e.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us").dt.replace_time_zone(None)
    if fmt.endswith("Z"):
        return e.str.to_datetime(fmt, strict=False, time_unit="us")
    if fmt in ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%Y", "%d-%m-%Y", "%d-%m-%y",
               "%Y/%m/%d", "%Y%m%d"):
        return e.str.to_date(fmt, strict=False).cast(pl.Datetime("us"))
    return e.str.to_datetime(fmt, strict=False, time_unit="us")


def _first_distinct(s: pl.Series, n: int) -> pl.Series:
    """The first ``n`` distinct non-null values in order of appearance. They are looked for in
    a growing prefix: the unique values of 16 M timestamps took 4 s, of their first 8 000 a few
    milliseconds, and the answer is the same once a prefix holds ``n`` distinct values."""
    values = s.drop_nulls()
    size = 4 * n
    while True:
        head = values.head(size).unique(maintain_order=True)
        if head.len() >= n or size >= values.len():
            return head.head(n)
        size *= 8


#: Columns longer than this are parsed in slices, one per core (Polars parses one column on
#: one thread: 16 M ISO timestamps took 4.1 s, in two slices on 2 cores 2.0 s).
_PARALLEL_ROWS = 1_000_000


def _per_slice(s: pl.Series, expr: Callable[[pl.Expr], pl.Expr]) -> list[pl.Series]:
    """``expr`` (on the column) computed on one slice of it per core at once, one slice when
    the column is short: Polars runs an expression on one column on one thread. The column goes
    by a fixed name, as pl.col() would read a name like "^x$" as a pattern."""
    parts = max(1, min(pl.thread_pool_size(), len(s) // _PARALLEL_ROWS))
    size = -(-len(s) // parts)
    frames = pl.collect_all([s.slice(i * size, size).alias("v").to_frame().lazy().select(expr(pl.col("v")))
                             for i in range(parts)])
    return [f.to_series() for f in frames]


def any_row(s: pl.Series, test: Callable[[pl.Expr], pl.Expr]) -> bool:
    """Whether ``test`` (an expression on the column) is true for any row; nulls count as false."""
    return any(bool(part.item()) for part in _per_slice(s, lambda e: test(e).any()))


def _parse_with(s: pl.Series, fmt: str) -> pl.Series:
    """``s`` parsed with ``fmt``, in one piece (chunk) like the columns it joins (see
    ``sources.files._in_one_piece``)."""
    parts = _per_slice(s, lambda e: _parse_expr(e, fmt))
    return (parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=True)).alias(s.name)


def parse_datetimes(s: pl.Series) -> tuple[pl.Series, DateParse]:
    """Parse a column of timestamps, detecting the text format on a sample.

    Every candidate format (ISO, US, European, with or without time / seconds / fraction /
    zone) is tried on up to 2 000 distinct values; formats are kept greedily while they
    parse values the earlier ones did not, so a column mixing ``12/1/2010 8:26`` and
    ``12/1/2010`` reads fully. Zoned values are converted to UTC and made naive. Values no
    chosen format parses become null (the validator reports them).

    Returns:
        The parsed ``Datetime("us")`` series (same name) and how it was parsed.
    """
    name = s.name
    if isinstance(s.dtype, pl.Datetime) or s.dtype == pl.Date:
        return _to_datetime_us(s), DateParse((), "native")
    if is_nested(s.dtype):  # a JSON object / array is not a timestamp
        return pl.Series(name, [None] * len(s), dtype=pl.Datetime("us")), DateParse((), "unrecognised")
    if s.dtype.is_numeric():
        v = s.cast(pl.Float64)
        v = pl.select(pl.when(v.is_finite()).then(v).otherwise(None)).to_series()
        big = v.drop_nulls().abs().median() or 0
        # values too large for the unit chosen (and NaN / inf) become null: reported as unparseable
        scale, family = (1000, "epoch milliseconds") if big > 1e11 else (1_000_000, "epoch seconds")
        us = v * scale
        us = pl.select(pl.when(us.abs() < _MAX_US).then(us).otherwise(None)).to_series()
        return us.cast(pl.Int64).cast(pl.Datetime("us")).alias(name), DateParse((), family)
    text = clean_text(as_text(s)).alias(name)  # the column itself when it is clean: no copy
    sample = _first_distinct(text, _SAMPLE)
    if sample.len() == 0:
        return pl.Series(name, [None] * len(s), dtype=pl.Datetime("us")), DateParse((), "empty")
    epoch = r"^\d{9,10}(\.\d+)?$|^\d{12,13}$"
    if sample.str.contains(epoch).any():
        # epoch seconds / milliseconds written as text (CSV exports of event logs); 8 digits
        # stay with the %Y%m%d formats below. Values that are not epoch numbers are read by
        # the text formats, so a stray bad value does not make the whole column unreadable
        is_epoch = text.str.contains(epoch)
        numbers = pl.select(pl.when(is_epoch).then(text)).to_series().cast(pl.Float64, strict=False).alias(name)
        parsed, how = parse_datetimes(numbers)
        rest = pl.select(pl.when(~is_epoch).then(text)).to_series().alias(name)
        if not rest.drop_nulls().len():
            return parsed, how
        other, other_how = parse_datetimes(rest)
        if other_how.family in ("unrecognised", "empty"):
            return parsed, how
        return (parsed.fill_null(other).alias(name),
                DateParse(other_how.formats, f"{how.family} + {other_how.family}", other_how.ambiguous))
    remaining = sample
    chosen: list[str] = []
    candidates = _ISO + _US + _EU
    while remaining.len() and len(chosen) < 4:
        best, best_hits = None, (0, 0)
        for fmt in candidates:
            if fmt in chosen:
                continue
            parsed = _parse_with(remaining, fmt)
            # values read as a plausible year count first: "09/10/01" is 10 Sep 2001 (%m/%d/%y),
            # not 1 Oct of the year 9 (%Y/%m/%d), although both formats accept it
            year = parsed.dt.year()
            hits = (int(((year >= _PLAUSIBLE[0]) & (year <= _PLAUSIBLE[1])).sum()), int(parsed.is_not_null().sum()))
            # a format that reads every value into the years 1-99 is a two-digit year taken for a
            # four-digit one: "16-01-17" is not 17 January of the year 16 (no format left: the
            # values are reported as unparseable). Old years such as 1850 are still read.
            two_digit = bool(hits[1]) and bool((year.drop_nulls() < 100).all())
            if hits[1] and not two_digit and hits > best_hits:
                best, best_hits = fmt, hits
        if best is None:
            break
        chosen.append(best)
        remaining = remaining.filter(_parse_with(remaining, best).is_null())
    if not chosen:
        return pl.Series(name, [None] * len(s), dtype=pl.Datetime("us")), DateParse((), "unrecognised")
    families = {_FAMILY[f] for f in chosen}
    ambiguous = False
    if "US month/day/year" in families:
        # Would day/month have read the sample as well? Then the order is ambiguous.
        eu_twins = [f.replace("%m/%d", "%d/%m") for f in chosen if _FAMILY[f] == "US month/day/year"]
        ambiguous = all(_parse_with(sample, f).is_not_null().sum() >= _parse_with(sample, u).is_not_null().sum()
                        for f, u in zip(eu_twins, [c for c in chosen if _FAMILY[c] == "US month/day/year"]))
    out = _parse_with(text, chosen[0])
    for fmt in chosen[1:]:
        if not out.null_count():
            break
        out = out.fill_null(_parse_with(text, fmt))
    family = " + ".join(sorted(families))
    return out.alias(name), DateParse(tuple(chosen), family, ambiguous)


def clean_text(s: pl.Series) -> pl.Series:
    """Text stripped of surrounding white space, empty text as null. When nothing changes the
    column itself comes back, sharing its buffers: a clean 16 M-row export is not copied."""
    # a test with a yes / no per row: stripping every value to compare held a stripped copy of
    # the column (0.3 GB at 16 M rows). \s is the white space strip_chars() strips (Unicode's)
    if not any_row(s, lambda e: e.str.contains(r"^\s|\s$") | (e == "")):
        return s
    stripped = s.str.strip_chars()
    if (stripped == "").any():
        v = pl.col("v")
        stripped = stripped.to_frame("v").select(pl.when(v == "").then(None).otherwise(v)).to_series()
    return stripped.alias(s.name)


#: What exports write for a missing customer (R's NA, Excel's #N/A, pandas' NaN, SQL's NULL):
#: no customer, not a customer. Treating "NA" as one made one customer of every guest order.
#: Only customer ids are read so; a product or order may really be coded "NA".
MISSING_ID_TOKENS = ("NA", "N/A", "#N/A", "NULL", "null", "None", "nan", "NaN")


def to_id_strings(s: pl.Series, *, missing: tuple[str, ...] = ()) -> pl.Series:
    """Identifiers as strings: integral floats lose their ``.0`` (``17850.0`` → ``"17850"``),
    text is stripped, empty text and the spellings in ``missing`` (e.g.
    :data:`MISSING_ID_TOKENS`, for customer ids) become null."""
    name = s.name
    if is_nested(s.dtype):
        return pl.Series(name, [None] * len(s), dtype=pl.String)
    if s.dtype.is_float():
        integral = s.is_not_null() & (s == s.round(0)) & s.is_finite()
        as_int = pl.select(pl.when(integral).then(s.cast(pl.Int64, strict=False).cast(pl.String))
                           .when(s.is_finite()).then(s.cast(pl.String))
                           .otherwise(None)).to_series()  # NaN is not an id
        return as_int.alias(name)
    if s.dtype.is_integer():
        return s.cast(pl.String).alias(name)
    t = clean_text(as_text(s))
    if missing and any_row(t, lambda e: e.is_in(missing)):
        t = pl.select(pl.when(t.is_in(missing)).then(None).otherwise(t)).to_series().alias(name)
    if not any_row(t, lambda e: e.str.ends_with("0") & e.str.contains(".", literal=True)):
        return t.alias(name)  # no "17850.0": the regex below took 0.25 s per 16 M ids
    integral = t.str.contains(r"^-?\d+\.0+$")
    if integral.any():
        t = pl.select(pl.when(integral).then(t.str.replace(r"\.0+$", "")).otherwise(t)).to_series()
    return t.alias(name)


def to_floats(s: pl.Series) -> pl.Series:
    """Numbers as Float64; text is stripped and a lone thousands separator-free comma decimal
    (``"2,55"``) is read as ``2.55``. Unparseable text, NaN and infinities (``"1e999"``,
    ``"inf"``) become null."""
    name = s.name
    if is_nested(s.dtype):
        return pl.Series(name, [None] * len(s), dtype=pl.Float64)
    if s.dtype.is_numeric():
        f = s.cast(pl.Float64)
    else:
        t = as_text(s).str.strip_chars()
        t = pl.select(pl.when(t.str.contains(r"^-?\d+,\d+$")).then(t.str.replace(",", ".")).otherwise(t)).to_series()
        f = t.cast(pl.Float64, strict=False)
    return pl.select(pl.when(f.is_finite()).then(f).otherwise(None)).to_series().alias(name)


def to_integers(s: pl.Series, dtype: pl.DataType = pl.Int64()) -> pl.Series:
    """Whole numbers; non-integral values (``1.5``) and unparseable text become null."""
    f = to_floats(s)
    ok = f.is_not_null() & f.is_finite() & (f == f.round(0))
    lo, hi = (-(2**31), 2**31 - 1) if dtype == pl.Int32 else ((-128, 127) if dtype == pl.Int8 else (-(2**62), 2**62))
    ok = ok & (f >= lo) & (f <= hi)
    return pl.select(pl.when(ok).then(f).otherwise(None).cast(dtype)).to_series().alias(s.name)
