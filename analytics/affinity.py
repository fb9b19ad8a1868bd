"""Affinity: what each segment is drawn to, and what sells together.

Segment × item affinity (item = category, subcategory or brand), from purchases (completed
orders) or from browsing events (views or cart adds):

* ``share``: the segment's spend (units, or events for browsing) on the item / the
  segment's total — "41 % of what Champions spend goes to Outdoor";
* ``index``: 100 × segment share / share among all customers (100 = average);
* ``penetration``: share of the segment's customers who bought (viewed) the item at least once;
* ``lift``: segment penetration / penetration among all customers — "buys Outdoor 2.3× as
  often as the average customer".

Cross-sell rules over baskets (one completed order = one basket; an item counts once per
basket), for single item → single item, all computed in DuckDB SQL with a self-join on the
basket, never a one-hot matrix:

* support(A→B) = baskets with A and B / all baskets;
* confidence = baskets with A and B / baskets with A;
* lift = confidence / support(B);
* conviction = (1 − support(B)) / (1 − confidence), infinite when confidence is 1.

These are the definitions of mlxtend's ``apriori`` + ``association_rules`` and the tests
check equality with it.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from .errors import ShopperError
from .workspace import Workspace

__all__ = ["segment_affinity", "item_products", "pair_rules", "AFFINITY_LEVELS", "RULE_LEVELS"]

AFFINITY_LEVELS = ("category", "subcategory", "brand")
RULE_LEVELS = ("category", "product")
_BASIS = ("purchases", "views", "carts")


def _register(ws: Workspace, name: str, frame: pl.DataFrame) -> None:
    ws.cursor().register(name, frame.to_arrow())


def _label_frame(labels: pl.DataFrame) -> pl.DataFrame:
    return labels.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("segment_id").cast(pl.Int64),
        (pl.col("segment") if "segment" in labels.columns else pl.col("segment_id").cast(pl.String)).alias("segment"),
    )


def _facts_sql(item: str, *, basis: str, measure: str, where: str = "") -> str:
    """customer_id, item (one or more select expressions), amount (spend, units or events) as
    SQL over completed orders or events."""
    if basis == "purchases":
        # product lines of purchases with a customer (see .purchases): charges are no items
        amount = "sum(i.value)" if measure == "spend" else "sum(i.quantity)"
        return f"""
            SELECT i.customer_id, {item} AS item, {amount}::DOUBLE AS amount
            FROM item_lines i JOIN products p USING (product_id)
            WHERE i.customer_id IS NOT NULL {where}
            GROUP BY ALL
        """
    etype = "view" if basis == "views" else "add_to_cart"
    return f"""
        SELECT e.customer_id, {item} AS item, count(*)::DOUBLE AS amount
        FROM events e JOIN products p USING (product_id)
        WHERE e.event_type = '{etype}' AND e.customer_id IS NOT NULL {where}
        GROUP BY ALL
    """


def segment_affinity(
    ws: Workspace,
    labels: pl.DataFrame,
    *,
    by: Literal["category", "subcategory", "brand"] = "category",
    basis: Literal["purchases", "views", "carts"] = "purchases",
    measure: Literal["spend", "units"] = "spend",
) -> pl.DataFrame:
    """Segment × item affinity table.

    Args:
        ws: The workspace.
        labels: customer_id → segment_id (and optionally ``segment`` with the segment's name).
            The baseline ("all customers") is every labelled customer, so segment and
            baseline are measured on the same population.
        by: Item level: category, subcategory or brand.
        basis: "purchases" (completed orders), "views" (view events) or "carts"
            (add_to_cart events).
        measure: For purchases, share by "spend" (Σ quantity × unit_price) or "units".

    Returns:
        One row per (segment, item) — every combination, with nulls where the segment never
        touched the item: segment_id, segment, item, amount, customers, segment_customers,
        share, index, penetration, lift; sorted by segment_id then item.
    """
    if by not in AFFINITY_LEVELS:
        raise ShopperError(f"Affinity by '{by}' is not supported; use one of {', '.join(AFFINITY_LEVELS)}.")
    if basis not in _BASIS:
        raise ShopperError(f"Affinity basis '{basis}' is not supported; use one of {', '.join(_BASIS)}.")
    _register(ws, "_labels", _label_frame(labels))
    facts = _facts_sql(f"coalesce(p.{by}, '(none)')", basis=basis, measure=measure)
    return ws.sql(
        f"""
        WITH facts AS ({facts}),
        seg_facts AS (
            SELECT l.segment_id, l.segment, f.item, f.amount, f.customer_id
            FROM facts f JOIN _labels l USING (customer_id)
        ),
        overall AS (
            SELECT item, sum(amount) AS amount, count(DISTINCT customer_id) AS customers FROM seg_facts GROUP BY item
        ),
        overall_tot AS (
            SELECT sum(amount) AS amount, (SELECT count(*) FROM _labels) AS customers FROM seg_facts
        ),
        seg_sizes AS (SELECT segment_id, any_value(segment) AS segment, count(*) AS segment_customers
                      FROM _labels GROUP BY segment_id),
        seg_tot AS (SELECT segment_id, sum(amount) AS amount FROM seg_facts GROUP BY segment_id),
        cell AS (
            SELECT segment_id, item, sum(amount) AS amount, count(DISTINCT customer_id) AS customers
            FROM seg_facts GROUP BY segment_id, item
        ),
        grid AS (SELECT s.segment_id, s.segment, s.segment_customers, o.item FROM seg_sizes s CROSS JOIN overall o)
        SELECT g.segment_id, g.segment, g.item,
               c.amount, c.customers, g.segment_customers,
               c.amount / nullif(t.amount, 0) AS share,
               100 * (c.amount / nullif(t.amount, 0)) / nullif(o.amount / ot.amount, 0) AS "index",
               c.customers / g.segment_customers AS penetration,
               (c.customers / g.segment_customers) / nullif(o.customers / ot.customers, 0) AS lift
        FROM grid g
        JOIN overall o USING (item)
        CROSS JOIN overall_tot ot
        LEFT JOIN seg_tot t USING (segment_id)
        LEFT JOIN cell c ON c.segment_id = g.segment_id AND c.item = g.item
        ORDER BY g.segment_id, g.item
        """
    )


def item_products(
    ws: Workspace,
    labels: pl.DataFrame,
    *,
    by: Literal["category", "subcategory", "brand"] = "category",
    basis: Literal["purchases", "views", "carts"] = "purchases",
    measure: Literal["spend", "units"] = "spend",
    item: str | None = None,
    segment_id: int | None = None,
    limit: int | None = 10,
) -> pl.DataFrame:
    """The products behind segment × item cells, each with its own index and lift.

    Same definitions as :func:`segment_affinity`, one level down: a product's ``index`` is
    100 × (segment's amount on the product / segment's total amount) / (the same share among
    all labelled customers); ``lift`` is segment penetration of the product / overall
    penetration; ``share_of_item`` is the product's part of the segment's amount on its item.

    Args:
        ws: The workspace.
        labels: customer_id → segment_id (and optionally ``segment``).
        by: Item level the products are grouped by.
        basis: "purchases", "views" or "carts" (as in :func:`segment_affinity`).
        measure: "spend" or "units" (purchases only).
        item: Only this item (e.g. the category "Outdoor"); None: every item.
        segment_id: Only this segment; None: every segment.
        limit: Keep the ``limit`` products with the largest amount per (segment, item); None: all.

    Returns:
        segment_id, segment, item, product_id, name, amount, customers, share_of_item, index,
        penetration, lift, rank (1 = largest amount); sorted by segment_id, item, rank.
        Only products the segment touched.
    """
    if by not in AFFINITY_LEVELS:
        raise ShopperError(f"Affinity by '{by}' is not supported; use one of {', '.join(AFFINITY_LEVELS)}.")
    if basis not in _BASIS:
        raise ShopperError(f"Affinity basis '{basis}' is not supported; use one of {', '.join(_BASIS)}.")
    _register(ws, "_labels", _label_frame(labels))
    facts = _facts_sql(f"p.product_id AS product_id, coalesce(p.{by}, '(none)')", basis=basis, measure=measure)
    params: list[object] = []
    filters = ["TRUE"]
    if item is not None:
        params.append(item)
        filters.append(f"c.item = ${len(params)}")
    if segment_id is not None:
        params.append(int(segment_id))
        filters.append(f"c.segment_id = ${len(params)}")
    keep = f"WHERE rank <= {int(limit)}" if limit is not None else ""
    return ws.sql(
        f"""
        WITH facts AS ({facts}),
        seg_facts AS (
            SELECT l.segment_id, l.segment, f.item, f.product_id, f.amount, f.customer_id
            FROM facts f JOIN _labels l USING (customer_id)
        ),
        tot AS (SELECT sum(amount) AS amount, (SELECT count(*) FROM _labels) AS customers FROM seg_facts),
        prod AS (SELECT product_id, sum(amount) AS amount, count(DISTINCT customer_id) AS customers
                 FROM seg_facts GROUP BY product_id),
        seg_sizes AS (SELECT segment_id, count(*) AS segment_customers FROM _labels GROUP BY segment_id),
        seg_tot AS (SELECT segment_id, sum(amount) AS amount FROM seg_facts GROUP BY segment_id),
        seg_item AS (SELECT segment_id, item, sum(amount) AS amount FROM seg_facts GROUP BY segment_id, item),
        cell AS (
            SELECT segment_id, any_value(segment) AS segment, item, product_id, sum(amount) AS amount,
                   count(DISTINCT customer_id) AS customers
            FROM seg_facts GROUP BY segment_id, item, product_id
        ),
        scored AS (
            SELECT c.segment_id, c.segment, c.item, c.product_id, pr.name, c.amount, c.customers,
                   c.amount / nullif(si.amount, 0) AS share_of_item,
                   100 * (c.amount / nullif(st.amount, 0)) / nullif(p.amount / t.amount, 0) AS "index",
                   c.customers / ss.segment_customers AS penetration,
                   (c.customers / ss.segment_customers) / nullif(p.customers / t.customers, 0) AS lift,
                   row_number() OVER (PARTITION BY c.segment_id, c.item
                                      ORDER BY c.amount DESC, c.product_id) AS rank
            FROM cell c CROSS JOIN tot t
            JOIN prod p USING (product_id)
            JOIN seg_sizes ss USING (segment_id)
            JOIN seg_tot st USING (segment_id)
            JOIN seg_item si ON si.segment_id = c.segment_id AND si.item = c.item
            LEFT JOIN products pr ON pr.product_id = c.product_id
            WHERE {" AND ".join(filters)}
        )
        SELECT * FROM scored {keep}
        ORDER BY segment_id, item, rank
        """,
        params or None,
    )


def pair_rules(
    ws: Workspace,
    *,
    level: Literal["category", "product"] = "category",
    min_support: float = 0.01,
    min_lift: float | None = None,
    customers: pl.DataFrame | pl.Series | None = None,
    antecedent: str | None = None,
) -> pl.DataFrame:
    """Single item → single item association rules over completed-order baskets.

    Args:
        ws: The workspace.
        level: "category" or "product" (product ids as in the source data).
        min_support: Keep rules whose pair support is at least this (mlxtend semantics:
            support ≥ min_support).
        min_lift: Optionally keep only rules with lift ≥ this.
        customers: Restrict baskets to these customers (a segment): a Series or a frame with
            ``customer_id``. Supports are then relative to that segment's baskets.
        antecedent: Only rules with this antecedent ("what do Champions buy with Coffee?").

    Returns:
        antecedent, consequent, support, confidence, lift, conviction, baskets,
        antecedent_support, consequent_support (and, for products with names,
        antecedent_name, consequent_name); sorted by lift, then support, descending.
    """
    if level not in RULE_LEVELS:
        raise ShopperError(f"Cross-sell level '{level}' is not supported; use category or product.")
    if not 0 < min_support <= 1:
        raise ShopperError(f"--min-support must be in (0, 1], not {min_support}.")
    item = "p.category" if level == "category" else "i.product_id"
    join_products = "JOIN products p USING (product_id)" if level == "category" else ""
    subset = ""
    if customers is not None:
        ids = customers if isinstance(customers, pl.Series) else customers.get_column("customer_id")
        _register(ws, "_subset", pl.DataFrame({"customer_id": ids.cast(pl.String)}))
        subset = "WHERE customer_id IN (SELECT customer_id FROM _subset)"
    params: list[object] = [min_support]
    where_ante = ""
    if antecedent is not None:
        where_ante = "AND a.item = ?"
        params.append(antecedent)
    out = ws.sql(
        f"""
        WITH baskets AS (
            -- every purchase is a basket (guest orders too); its product lines are the items
            SELECT DISTINCT i.order_id AS basket, {item} AS item
            FROM item_lines i {join_products}
            {subset}
        ),
        -- support counts every purchase, also those whose lines are all charges
        n AS (SELECT count(*)::DOUBLE AS n FROM purchases {subset}),
        singles AS (
            SELECT item, count(*) AS cnt FROM baskets GROUP BY item
        ),
        frequent AS (SELECT item FROM singles, n WHERE cnt / n.n >= $1),
        fb AS (SELECT b.* FROM baskets b SEMI JOIN frequent f USING (item)),
        pairs AS (
            SELECT a.item AS antecedent, b.item AS consequent, count(*) AS baskets
            FROM fb a JOIN fb b ON a.basket = b.basket AND a.item <> b.item
            WHERE TRUE {where_ante.replace('?', '$2')}
            GROUP BY 1, 2
        )
        SELECT p.antecedent, p.consequent,
               p.baskets / n.n AS support,
               p.baskets / sa.cnt::DOUBLE AS confidence,
               (p.baskets / sa.cnt::DOUBLE) / (sc.cnt / n.n) AS lift,
               CASE WHEN p.baskets = sa.cnt THEN 'inf'::DOUBLE
                    ELSE (1 - sc.cnt / n.n) / (1 - p.baskets / sa.cnt::DOUBLE) END AS conviction,
               p.baskets,
               sa.cnt / n.n AS antecedent_support,
               sc.cnt / n.n AS consequent_support
        FROM pairs p CROSS JOIN n
        JOIN singles sa ON sa.item = p.antecedent
        JOIN singles sc ON sc.item = p.consequent
        WHERE p.baskets / n.n >= $1
        ORDER BY lift DESC, support DESC, antecedent, consequent
        """,
        params,
    )
    if min_lift is not None:
        out = out.filter(pl.col("lift") >= min_lift)
    if level == "product":
        names = ws.sql("SELECT product_id AS item, name FROM products")
        for side in ("antecedent", "consequent"):
            out = out.join(names.rename({"item": side, "name": f"{side}_name"}), on=side, how="left")
    return out
