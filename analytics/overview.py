"""Headline numbers for the Overview screen and `shopper-tui overview`.

Definitions (DuckDB SQL over the workspace's purchase views, see :mod:`.purchases`):

* orders: purchases (completed orders with at least one sold line), guest orders included;
* revenue: Σ quantity × unit price over the purchases' sold lines, products and charges alike;
  ``charge_revenue`` is the charges' part, ``guest_revenue`` the guest orders' part;
* net revenue: revenue plus adjustments (quantity ≤ 0 or a negative price on a completed
  order: stock corrections, discounts, bad debt, as signed in the file) plus the credit lines
  (negative quantity × price) of cancelled and returned orders — a retail "C" invoice reverses
  an earlier sale; a cancelled order kept with positive lines was never in revenue;
* customers: customers with a purchase ("buyers") next to all customers on file;
* average order value: revenue / orders;
* repeat-purchase rate: share of buyers with two or more purchases;
* first / last day: of the purchases;
* the reconciliation (:func:`.purchases.reconcile`): every order line read, by kind, adding
  up to the lines read and to the file's Σ quantity × unit price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from .purchases import Reconciliation, reconcile
from .workspace import Workspace

__all__ = ["Kpis", "kpis", "revenue_over_time", "overview_dict"]


@dataclass(frozen=True)
class Kpis:
    """The Overview's figures (definitions in the module docstring)."""

    customers: int
    buyers: int
    orders: int
    cancelled_orders: int
    returned_orders: int
    revenue: float
    net_revenue: float
    charge_revenue: float
    guest_orders: int
    guest_revenue: float
    average_order_value: float
    repeat_purchase_rate: float
    first_order: datetime | None
    last_order: datetime | None
    sessions: int
    reviews: int
    reconciliation: Reconciliation


def kpis(ws: Workspace) -> Kpis:
    """Headline KPIs of a workspace (see the module docstring for definitions)."""
    # the purchases view is read once: one pass for the totals, buyers and repeat rate
    row = ws.sql(
        """
        WITH p AS MATERIALIZED (SELECT customer_id, value, charge_value, ts FROM purchases),
        per_customer AS (
            SELECT customer_id, count(*) AS n FROM p WHERE customer_id IS NOT NULL GROUP BY customer_id
        ), totals AS (
            SELECT count(*) AS orders, coalesce(sum(value), 0)::DOUBLE AS revenue,
                   coalesce(sum(charge_value), 0)::DOUBLE AS charge_revenue,
                   count(*) FILTER (WHERE customer_id IS NULL) AS guest_orders,
                   coalesce(sum(value) FILTER (WHERE customer_id IS NULL), 0)::DOUBLE AS guest_revenue,
                   min(ts) AS first_order, max(ts) AS last_order
            FROM p
        ), other_lines AS (
            -- every line that is not sold: adjustments as signed in the file, and credit lines
            -- (negative value) of cancelled / returned orders, such as a retail "C" invoice
            -- reversing an earlier sale. A cancelled order kept with positive lines was never
            -- in revenue, so it takes nothing off it.
            SELECT CASE WHEN o.status = 'completed' THEN i.quantity * i.unit_price
                        ELSE least(i.quantity * i.unit_price, 0) END AS value
            FROM orders o JOIN order_items i USING (order_id)
            WHERE NOT (o.status = 'completed' AND i.quantity > 0 AND i.unit_price >= 0)
        )
        SELECT totals.*,
            (SELECT count(*) FROM customers) AS customers,
            (SELECT count(*) FROM per_customer) AS buyers,
            (SELECT count(*) FROM orders WHERE status = 'cancelled') AS cancelled_orders,
            (SELECT count(*) FROM orders WHERE status = 'returned') AS returned_orders,
            (SELECT coalesce(sum(value), 0)::DOUBLE FROM other_lines) AS other_value,
            (SELECT coalesce(avg(CASE WHEN n >= 2 THEN 1.0 ELSE 0.0 END), 0) FROM per_customer) AS repeat_rate,
            (SELECT count(DISTINCT session_id) FROM events) AS sessions,
            (SELECT count(*) FROM reviews) AS reviews
        FROM totals
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
        net_revenue=revenue + float(row["other_value"]),
        charge_revenue=float(row["charge_revenue"]),
        guest_orders=int(row["guest_orders"]),
        guest_revenue=float(row["guest_revenue"]),
        average_order_value=revenue / orders if orders else 0.0,
        repeat_purchase_rate=float(row["repeat_rate"]),
        first_order=row["first_order"],
        last_order=row["last_order"],
        sessions=int(row["sessions"]),
        reviews=int(row["reviews"]),
        reconciliation=reconcile(ws),
    )


def overview_dict(k: Kpis) -> dict[str, object]:
    """The figures as one JSON-ready object (``shopper-tui overview --format json``): money
    rounded to the cent, days as ISO dates, the reconciliation as a list of kind, lines, value."""
    return {
        "orders": k.orders,
        "revenue": round(k.revenue, 2),
        "net_revenue": round(k.net_revenue, 2),
        "guest_orders": k.guest_orders,
        "guest_revenue": round(k.guest_revenue, 2),
        "charge_revenue": round(k.charge_revenue, 2),
        "customers": k.buyers,
        "customers_on_file": k.customers,
        "average_order_value": round(k.average_order_value, 2),
        "repeat_purchase_rate": round(k.repeat_purchase_rate, 4),
        "cancelled_orders": k.cancelled_orders,
        "returned_orders": k.returned_orders,
        "first_day": k.first_order.date().isoformat() if k.first_order else None,
        "last_day": k.last_order.date().isoformat() if k.last_order else None,
        "sessions": k.sessions,
        "reviews": k.reviews,
        "lines_read": k.reconciliation.lines_read,
        "value_read": k.reconciliation.value_read,
        "reconciliation": k.reconciliation.rows.to_dicts(),
    }


def revenue_over_time(ws: Workspace, *, period: str = "month") -> pl.DataFrame:
    """Revenue and purchases per period.

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
            SELECT date_trunc('{period}', ts)::DATE AS period, sum(value) AS revenue, count(*) AS orders
            FROM purchases
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
