"""Cohort retention: customers grouped by when they started, followed period by period.

Definitions (all in DuckDB SQL):

* **Purchases** are completed orders; revenue is Σ quantity × unit_price of their lines.
* **Cohort.** ``by="first_purchase"``: the calendar period (week starting Monday, month or
  quarter) of the customer's first completed order; only buyers belong to a cohort.
  ``by="signup"``: the period of ``customers.signup_ts``; customers without one are left out,
  customers who never bought stay in the cohort (size) and count as inactive.
* **Period N** = whole calendar periods between the cohort period and the purchase period
  (period 0 is the cohort's own period). Purchases dated before the cohort (before signup)
  are ignored. Cells run from period 0 to the last period with data (the period of the
  newest order), so the newest cohorts have the fewest periods; the last period may be
  incomplete.
* **Measures.** ``"customers"``: ``mode="on"`` counts cohort customers with a purchase in
  period N; ``mode="on_or_after"`` counts those with a purchase in period N or any later
  period ("still active"). rate = value / cohort size. ``"revenue"``: ``on`` is the cohort's
  revenue in period N, ``on_or_after`` its revenue from period N on; rate = value / the
  cohort's period-0 value (revenue retention; "on" can exceed 1, "on_or_after" starts at 1
  and falls).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from .errors import ShopperError
from .workspace import Workspace

__all__ = ["cohorts", "COHORT_BY", "PERIODS", "MEASURES", "RETENTION_MODES"]

COHORT_BY = ("first_purchase", "signup")
PERIODS = ("week", "month", "quarter")
MEASURES = ("customers", "revenue")
RETENTION_MODES = ("on", "on_or_after")


def _period_diff(period: str, a: str, b: str) -> str:
    """Whole periods from truncated date ``a`` to truncated date ``b``."""
    if period == "week":
        return f"(date_diff('day', {a}, {b}) // 7)"
    months = f"((year({b}) - year({a})) * 12 + month({b}) - month({a}))"
    return months if period == "month" else f"({months} // 3)"


def cohorts(
    ws: Workspace,
    *,
    by: Literal["first_purchase", "signup"] = "first_purchase",
    period: Literal["week", "month", "quarter"] = "month",
    measure: Literal["customers", "revenue"] = "customers",
    mode: Literal["on", "on_or_after"] = "on",
    labels: pl.DataFrame | None = None,
    segment: int | str | None = None,
) -> pl.DataFrame:
    """Cohort × period retention triangle (definitions in the module docstring).

    Args:
        ws: The workspace.
        by: Cohort by first purchase or by signup.
        period: Calendar period of cohorts and of N: week, month or quarter.
        measure: "customers" (retention) or "revenue" (revenue retention).
        mode: "on" (active in period N) or "on_or_after" (active in N or later).
        labels: customer_id → segment_id (and optional ``segment`` name) to filter by.
        segment: Keep only this segment's customers (its id, or its name in any case); needs labels.

    Returns:
        cohort (date: first day of the period), size (customers in the cohort), period (N),
        value, rate; one row per cell of the triangle, sorted by cohort then period. Empty
        when there are no purchases (or signups).

    Raises:
        ShopperError: Bad argument, no signup dates for ``by="signup"``, unknown segment.
    """
    for name, value, allowed in (("cohort basis", by, COHORT_BY), ("period", period, PERIODS),
                                 ("measure", measure, MEASURES), ("retention mode", mode, RETENTION_MODES)):
        if value not in allowed:
            raise ShopperError(f"Cohort {name} '{value}' is not supported; use one of {', '.join(allowed)}.")
    members = ""
    if segment is not None:
        if labels is None:
            raise ShopperError("Filtering cohorts by segment needs segment labels (customer_id → segment_id).")
        ids = labels["segment_id"].cast(pl.String)
        names = labels["segment"].cast(pl.String) if "segment" in labels.columns else ids
        keep = (ids == str(segment)) | (names.str.to_lowercase() == str(segment).lower())
        if not keep.any():
            raise ShopperError(f"Segment '{segment}' is not in the segment labels.")
        ws.cursor().register("_cohort_members", labels.filter(keep).select(pl.col("customer_id").cast(pl.String))
                             .to_arrow())
        members = "SEMI JOIN _cohort_members USING (customer_id)"
    if by == "signup":
        if not ws.sql("SELECT count(signup_ts) AS n FROM customers")["n"][0]:
            raise ShopperError("No customer has a signup date, so there are no signup cohorts.",
                               hint="Use cohorts by first purchase instead.")
        cohort_sql = (f"SELECT customer_id, date_trunc('{period}', signup_ts)::DATE AS cohort FROM customers "
                      f"{members} WHERE signup_ts IS NOT NULL")
    else:
        cohort_sql = (f"SELECT customer_id, date_trunc('{period}', min(ts))::DATE AS cohort FROM buys {members} "
                      "GROUP BY customer_id")
    amount = "count(DISTINCT customer_id)" if measure == "customers" else "sum(revenue)"
    if mode == "on":
        cell = f"SELECT cohort, period, {amount} AS v FROM act GROUP BY cohort, period"
    elif measure == "customers":  # active in N or later ⇔ last active period ≥ N
        cell = ("SELECT cohort, last_p AS period, count(*) AS v FROM "
                "(SELECT customer_id, cohort, max(period) AS last_p FROM act GROUP BY customer_id, cohort) "
                "GROUP BY cohort, last_p")
    else:
        cell = f"SELECT cohort, period, {amount} AS v FROM act GROUP BY cohort, period"
    value = "coalesce(c.v, 0)::DOUBLE"
    if mode == "on_or_after":  # sum this period and every later one
        value = (f"sum({value}) OVER (PARTITION BY g.cohort ORDER BY g.period DESC "
                 "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
    diff = _period_diff(period, "c.cohort", f"date_trunc('{period}', b.ts)::DATE")
    out = ws.sql(
        f"""
        WITH buys AS (  -- purchases with a customer (see .purchases)
            SELECT customer_id, ts, value AS revenue FROM purchases WHERE customer_id IS NOT NULL
        ),
        coh AS MATERIALIZED ({cohort_sql}),
        sizes AS (SELECT cohort, count(*) AS size FROM coh GROUP BY cohort),
        act AS (
            SELECT b.customer_id, c.cohort, {diff} AS period, b.revenue
            FROM buys b JOIN coh c USING (customer_id)
            WHERE {diff} >= 0
        ),
        last_period AS (SELECT date_trunc('{period}', max(ts))::DATE AS p FROM purchases),
        grid AS (
            SELECT s.cohort, s.size, unnest(range(0, {_period_diff(period, 's.cohort', 'l.p')} + 1)) AS period
            FROM sizes s CROSS JOIN last_period l
        ),
        cells AS ({cell}),
        vals AS (
            SELECT g.cohort, g.size, g.period, {value} AS value
            FROM grid g LEFT JOIN cells c ON c.cohort = g.cohort AND c.period = g.period
        )
        SELECT cohort, size, period::BIGINT AS period, value,
               {"value / size" if measure == "customers" else
                "value / nullif(first_value(value) OVER (PARTITION BY cohort ORDER BY period), 0)"} AS rate
        FROM vals
        ORDER BY cohort, period
        """
    )
    return out.with_columns(pl.col("size").cast(pl.Int64))
