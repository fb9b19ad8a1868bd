"""The one definition of a purchase, kept as views inside every workspace.

Every analysis reads purchases from these views, never from ``orders`` / ``order_items``
directly, so the Overview, RFM, segments, affinity, recommendations, cohorts and CLV all count
the same orders, customers and money.

The rules (the same as the peer-library references in ``shared/real/README.md``):

1. An order is **completed** unless its status says ``cancelled`` (retail invoices starting
   with ``C``, a cancelled or voided status) or ``returned`` (a refunded status).
2. A **sold line** has quantity > 0 and unit price ≥ 0; zero-priced lines are sold lines. A
   line with quantity ≤ 0 or a negative price on a completed order is an **adjustment**: kept
   in ``order_items`` and shown in the reconciliation, never a sale.
3. A sold line is a **charge** (postage, carriage, fees, manual entries, bank charges,
   discounts, commissions: ``order_items.kind = 'charge'``, recognised on import by
   :data:`CHARGE_CODES` plus the settings' extra codes) or a **product line**. Charges count in
   the order's value and in revenue; they are never items.
4. A **purchase** is a completed order with at least one sold line; its value is Σ quantity ×
   unit price over its sold lines, products and charges alike.
5. **Guest orders** (no customer id) are purchases: in revenue, order counts, baskets and
   product analyses. Per-customer analyses read :data:`CUSTOMER_PURCHASES` /
   ``customer_id IS NOT NULL`` and say how many guest orders they left out
   (:func:`guest_share`).

Views (created by :func:`create_views` at import, so watch-mode appends are seen at once):

* ``sold_lines``: order_id, customer_id, ts, channel, product_id, quantity, unit_price, kind,
  value (= quantity × unit_price), one row per sold line of a completed order;
* ``item_lines``: the product lines among them (kind = 'product' with a product id): what
  affinity, cross-sell and the recommenders count as items;
* ``purchases``: order_id, customer_id, ts, channel, value, product_value, charge_value,
  lines, items (Σ quantity of product lines), one row per purchase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from .schema import LINE_KINDS

if TYPE_CHECKING:
    import duckdb

    from .workspace import Workspace

__all__ = [
    "CHARGE_CODES",
    "LINE_KINDS",
    "charge_pattern",
    "is_charge",
    "create_views",
    "VIEWS",
    "Reconciliation",
    "reconcile",
    "guest_share",
    "GuestShare",
    "REASON_DUPLICATE",
    "RECONCILIATION_KINDS",
]

#: Stock codes that are charges, not goods (compared upper-cased, whole code): postage (POST,
#: DOT = dotcom postage, C2 = carriage), manual lines (M), discounts (D), charity (CRUK), bank
#: charges, marketplace fees, cushion pads sold with cushions (PADS), bad-debt adjustments (B),
#: samples (S) and manual adjustments (ADJUST). The settings' ``charge_codes`` add to it.
CHARGE_CODES: tuple[str, ...] = (
    "POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "B", "S", "ADJUST",
)

def charge_pattern(extra: Iterable[str] = ()) -> str:
    """An anchored regex matching the charge codes (upper-cased) plus ``extra``."""
    codes = dict.fromkeys([*CHARGE_CODES, *(str(c).strip().upper() for c in extra if str(c).strip())])
    return "^(?:" + "|".join(re.escape(c) for c in codes) + ")$"


def is_charge(product_id: pl.Expr, extra: Iterable[str] = ()) -> pl.Expr:
    """True where a (upper-cased) product id is a charge code; null ids are not charges."""
    return product_id.str.to_uppercase().str.contains(charge_pattern(extra)).fill_null(False)


_SOLD_LINES = """
CREATE OR REPLACE VIEW sold_lines AS
SELECT i.order_id, o.customer_id, o.ts, o.channel, i.product_id, i.quantity, i.unit_price, i.kind,
       (i.quantity * i.unit_price)::DOUBLE AS value
FROM orders o JOIN order_items i USING (order_id)
WHERE o.status = 'completed' AND i.quantity > 0 AND i.unit_price >= 0
"""
_ITEM_LINES = """
CREATE OR REPLACE VIEW item_lines AS
SELECT * FROM sold_lines WHERE kind = 'product' AND product_id IS NOT NULL
"""
_PURCHASES = """
CREATE OR REPLACE VIEW purchases AS
SELECT order_id, any_value(customer_id) AS customer_id, any_value(ts) AS ts, any_value(channel) AS channel,
       sum(value)::DOUBLE AS value,
       coalesce(sum(value) FILTER (WHERE kind = 'product'), 0)::DOUBLE AS product_value,
       coalesce(sum(value) FILTER (WHERE kind = 'charge'), 0)::DOUBLE AS charge_value,
       count(*)::BIGINT AS lines,
       coalesce(sum(quantity) FILTER (WHERE kind = 'product'), 0)::BIGINT AS items
FROM sold_lines
GROUP BY order_id
"""
#: View name → its CREATE statement, in dependency order.
VIEWS: dict[str, str] = {"sold_lines": _SOLD_LINES, "item_lines": _ITEM_LINES, "purchases": _PURCHASES}


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) the purchase views in a workspace being written."""
    for sql in VIEWS.values():
        con.execute(sql)


@dataclass(frozen=True)
class GuestShare:
    """Guest purchases, which per-customer analyses leave out.

    Attributes:
        orders: Purchases without a customer id.
        revenue: Their value.
        share_of_revenue: ``revenue`` / all purchases' value (0 when there is none).
    """

    orders: int
    revenue: float
    share_of_revenue: float

    def note(self) -> str | None:
        """One sentence for a per-customer analysis, or None when there are no guest orders."""
        if not self.orders:
            return None
        orders = f"{self.orders:,} guest order{'' if self.orders == 1 else 's'}"
        return f"{orders} ({self.share_of_revenue:.1%} of revenue) left out: no customer id"


def guest_share(ws: Workspace) -> GuestShare:
    """How many purchases have no customer, and their share of revenue."""
    row = ws.sql(
        """
        SELECT count(*) FILTER (WHERE customer_id IS NULL) AS orders,
               coalesce(sum(value) FILTER (WHERE customer_id IS NULL), 0)::DOUBLE AS revenue,
               coalesce(sum(value), 0)::DOUBLE AS total
        FROM purchases
        """
    ).row(0, named=True)
    total = float(row["total"])
    return GuestShare(int(row["orders"]), float(row["revenue"]), float(row["revenue"]) / total if total else 0.0)


#: The reason a workbook loader gives a line of an invoice already read from an earlier sheet:
#: a duplicate of a line kept, reconciled as "duplicates", not "rejected".
REASON_DUPLICATE = "invoice already read from an earlier sheet (sheets overlap)"

#: Reconciliation kinds, in the order they are listed.
RECONCILIATION_KINDS: tuple[str, ...] = (
    "sold product lines", "sold charge lines", "adjustments", "cancelled", "returned", "duplicates", "rejected",
)


@dataclass(frozen=True)
class Reconciliation:
    """Every order line read, by what the purchase rules made of it.

    Attributes:
        rows: kind, lines, value (Σ quantity × unit price; rejected lines count where their
            quantity and price could be read), in :data:`RECONCILIATION_KINDS` order.
        lines_read: Order lines the source had (``rows``' lines add up to it).
        value_read: Σ quantity × unit price over every line read (``rows``' values add up to it).
    """

    rows: pl.DataFrame
    lines_read: int
    value_read: float

    def lines(self) -> list[str]:
        """The reconciliation as aligned text lines (CLI, Data screen)."""
        out = [f"{'order lines':<20} {'lines':>10} {'Σ quantity × price':>20}"]
        for r in self.rows.iter_rows(named=True):
            out.append(f"{r['kind']:<20} {r['lines']:>10,} {r['value']:>20,.2f}")
        out.append(f"{'read':<20} {self.lines_read:>10,} {self.value_read:>20,.2f}")
        return out


def reconcile(ws: Workspace) -> Reconciliation:
    """Reconcile the workspace's order lines with the source (see :class:`Reconciliation`).

    Lines kept in ``order_items`` are classified by the rules above; lines the import could
    not use (and, for a workbook, lines of an invoice read from an earlier sheet) come from the
    import's report, which keeps their count and value per reason.
    """
    kept = ws.sql(
        """
        SELECT CASE
                 WHEN o.status = 'cancelled' THEN 'cancelled'
                 WHEN o.status = 'returned' THEN 'returned'
                 WHEN i.quantity <= 0 OR i.unit_price < 0 THEN 'adjustments'
                 WHEN i.kind = 'charge' THEN 'sold charge lines'
                 ELSE 'sold product lines'
               END AS kind,
               count(*)::BIGINT AS lines,
               coalesce(sum(i.quantity * i.unit_price), 0)::DOUBLE AS value
        FROM order_items i JOIN orders o USING (order_id)
        GROUP BY 1
        """
    )
    report = ws.report.tables.get("order_items")
    extra: dict[str, tuple[int, float]] = {}
    if report is not None:
        for reason, n in report.rejected.items():
            kind = "duplicates" if reason == REASON_DUPLICATE else "rejected"
            lines, value = extra.get(kind, (0, 0.0))
            extra[kind] = (lines + n, value + float(report.rejected_value.get(reason, 0.0)))
    counted = {r["kind"]: (int(r["lines"]), float(r["value"])) for r in kept.iter_rows(named=True)}
    counted.update(extra)
    rows = pl.DataFrame(
        {
            "kind": list(RECONCILIATION_KINDS),
            "lines": [counted.get(k, (0, 0.0))[0] for k in RECONCILIATION_KINDS],
            "value": [round(counted.get(k, (0, 0.0))[1], 2) for k in RECONCILIATION_KINDS],
        },
        schema={"kind": pl.String, "lines": pl.Int64, "value": pl.Float64},
    )
    lines_read = sum(v[0] for v in counted.values())
    value_read = round(sum(v[1] for v in counted.values()), 2)
    return Reconciliation(rows=rows, lines_read=lines_read, value_read=value_read)

