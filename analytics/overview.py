"""Headline numbers for the Overview screen and `shopper-tui overview`.

Definitions (all in DuckDB SQL over the workspace):

* revenue: Σ quantity × unit_price over order lines of **completed** orders (cancelled and
  returned orders are counted separately, never in revenue);
* orders: completed orders; customers: customers with at least one completed order
  ("buyers") next to all customers on file;
* average order value: revenue / completed orders;
* repeat-purchase rate: share of buyers with two or more completed orders;
* date range: first and last order timestamp (any status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from .workspace import Workspace

__all__ = ["Kpis", "kpis", "revenue_over_time"]


@dataclass(frozen=True)
class Kpis:
    customers: int
    buyers: int
    orders: int
    cancelled_orders: int
    returned_orders: int
    revenue: float
    average_order_value: float
    repeat_purchase_rate: float
    first_order: datetime | None
    last_order: datetime | None
    sessions: int
    reviews: int


def kpis(ws: Workspace) -> Kpis:
    """Headline KPIs of a workspace (see the module docstring for definitions)."""
    row = ws.sql(
        """
        WITH lines AS (
            SELECT o.order_id, o.customer_id, sum(i.quantity * i.unit_price) AS value
            FROM orders o JOIN order_items i USING (order_id)
            WHERE o.status = 'completed'
            GROUP BY ALL
        ), per_customer AS (
            SELECT customer_id, count(*) AS n FROM lines GROUP BY customer_id
        )
        SELECT
            (SELECT count(*) FROM customers) AS customers,
            (SELECT count(*) FROM per_customer) AS buyers,
            (SELECT count(*) FROM orders WHERE status = 'completed') AS orders,
            (SELECT count(*) FROM orders WHERE status = 'cancelled') AS cancelled_orders,
            (SELECT count(*) FROM orders WHERE status = 'returned') AS returned_orders,
            (SELECT coalesce(sum(value), 0) FROM lines) AS revenue,
            (SELECT coalesce(avg(CASE WHEN n >= 2 THEN 1.0 ELSE 0.0 END), 0) FROM per_customer) AS repeat_rate,
            (SELECT min(ts) FROM orders) AS first_order,
            (SELECT max(ts) FROM orders) AS last_order,
            (SELECT count(DISTINCT session_id) FROM events) AS sessions,
            (SELECT count(*) FROM reviews) AS reviews
        """
    ).row(0, named=True)
    orders = int(row["orders"])
    revenue = float(row["revenue"])
    return Kpis(
        customers=int(row["customers"]),
        buyers=int(row["buyers"]),
        orders=orders,
        cancelled_orders=int(row["cancelled_orders"]),
        returned_orders=int(row["returned_orders"]),
        revenue=revenue,
        average_order_value=revenue / orders if orders else 0.0,
        repeat_purchase_rate=float(row["repeat_rate"]),
        first_order=row["first_order"],
        last_order=row["last_order"],
        sessions=int(row["sessions"]),
        reviews=int(row["reviews"]),
    )


def revenue_over_time(ws: Workspace, *, period: str = "month") -> pl.DataFrame:
    """Revenue and completed orders per period.

    Args:
        ws: The workspace.
        period: "day", "week" or "month" (DuckDB ``date_trunc`` unit).

    Returns:
        Frame with period (date), revenue (float), orders (int), sorted by period; periods
        with no completed order are present with zeros.
    """
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be day, week or month, not {period!r}")
    return ws.sql(
        f"""
        WITH per AS (
            SELECT date_trunc('{period}', o.ts)::DATE AS period,
                   sum(i.quantity * i.unit_price) AS revenue,
                   count(DISTINCT o.order_id) AS orders
            FROM orders o JOIN order_items i USING (order_id)
            WHERE o.status = 'completed'
            GROUP BY 1
        ), span AS (
            SELECT range::DATE AS period
            FROM range((SELECT min(period) FROM per), (SELECT max(period) FROM per) + INTERVAL 1 DAY,
                       INTERVAL 1 {period})
        )
        SELECT span.period, coalesce(per.revenue, 0)::DOUBLE AS revenue, coalesce(per.orders, 0)::BIGINT AS orders
        FROM span LEFT JOIN per USING (period)
        ORDER BY period
        """
    )
