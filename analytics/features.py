"""Per-customer feature matrix for segmentation: RFM plus behaviour from events and orders.

All aggregation runs in DuckDB; the long per-category / per-device shares are pivoted in
Polars. One reference date (``observation_end``) anchors every "days since" feature; by
default it is the latest day with a completed purchase or an event.

**Population**: customers with at least one completed purchase (see :mod:`.rfm` for what
counts). With ``include_non_buyers=True`` customers who appear in events but never bought
(only cancelled / returned orders, or none) are added with ``has_purchase = 0``,
``orders = spend = avg_basket = 0`` and ``recency_days = tenure_days`` = days since their
first event (the time they have been around without buying).

**RFM features** (``which="rfm"``): ``recency_days``, ``orders``, ``spend``, ``avg_basket``
(spend / orders), ``tenure_days`` (days since the first purchase) — the marketing
definition of :func:`.rfm.rfm_marketing`.

**Behavioural features** (``which="behavioural"``), events restricted to identified
customers:

* ``sessions`` — distinct sessions; ``views_per_session`` — view events / sessions;
* ``cart_rate`` — share of sessions with an add_to_cart;
* ``conversion`` — view→purchase conversion: share of sessions with a view that also hold a
  purchase event;
* ``days_since_visit`` — days from the last event to the reference date;
* ``device_share:<device>`` — share of sessions per device (top 5 devices, rest "other"; a
  session's device is the alphabetically first it logged, "unknown" when none);
* ``view_share:<category>`` — share of product views per category, and
  ``buy_share:<category>`` — share of spend per category (top 12 categories by views +
  spend, the rest pooled as "Other");
* ``discount_share`` — share of units bought at least 5 % below the product's list price
  (``products.price``, or the product's median selling price when there is none);
* ``price_band`` — quantity-weighted mean percentile (0 = cheapest, 1 = dearest) of the
  bought products' reference price within their category; 0.5 when unknown.

Customers with no events get 0 for every event feature, ``days_since_visit`` = the data
span (never visited ≈ long ago) and ``has_events = 0``. ``has_purchase`` and
``has_events`` are indicators for display and filtering; they are not clustering inputs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import polars as pl

from .errors import ShopperError
from .rfm import _as_datetime

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "RFM_FEATURES",
    "BEHAVIOUR_FEATURES",
    "LOG_FEATURES",
    "SHARE_PREFIXES",
    "customer_features",
    "feature_columns",
    "reference_date",
]

RFM_FEATURES: tuple[str, ...] = ("recency_days", "orders", "spend", "avg_basket", "tenure_days")
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "sessions",
    "views_per_session",
    "cart_rate",
    "conversion",
    "days_since_visit",
    "discount_share",
    "price_band",
)
#: Prefixes of the dynamic share columns (``prefix + name``).
SHARE_PREFIXES: tuple[str, ...] = ("view_share:", "buy_share:", "device_share:")
#: Skewed counts and money: log1p-transformed before scaling.
LOG_FEATURES: frozenset[str] = frozenset({"orders", "spend", "avg_basket", "sessions", "views_per_session"})
FLAGS: tuple[str, ...] = ("has_purchase", "has_events")

TOP_CATEGORIES = 12
TOP_DEVICES = 5

#: Purchases (and their lines) of customers up to the reference day; see :mod:`.purchases`.
_PURCHASE_FILTER = "customer_id IS NOT NULL AND ts < $end + INTERVAL 1 DAY"


def reference_date(ws: Workspace, observation_end: date | datetime | str | None = None) -> datetime:
    """The day every "days since" feature is measured to (midnight of that day).

    Default: the latest day holding a completed purchase or an event.

    Raises:
        ShopperError: The workspace has no completed purchase and no event.
    """
    if observation_end is not None:
        d = _as_datetime(observation_end)
        return datetime(d.year, d.month, d.day)
    row = ws.sql(
        """
        SELECT greatest(
            (SELECT max(ts) FROM purchases WHERE customer_id IS NOT NULL),
            (SELECT max(ts) FROM events)) AS latest
        """
    ).item()
    if row is None:
        bought = int(ws.sql("SELECT count(*) FROM purchases").item())
        if bought:  # purchases, but not one of them names its customer
            raise ShopperError(
                f"None of the {bought:,} purchases has a customer id (all are guest orders), so there are no "
                "customers to segment.",
                hint="Per-customer analyses (segments, RFM, cohorts, recommendations) need a customer id column "
                "(customer_id, CustomerID, Email for Shopify…); the Overview, products and baskets work without.",
            )
        raise ShopperError(
            "This workspace has no completed purchase and no event, so there is nothing to segment.",
            hint="Check the orders table: statuses must be completed / cancelled / returned.",
        )
    return datetime(row.year, row.month, row.day)


def _pivot(long: pl.DataFrame, prefix: str, keys: list[str]) -> pl.DataFrame:
    """customer_id, key, share (long) → customer_id + one column per key (0 when absent)."""
    cols = [f"{prefix}{k}" for k in keys]
    if long.is_empty():
        return pl.DataFrame(schema={"customer_id": pl.String(), **{c: pl.Float64() for c in cols}})
    wide = long.with_columns(key=prefix + pl.col("key")).pivot(on="key", index="customer_id", values="share")
    for c in cols:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(c))
    return wide.select("customer_id", *[pl.col(c).fill_null(0.0).cast(pl.Float64) for c in cols])


def feature_columns(frame: pl.DataFrame, which: str = "both") -> list[str]:
    """The clustering inputs of a feature frame for a feature group ("rfm", "behavioural", "both")."""
    if which not in ("rfm", "behavioural", "both"):
        raise ShopperError(f"features must be 'rfm', 'behavioural' or 'both', not {which!r}.")
    out: list[str] = []
    if which in ("rfm", "both"):
        out += [c for c in RFM_FEATURES if c in frame.columns]
    if which in ("behavioural", "both"):
        out += [c for c in BEHAVIOUR_FEATURES if c in frame.columns]
        out += [c for c in frame.columns if c.startswith(SHARE_PREFIXES)]
    return out


def customer_features(
    ws: Workspace,
    *,
    which: str = "both",
    observation_end: date | datetime | str | None = None,
    include_non_buyers: bool = False,
) -> pl.DataFrame:
    """The per-customer feature matrix (definitions in the module docstring).

    Args:
        ws: The workspace.
        which: "rfm", "behavioural" or "both" — which feature groups to include.
        observation_end: Reference date; default the latest purchase or event day.
        include_non_buyers: Also include customers with events but no completed purchase.

    Returns:
        customer_id, the chosen features (Float64), has_purchase and has_events (Int8),
        one row per customer, sorted by customer_id.
    """
    feature_columns(pl.DataFrame(), which)  # validates ``which``
    end = reference_date(ws, observation_end)
    p = {"end": end}
    base = ws.sql(
        f"""
        WITH buys AS (
            SELECT customer_id, order_id, ts, value FROM purchases WHERE {_PURCHASE_FILTER}
        ), per AS (
            SELECT customer_id,
                   date_diff('day', max(ts)::DATE, $end::DATE)::DOUBLE AS recency_days,
                   count(DISTINCT order_id)::DOUBLE AS orders,
                   sum(value)::DOUBLE AS spend,
                   date_diff('day', min(ts)::DATE, $end::DATE)::DOUBLE AS tenure_days
            FROM buys GROUP BY customer_id
        ), seen AS (
            SELECT customer_id, date_diff('day', min(ts)::DATE, $end::DATE)::DOUBLE AS seen_days
            FROM events WHERE customer_id IS NOT NULL AND ts < $end + INTERVAL 1 DAY
            GROUP BY customer_id
        )
        SELECT coalesce(per.customer_id, seen.customer_id) AS customer_id,
               per.recency_days, per.orders, per.spend, per.tenure_days, seen.seen_days,
               (per.customer_id IS NOT NULL)::TINYINT AS has_purchase,
               (seen.customer_id IS NOT NULL)::TINYINT AS has_events,
               date_diff('day', least((SELECT min(ts) FROM buys), (SELECT min(ts) FROM events WHERE ts < $end + INTERVAL 1 DAY))::DATE, $end::DATE)::DOUBLE AS span_days
        FROM per FULL OUTER JOIN seen USING (customer_id)
        """,
        p,
    )
    if not include_non_buyers:
        base = base.filter(pl.col("has_purchase") == 1)
    span = float(base["span_days"].max() or 0.0) if base.height else 0.0
    frame = base.select(
        "customer_id",
        recency_days=pl.col("recency_days").fill_null(pl.col("seen_days")),
        orders=pl.col("orders").fill_null(0.0),
        spend=pl.col("spend").fill_null(0.0),
        avg_basket=(pl.col("spend") / pl.col("orders")).fill_null(0.0),
        tenure_days=pl.col("tenure_days").fill_null(pl.col("seen_days")),
        has_purchase="has_purchase",
        has_events="has_events",
    )
    if which == "behavioural":
        frame = frame.drop(RFM_FEATURES)
    if which in ("behavioural", "both"):
        frame = frame.join(_behaviour(ws, p), on="customer_id", how="left")
        frame = frame.with_columns(
            pl.col("days_since_visit").fill_null(span),
            pl.col("price_band").fill_null(0.5),
            pl.exclude("customer_id", "days_since_visit", "price_band", *FLAGS).fill_null(0.0),
        )
    frame = frame.with_columns(pl.col(FLAGS).cast(pl.Int8))
    return frame.select("customer_id", *[c for c in frame.columns if c not in ("customer_id", *FLAGS)], *FLAGS).sort(
        "customer_id"
    )


def _shares(long: pl.DataFrame, weight: str, keys: list[str], other: str, prefix: str) -> pl.DataFrame:
    """customer_id, key, weight (long) → customer_id + share columns; keys outside ``keys`` pool as ``other``."""
    pooled = (
        long.with_columns(key=pl.when(pl.col("key").is_in(keys)).then(pl.col("key")).otherwise(pl.lit(other)))
        .group_by("customer_id", "key")
        .agg(pl.col(weight).sum())
        # a customer whose purchases were all zero-priced has no spend to share out: 0, not 0/0 = NaN
        .with_columns(share=pl.when(pl.col(weight).sum().over("customer_id") > 0)
                      .then(pl.col(weight) / pl.col(weight).sum().over("customer_id")).otherwise(0.0))
    )
    # a real category may carry the pool's name (the retail loader's "Other"): it then is the
    # pool's column, listed once (a second one was a DuplicateError on real exports)
    used = keys + ([other] if other not in keys and pooled["key"].is_in([other]).any() else [])
    return _pivot(pooled.select("customer_id", "key", "share"), prefix, used)


def _top(long: pl.DataFrame, weight: str, n: int) -> list[str]:
    """The ``n`` keys with the largest total weight (ties by name)."""
    totals = long.group_by("key").agg(pl.col(weight).sum()).sort(weight, "key", descending=[True, False])
    return totals["key"].head(n).to_list()


def _behaviour(ws: Workspace, p: dict[str, object]) -> pl.DataFrame:
    """Event and basket behaviour per customer (only customers with data).

    Three scans: sessions (per customer × device), product views (per customer × category)
    and completed order lines; the rest is Polars on the aggregates. A session's device is
    the alphabetically first non-null device it logged ("unknown" when none).
    """
    ev_filter = "customer_id IS NOT NULL AND ts < $end + INTERVAL 1 DAY"
    per_device = ws.sql(
        f"""
        WITH s AS (
            SELECT customer_id, session_id,
                   coalesce(min(device), 'unknown') AS device,
                   count(*) FILTER (WHERE event_type = 'view') AS views,
                   bool_or(event_type = 'add_to_cart') AS carted,
                   bool_or(event_type = 'purchase') AS bought,
                   bool_or(event_type = 'view') AS viewed,
                   max(ts) AS last_ts
            FROM events WHERE {ev_filter}
            GROUP BY customer_id, session_id
        )
        SELECT customer_id, device AS key,
               count(*)::DOUBLE AS sessions,
               sum(views)::DOUBLE AS views,
               sum(carted::INT)::DOUBLE AS carted,
               sum((bought AND viewed)::INT)::DOUBLE AS converted,
               sum(viewed::INT)::DOUBLE AS viewed,
               max(last_ts)::DATE AS last_day
        FROM s GROUP BY 1, 2
        """,
        p,
    )
    end_day = pl.lit(p["end"]).cast(pl.Date)
    sessions = per_device.group_by("customer_id").agg(
        sessions=pl.col("sessions").sum(),
        views_per_session=pl.col("views").sum() / pl.col("sessions").sum(),
        cart_rate=pl.col("carted").sum() / pl.col("sessions").sum(),
        conversion=pl.when(pl.col("viewed").sum() > 0)
        .then(pl.col("converted").sum() / pl.col("viewed").sum())
        .otherwise(0.0),
        days_since_visit=(end_day - pl.col("last_day").max()).dt.total_days().cast(pl.Float64),
    )
    devices = _shares(per_device, "sessions", _top(per_device, "sessions", TOP_DEVICES), "other", "device_share:")
    views = ws.sql(
        """
        SELECT e.customer_id, coalesce(pr.category, 'Unknown') AS key, count(*)::DOUBLE AS n
        FROM events e LEFT JOIN products pr USING (product_id)
        WHERE e.customer_id IS NOT NULL AND e.ts < $end + INTERVAL 1 DAY
          AND e.event_type = 'view' AND e.product_id IS NOT NULL
        GROUP BY 1, 2
        """,
        p,
    )
    # product lines only: a charge (postage, fees) has no category and no reference price
    lines = f"""
        SELECT customer_id, product_id, quantity, unit_price, value FROM item_lines WHERE {_PURCHASE_FILTER}
    """
    buys = ws.sql(
        f"""
        SELECT l.customer_id, coalesce(pr.category, 'Unknown') AS key, sum(l.value)::DOUBLE AS n
        FROM ({lines}) l LEFT JOIN products pr USING (product_id)
        GROUP BY 1, 2
        """,
        p,
    )
    # top categories: by share of all views plus share of all spend
    weights = pl.concat([
        views.group_by("key").agg(w=pl.col("n").sum() / max(float(views["n"].sum()), 1e-300)),
        buys.group_by("key").agg(w=pl.col("n").sum() / max(float(buys["n"].sum()), 1e-300)),
    ])
    categories = _top(weights, "w", TOP_CATEGORIES)
    basket = ws.sql(
        f"""
        WITH ref AS (
            SELECT pr.product_id, coalesce(pr.category, 'Unknown') AS category,
                   coalesce(pr.price, m.med) AS ref_price
            FROM products pr LEFT JOIN (
                SELECT product_id, median(unit_price) AS med FROM item_lines
                WHERE unit_price > 0 GROUP BY product_id) m USING (product_id)
        ), band AS (
            SELECT product_id, ref_price,
                   CASE WHEN count(*) OVER (PARTITION BY category) > 1
                        THEN percent_rank() OVER (PARTITION BY category ORDER BY ref_price) ELSE 0.5 END AS band
            FROM ref WHERE ref_price > 0
        )
        SELECT customer_id,
               (sum(quantity * (unit_price < 0.95 * ref_price)::INT) / sum(quantity))::DOUBLE AS discount_share,
               (sum(quantity * band) / sum(quantity) FILTER (WHERE band IS NOT NULL))::DOUBLE AS price_band
        FROM ({lines}) l LEFT JOIN band USING (product_id)
        GROUP BY customer_id
        """,
        p,
    ).with_columns(pl.col("discount_share").fill_null(0.0))
    out = sessions
    for part in (
        basket,
        devices,
        _shares(views, "n", categories, "Other", "view_share:"),
        _shares(buys, "n", categories, "Other", "buy_share:"),
    ):
        out = out.join(part, on="customer_id", how="full", coalesce=True)
    return out.select("customer_id", *BEHAVIOUR_FEATURES, *[c for c in out.columns if c.startswith(SHARE_PREFIXES)])
