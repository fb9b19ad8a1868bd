"""One segment's customers, one customer's story, and two segments side by side.

The queries behind the Segments screen's drill-down, usable from a notebook:

* :func:`segment_customers` — the customers of a segment with their features and
  membership probability (personal columns masked, see :mod:`.pii`);
* :func:`customer_detail` — one customer's profile, RFM in both definitions (values and
  quintile scores, see :mod:`.rfm`), segment and probability, order timeline, event
  timeline and the categories they bought;
* :func:`compare_segments` — every feature of two segments side by side, with the gap in
  standard deviations of everyone segmented so the differences that matter stand out.

Purchases follow :mod:`.purchases` (completed orders' sold lines, charges in the value, never
in the categories); the order timeline still lists cancelled and returned orders (with their
status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from .errors import ShopperError
from .pii import mask_frame
from .rfm import purchases, rfm_lifetimes, rfm_marketing

if TYPE_CHECKING:
    from .segmentation import SegmentationResult
    from .workspace import Workspace

__all__ = ["CustomerDetail", "segment_customers", "customer_detail", "compare_segments", "CUSTOMER_COLUMNS"]

#: Features shown for each customer in a segment's list (those present in the frame).
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "recency_days", "orders", "spend", "avg_basket", "tenure_days", "sessions", "conversion", "discount_share",
)


def _segment_names(result: SegmentationResult) -> pl.DataFrame:
    return result.segments.select("segment_id", pl.col("name").alias("segment"))


def segment_customers(
    result: SegmentationResult, ws: Workspace, segment_id: int | None = None, *, show_pii: bool = False
) -> pl.DataFrame:
    """The customers of one segment (or of all, ``segment_id=None``) with their features.

    Returns:
        customer_id, name, email, country (from the customers table, name and email masked
        unless ``show_pii``), segment, probability, buyer (has a completed purchase) and
        :data:`CUSTOMER_COLUMNS` (money rounded to cents, shares to 3 places), sorted by
        spend, highest first. One row per customer in the segment.
    """
    labels = result.labels if segment_id is None else result.labels.filter(pl.col("segment_id") == segment_id)
    feats = [c for c in CUSTOMER_COLUMNS if c in result.features_frame.columns]
    frame = (
        labels.join(_segment_names(result), on="segment_id", how="left")
        .join(result.features_frame.select("customer_id", "has_purchase", *feats), on="customer_id", how="left")
    )
    people = ws.sql("SELECT customer_id, name, email, country FROM customers")
    people = mask_frame(people.join(frame.select("customer_id"), on="customer_id", how="semi"), show_pii=show_pii)
    rounded = {
        c: pl.col(c).round(2) if c in ("spend", "avg_basket") else pl.col(c).round(3)
        for c in feats if frame.schema[c].is_float()
    }
    return (
        frame.join(people, on="customer_id", how="left")
        .with_columns(buyer=pl.col("has_purchase") == 1, probability=pl.col("probability").round(3), **rounded)
        .select("customer_id", "name", "email", "country", "segment", "probability", "buyer", *feats)
        .sort(["spend", "customer_id"] if "spend" in feats else "customer_id",
              descending=[True, False] if "spend" in feats else False)
    )


@dataclass
class CustomerDetail:
    """Everything the customer view shows about one customer.

    Attributes:
        customer_id: The customer.
        profile: The customers-table row (name and email masked unless asked), {} when the
            customer is only known from orders or events.
        rfm: Marketing RFM: recency_days, orders, spend, r_score, f_score, m_score, rfm_cell,
            segment (grid name); None without a completed purchase.
        lifetimes: lifetimes RFM: frequency, recency, T, monetary_value; None without a purchase.
        segment_id: The customer's segment in the given segmentation (None: not segmented).
        segment: Its name.
        probability: Membership probability (1 for K-Means and the grid).
        orders: order_id, ts, status, channel, items, value, categories — newest first.
        events: ts, session_id, event_type, product_id, product, category, device — newest
            first, at most ``events_limit`` rows.
        events_total: How many events the customer has in all.
        categories: category, orders, units, spend, share (of their spend) — completed purchases.
    """

    customer_id: str
    profile: dict[str, Any]
    rfm: dict[str, Any] | None
    lifetimes: dict[str, Any] | None
    segment_id: int | None
    segment: str | None
    probability: float | None
    orders: pl.DataFrame
    events: pl.DataFrame
    events_total: int
    categories: pl.DataFrame
    notes: list[str] = field(default_factory=list)


def customer_detail(
    ws: Workspace,
    customer_id: str,
    *,
    result: SegmentationResult | None = None,
    show_pii: bool = False,
    events_limit: int = 500,
) -> CustomerDetail:
    """One customer's profile, RFM, segment, timelines and categories (see :class:`CustomerDetail`).

    RFM is scored against every buyer in the workspace, at the segmentation's observation
    end when ``result`` is given (so it matches the segment features), else at the latest
    purchase.

    Raises:
        ShopperError: The customer appears nowhere in the workspace.
    """
    cid = {"cid": str(customer_id)}
    profile_frame = mask_frame(ws.sql("SELECT * FROM customers WHERE customer_id = $cid", cid), show_pii=show_pii)
    profile = profile_frame.row(0, named=True) if profile_frame.height else {}
    orders = ws.sql(
        """
        SELECT o.order_id, o.ts, o.status, o.channel,
               coalesce(sum(i.quantity), 0)::BIGINT AS items,
               -- a purchase's value by the purchase rules: sold lines (q > 0, price ≥ 0), charges included
               coalesce(sum(i.quantity * i.unit_price) FILTER (WHERE i.unit_price >= 0 AND i.quantity > 0), 0)::DOUBLE
                   AS value,
               string_agg(DISTINCT coalesce(p.category, 'Unknown'), ', ' ORDER BY coalesce(p.category, 'Unknown'))
                   AS categories
        FROM orders o LEFT JOIN order_items i USING (order_id) LEFT JOIN products p USING (product_id)
        WHERE o.customer_id = $cid
        GROUP BY o.order_id, o.ts, o.status, o.channel
        ORDER BY o.ts DESC, o.order_id
        """,
        cid,
    ).with_columns(pl.col("value").round(2))
    events_total = int(ws.sql("SELECT count(*) AS n FROM events WHERE customer_id = $cid", cid).item())
    events = ws.sql(
        f"""
        SELECT e.ts, e.session_id, e.event_type, e.product_id, p.name AS product, p.category, e.device
        FROM events e LEFT JOIN products p USING (product_id)
        WHERE e.customer_id = $cid
        ORDER BY e.ts DESC, e.session_id
        LIMIT {int(events_limit)}
        """,
        cid,
    )
    if not profile and orders.is_empty() and events_total == 0:
        raise ShopperError(f"Customer {customer_id!r} is not in this workspace.")
    categories = ws.sql(
        """
        SELECT coalesce(p.category, 'Unknown') AS category, count(DISTINCT i.order_id)::BIGINT AS orders,
               sum(i.quantity)::BIGINT AS units, sum(i.quantity * i.unit_price)::DOUBLE AS spend
        FROM item_lines i LEFT JOIN products p USING (product_id)
        WHERE i.customer_id = $cid
        GROUP BY 1
        """,
        cid,
    )
    categories = categories.with_columns(
        share=(pl.col("spend") / pl.col("spend").sum()).round(3), spend=pl.col("spend").round(2)
    ).sort(["spend", "category"], descending=[True, False])

    end = result.model.observation_end if result is not None else None
    bought = purchases(ws)
    rfm = lifetimes = None
    if bought.filter(pl.col("customer_id") == str(customer_id)).height:
        marketing = rfm_marketing(bought, observation_end=end).filter(pl.col("customer_id") == str(customer_id))
        life = rfm_lifetimes(bought, observation_end=end).filter(pl.col("customer_id") == str(customer_id))
        rfm = marketing.row(0, named=True) if marketing.height else None
        lifetimes = life.row(0, named=True) if life.height else None

    segment_id = segment = probability = None
    if result is not None:
        row = result.labels.filter(pl.col("customer_id") == str(customer_id)).join(
            _segment_names(result), on="segment_id", how="left"
        )
        if row.height:
            segment_id, segment, probability = int(row["segment_id"][0]), row["segment"][0], float(row["probability"][0])
    return CustomerDetail(
        customer_id=str(customer_id), profile=profile, rfm=rfm, lifetimes=lifetimes, segment_id=segment_id,
        segment=segment, probability=probability, orders=orders, events=events, events_total=events_total,
        categories=categories,
    )


def _marker(gap: pl.Expr) -> pl.Expr:
    """▲/▼ repeated once per threshold (0.25, 0.5, 1 sd) the gap passes."""
    size = gap.abs()
    n = pl.when(size >= 1.0).then(3).when(size >= 0.5).then(2).when(size >= 0.25).then(1).otherwise(0)
    arrow = pl.when(gap > 0).then(pl.lit("▲")).otherwise(pl.lit("▼"))
    return arrow.repeat_by(n).list.join("")


def compare_segments(result: SegmentationResult, a: int, b: int) -> pl.DataFrame:
    """Every feature of segments ``a`` and ``b`` side by side.

    Args:
        result: The segmentation.
        a: First segment id.
        b: Second segment id.

    Returns:
        feature, the two segments' means (columns named after the segments), difference
        (a − b), gap_sd (difference ÷ standard deviation of the feature over everyone
        segmented; 0 when the feature does not vary) and stands_out (▲/▼ per 0.25, 0.5 and 1
        sd, ▲ = higher in the first segment); size first, then by |gap_sd|, largest first.

    Raises:
        ShopperError: Either id is not a segment of ``result``, or both are the same.
    """
    names = dict(zip(result.segments["segment_id"].to_list(), result.segments["name"].to_list(), strict=True))
    for sid in (a, b):
        if sid not in names:
            raise ShopperError(f"Segment {sid} is not in this segmentation.", hint=f"Segments: {sorted(names)}.")
    if a == b:
        raise ShopperError("Pick two different segments to compare.")
    na, nb = names[a], names[b]
    profile = result.profile
    feats = [c for c in profile.columns if c not in ("segment_id", "size") and profile.schema[c].is_numeric()]
    sd = result.features_frame.select(pl.col(c).cast(pl.Float64).std() for c in feats).row(0, named=True)

    def means(sid: int) -> dict[str, Any]:
        return profile.filter(pl.col("segment_id") == sid).row(0, named=True)

    ra, rb = means(a), means(b)
    rows = [{"feature": "size", "a": float(ra["size"]), "b": float(rb["size"]), "gap_sd": None}]
    for c in feats:
        va, vb = float(ra[c] or 0.0), float(rb[c] or 0.0)
        s = sd.get(c) or 0.0
        rows.append({"feature": c, "a": va, "b": vb, "gap_sd": (va - vb) / s if s else 0.0})
    frame = pl.DataFrame(rows, schema={"feature": pl.String, "a": pl.Float64, "b": pl.Float64, "gap_sd": pl.Float64})
    frame = frame.with_columns(
        difference=pl.col("a") - pl.col("b"),
        stands_out=_marker(pl.col("gap_sd")),
        _order=pl.when(pl.col("feature") == "size").then(pl.lit(1e9)).otherwise(pl.col("gap_sd").abs()),
    ).sort(["_order", "feature"], descending=[True, False])
    label_a, label_b = f"A: {na}", f"B: {nb}"
    return frame.select(
        "feature",
        pl.col("a").round(3).alias(label_a),
        pl.col("b").round(3).alias(label_b),
        pl.col("difference").round(3),
        pl.col("gap_sd").round(2),
        pl.col("stands_out").fill_null(""),
    )
