"""Recency / frequency / monetary per customer, in the two definitions analysts use.

**What counts as a purchase** (both definitions): a row of the workspace's ``purchases``
view with a customer id — a completed order with at least one sold line (quantity > 0, unit
price ≥ 0, zero-priced lines included), valued at Σ quantity × unit price over its sold lines,
products and charges alike (the rules are in :mod:`.purchases`). Cancelled and returned
orders, adjustments (quantity ≤ 0 or a negative price) and guest orders (no customer) are
left out; an order none of whose lines is sold is not a purchase. Customers on file without
a completed purchase do **not** appear in either RFM frame (they have no age and no last
purchase); :mod:`.features` gives them explicit fill values and a ``has_purchase`` flag.

**lifetimes definition** (:func:`rfm_lifetimes`), identical to
``lifetimes.utils.summary_data_from_transaction_data(tx, "customer_id", "ts",
monetary_value_col="value", observation_period_end=..., freq=...)`` fed with
:func:`purchases`:

* every timestamp is floored to its period (``freq="D"``: the calendar day; ``"W"``: the
  week starting Monday; ``"h"``: the hour) and purchases in the same period are summed
  into one;
* the observation end defaults to the latest purchase timestamp, floored to its period;
  purchases in periods after it are dropped;
* ``frequency`` = number of purchase periods − 1 (repeat periods);
* ``recency`` = last purchase period − first purchase period, in periods;
* ``T`` = observation end − first purchase period, in periods;
* ``monetary_value`` = mean of the per-period totals **excluding the first period**, 0 when
  ``frequency`` is 0.

**marketing definition** (:func:`rfm_marketing`): ``recency_days`` = whole days from the
last purchase's date to the observation end's date (0 = bought on the last day), ``orders``
= number of completed orders, ``spend`` = their total value; quintile scores and the named
R×F grid (see :func:`quintile_scores` and :func:`rfm_grid_segment`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import polars as pl

from .errors import ShopperError

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "RFM_GRID",
    "RFM_GRID_NAMES",
    "purchases",
    "rfm_lifetimes",
    "rfm_marketing",
    "quintile_scores",
    "rfm_grid_segment",
    "rfm_grid_expr",
]

_FREQ: dict[str, tuple[str, float]] = {
    # lifetimes freq → (Polars truncation unit, period length in microseconds)
    "D": ("1d", 86_400e6),
    "W": ("1w", 7 * 86_400e6),
    "h": ("1h", 3_600e6),
}

PURCHASES_SQL = """
SELECT order_id, customer_id, ts, value FROM purchases WHERE customer_id IS NOT NULL
"""

_PURCHASE_SCHEMA = {"order_id": pl.String(), "customer_id": pl.String(), "ts": pl.Datetime("us"), "value": pl.Float64()}

#: The R×F grid, keyed by (R score, F score). It is the widely used 10-cell map
#: (``[1-2][1-2]`` hibernating, ``[1-2][3-4]`` at risk, ``[1-2]5`` can't lose, ``3[1-2]`` about
#: to sleep, ``33`` need attention, ``[3-4][4-5]`` loyal, ``41`` promising, ``51`` new,
#: ``[4-5][2-3]`` potential loyalists, ``5[4-5]`` champions) with "lost" carved out of
#: hibernating as its bottom cell (R = 1 and F = 1).
RFM_GRID: dict[tuple[int, int], str] = {}
for _r in range(1, 6):
    for _f in range(1, 6):
        if _r <= 2:
            _name = "Hibernating" if _f <= 2 else ("At risk" if _f <= 4 else "Can't lose")
            if (_r, _f) == (1, 1):
                _name = "Lost"
        elif _r == 3:
            _name = "About to sleep" if _f <= 2 else ("Need attention" if _f == 3 else "Loyal")
        elif _r == 4:
            _name = "Promising" if _f == 1 else ("Potential loyalists" if _f <= 3 else "Loyal")
        else:
            _name = "New" if _f == 1 else ("Potential loyalists" if _f <= 3 else "Champions")
        RFM_GRID[(_r, _f)] = _name
del _r, _f, _name

#: Grid names from best to worst, the order the Segments screen lists them in.
RFM_GRID_NAMES: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)


def purchases(ws: Workspace) -> pl.DataFrame:
    """Completed purchases, one row per order: order_id, customer_id, ts, value.

    See the module docstring for what is excluded. This is exactly the transaction log
    :func:`rfm_lifetimes` works on, so it can be handed to lifetimes for comparison.
    """
    return ws.sql(PURCHASES_SQL)


def _purchase_frame(ws_or_frame: Workspace | pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    if isinstance(ws_or_frame, (pl.DataFrame, pl.LazyFrame)):
        lf = ws_or_frame.lazy()
        missing = {"customer_id", "ts", "value"} - set(lf.collect_schema().names())
        if missing:
            raise ShopperError(
                f"RFM needs a transaction frame with customer_id, ts and value; missing {', '.join(sorted(missing))}.",
                hint="Pass a workspace, or the frame returned by rfm.purchases(ws).",
            )
        return lf.filter(pl.col("customer_id").is_not_null()).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    return purchases(ws_or_frame).lazy()


def _as_datetime(value: date | datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ShopperError(f"observation_end {value!r} is not a date (use YYYY-MM-DD).") from exc


def _end_expr(observation_end: date | datetime | str | None, unit: str) -> pl.Expr:
    if observation_end is None:
        return pl.col("ts").max().dt.truncate(unit)
    return pl.lit(_as_datetime(observation_end), dtype=pl.Datetime("us")).dt.truncate(unit)


def rfm_lifetimes(
    ws_or_frame: Workspace | pl.DataFrame | pl.LazyFrame,
    *,
    observation_end: date | datetime | str | None = None,
    freq: str = "D",
) -> pl.DataFrame:
    """RFM in the lifetimes definition (BG/NBD, Gamma-Gamma inputs).

    Identical to ``lifetimes.utils.summary_data_from_transaction_data(purchases,
    "customer_id", "ts", monetary_value_col="value", observation_period_end=observation_end,
    freq=freq)``; the definition is spelled out in the module docstring.

    Args:
        ws_or_frame: A workspace, or a transaction frame with customer_id, ts, value (one row
            per purchase, already restricted to completed purchases, e.g. :func:`purchases`).
        observation_end: End of the study; default the latest purchase. Floored to ``freq``.
        freq: Period: "D" (days), "W" (weeks starting Monday) or "h" (hours).

    Returns:
        customer_id, frequency, recency, T, monetary_value (all Float64, like lifetimes),
        one row per customer with a purchase on or before the end, sorted by customer_id.
    """
    if freq not in _FREQ:
        raise ShopperError(f"RFM period {freq!r} is not supported; use one of {', '.join(_FREQ)}.")
    end = None if observation_end is None else _as_datetime(observation_end)
    if isinstance(ws_or_frame, (pl.DataFrame, pl.LazyFrame)):
        return _lifetimes_from_frame(ws_or_frame, end=end, freq=freq)
    return _lifetimes_in_sql(ws_or_frame, end=end, freq=freq)


# Both paths sum purchases per customer and period, then make one pass per customer:
# frequency = periods − 1, recency = last − first, T = end − first, and the mean of the repeat
# periods as (total − first period's total) / (periods − 1): a single aggregation, no window
# over the periods (the same numbers as lifetimes up to float rounding, ~1e-13).
def _lifetimes_from_frame(frame: pl.DataFrame | pl.LazyFrame, *, end: datetime | None, freq: str) -> pl.DataFrame:
    unit, period_us = _FREQ[freq]
    periods = (
        _purchase_frame(frame)
        .group_by("customer_id", period=pl.col("ts").dt.truncate(unit))
        .agg(pl.col("value").sum())
    )
    if end is not None:
        end_lit = pl.lit(end, dtype=pl.Datetime("us")).dt.truncate(unit)
        periods = periods.filter(pl.col("period") <= end_lit)

    def span(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return (a - b).dt.total_microseconds().cast(pl.Float64) / period_us

    out = (
        periods.group_by("customer_id")
        .agg(
            n=pl.len(),
            first=pl.col("period").min(),
            last=pl.col("period").max(),
            total=pl.col("value").sum(),
            first_value=pl.col("value").get(pl.col("period").arg_min()),
        )
        .select(
            "customer_id",
            frequency=(pl.col("n") - 1).cast(pl.Float64),
            recency=span(pl.col("last"), pl.col("first")),
            T=span(pl.col("last").max() if end is None else end_lit, pl.col("first")),
            monetary_value=pl.when(pl.col("n") > 1)
            .then((pl.col("total") - pl.col("first_value")) / (pl.col("n") - 1))
            .otherwise(0.0)
            .cast(pl.Float64),
        )
        .sort("customer_id")
    )
    return out.collect()


def _lifetimes_in_sql(ws: Workspace, *, end: datetime | None, freq: str) -> pl.DataFrame:
    """The whole computation inside DuckDB: only one row per customer leaves it."""
    trunc = {"D": "day", "W": "week", "h": "hour"}[freq]
    period_us = _FREQ[freq][1]
    end_sql = f"date_trunc('{trunc}', $1::TIMESTAMP)" if end is not None else "max(last) OVER ()"
    out = ws.sql(
        f"""
        WITH periods AS (
            SELECT customer_id, date_trunc('{trunc}', ts)::TIMESTAMP AS period, sum(value)::DOUBLE AS value
            FROM purchases WHERE customer_id IS NOT NULL
            GROUP BY 1, 2
        ),
        customers AS (
            SELECT customer_id, count(*) AS n, min(period) AS first, max(period) AS last,
                   sum(value) AS total, arg_min(value, period) AS first_value
            FROM periods
            {f"WHERE period <= date_trunc('{trunc}', $1::TIMESTAMP)" if end is not None else ""}
            GROUP BY customer_id
        )
        SELECT customer_id,
               (n - 1)::DOUBLE AS frequency,
               (epoch_us(last) - epoch_us(first))::DOUBLE / {period_us} AS recency,
               (epoch_us({end_sql}) - epoch_us(first))::DOUBLE / {period_us} AS "T",
               CASE WHEN n > 1 THEN (total - first_value) / (n - 1) ELSE 0.0 END AS monetary_value
        FROM customers
        ORDER BY customer_id
        """,
        [end] if end is not None else None,
    )
    return out.with_columns(pl.col("customer_id").cast(pl.String))


def quintile_scores(values: pl.Expr, *, higher_is_better: bool = True) -> pl.Expr:
    """Score 1–5 from a column, with ties handled deterministically.

    ``score = 1 + ⌊5 · p⌋`` where ``p`` is the share of customers whose value is strictly
    worse. Equal values therefore always get the same score (no dependence on row order),
    the best value gets the highest score the ties allow, and a heavily tied value (say
    40 % of buyers with one order) takes the lowest score of its whole block rather than
    being split arbitrarily across two scores, so some scores can be empty.

    Args:
        values: The column (expression).
        higher_is_better: False for recency in days (fewer days = better = higher score).
    """
    v = values if higher_is_better else -values
    worse = v.rank(method="min") - 1
    return ((worse * 5 / v.count()).floor() + 1).clip(1, 5).cast(pl.Int8)  # keeps the column's name


def rfm_grid_expr(r: pl.Expr, f: pl.Expr) -> pl.Expr:
    """Polars expression mapping R and F score columns to the grid name (see :data:`RFM_GRID`)."""
    key = r.cast(pl.Int32) * 10 + f.cast(pl.Int32)
    return key.replace_strict({rr * 10 + ff: name for (rr, ff), name in RFM_GRID.items()}, default=None, return_dtype=pl.String)


def rfm_grid_segment(r: int, f: int) -> str:
    """The named grid cell for an R score and an F score (each 1–5).

    The map (R, F → name), best to worst: champions R5 F4–5; loyal R3–4 F4–5; potential
    loyalists R4–5 F2–3; new R5 F1; promising R4 F1; need attention R3 F3; about to sleep
    R3 F1–2; at risk R1–2 F3–4; can't lose R1–2 F5; hibernating R1–2 F1–2 except lost R1 F1.

    Raises:
        ValueError: A score outside 1–5.
    """
    try:
        return RFM_GRID[(int(r), int(f))]
    except KeyError:
        raise ValueError(f"RFM scores must be 1–5, got R={r}, F={f}") from None


def rfm_marketing(
    ws_or_frame: Workspace | pl.DataFrame | pl.LazyFrame,
    *,
    observation_end: date | datetime | str | None = None,
) -> pl.DataFrame:
    """RFM in the marketing definition, with quintile scores and the named grid.

    Args:
        ws_or_frame: A workspace, or a purchase frame (customer_id, ts, value; order_id
            optional, each row counts as one order without it).
        observation_end: Reference date; default the latest purchase. Purchases after the
            reference date's day are ignored.

    Returns:
        customer_id, recency_days (Int64, days from the last purchase's date to the
        reference date), orders (Int64), spend (Float64), r_score, f_score, m_score (Int8,
        1–5, R inverted; see :func:`quintile_scores`), rfm_cell ("R F M" digits, e.g.
        "545"), segment (grid name from R and F); buyers only, sorted by customer_id.
    """
    lf = _purchase_frame(ws_or_frame)
    if "order_id" not in lf.collect_schema().names():
        lf = lf.with_row_index("order_id").with_columns(pl.col("order_id").cast(pl.String))
    out = (
        lf.with_columns(day=pl.col("ts").dt.truncate("1d"), end=_end_expr(observation_end, "1d"))
        .filter(pl.col("day") <= pl.col("end"))
        .group_by("customer_id")
        .agg(
            last=pl.col("day").max(),
            end=pl.col("end").first(),
            orders=pl.col("order_id").n_unique().cast(pl.Int64),
            spend=pl.col("value").sum().cast(pl.Float64),
        )
        .select(
            "customer_id",
            recency_days=(pl.col("end") - pl.col("last")).dt.total_days().cast(pl.Int64),
            orders="orders",
            spend="spend",
        )
        .with_columns(
            r_score=quintile_scores(pl.col("recency_days"), higher_is_better=False),
            f_score=quintile_scores(pl.col("orders")),
            m_score=quintile_scores(pl.col("spend")),
        )
        .with_columns(
            rfm_cell=pl.concat_str(pl.col("r_score"), pl.col("f_score"), pl.col("m_score")),
            segment=rfm_grid_expr(pl.col("r_score"), pl.col("f_score")),
        )
        .sort("customer_id")
    )
    return out.collect()
