"""Aggregation pushdown: per-customer RFM inputs, category spend and funnel step counts
computed by the MongoDB server, so only aggregates travel.

For collections too big to copy, :func:`aggregate_mongo` runs three pipelines
(``$match`` / ``$unwind`` / ``$group``, plus one ``$lookup`` into the catalogue) and returns an
:class:`Aggregates` from which the engine's numbers follow exactly as after a full import:

* ``purchase_days`` — customer_id, day, orders, value: one row per customer and calendar day
  with a completed purchase. That is all both RFM definitions need: the lifetimes one sums
  purchases per period (days, or weeks made of days) and the marketing one counts orders
  and measures recency in whole days. :meth:`Aggregates.rfm_lifetimes` and
  :meth:`Aggregates.rfm_marketing` give the frames of :func:`..rfm.rfm_lifetimes` and
  :func:`..rfm.rfm_marketing`.
* ``category_spend`` — customer_id, category, lines, units, spend from completed orders'
  product lines (sold, not charges): the purchase facts of segment × category affinity
  (:meth:`Aggregates.segment_affinity` = :func:`..affinity.segment_affinity` with
  ``by="category", basis="purchases"``).
* ``funnel_sessions`` — one row per combination of funnel steps a session did (a flag per
  step) and how many sessions did exactly that: :meth:`Aggregates.funnel_counts` gives the
  unique sessions reaching each step in :func:`..funnels.funnel`'s ``mode="any"`` with an
  unbounded window (order and time windows need per-event data, so they are not pushed down).

**Same rules as the import.** A purchase is a document of the transactions collection whose
status maps to "completed" with the validator's synonyms (case and spaces ignored), with a
customer id and a timestamp (a BSON date, or text the server's ``$convert`` reads as a date),
valued at Σ quantity × unit_price over its sold lines (quantity > 0, price ≥ 0; numbers, or
numeric text), charges included; category spend leaves the charge codes out (see
:mod:`..purchases`). Pushdown needs a customer id, so guest orders are not in its aggregates.
Field names follow the loader's synonyms (``user_id`` → customer_id, ``timestamp`` → ts, …,
first one holding a value wins); line items come from the embedded array the loader would
unwind, or from an ``order_items`` collection joined with ``$lookup``. Customer ids are
normalised client-side exactly as the validator does (``17850.0`` → ``"17850"``, spaces
stripped) and the aggregates re-summed after that. Categories come from the catalogue by a
``$lookup`` on the product id; a product missing from it, with a blank category or a negative
price (rows the import rejects and re-adds as bare products) counts as "(unknown)".
What pushdown cannot reproduce: timestamps only the client-side parser reads (day-first
text such as ``31/12/2025``), and later duplicates of an ``order_id`` (the import keeps the
first; pushdown counts every document). Orders it had to skip are counted in the notes.

Indexes help: the category ``$lookup`` matches the catalogue's id field (``_id`` is always
indexed; index ``products.product_id`` when that is the key), the ``order_items`` lookup
its ``order_id``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice

import polars as pl

from ..errors import ShopperError
from ..parsing import to_id_strings
from ..purchases import charge_pattern
from ..rfm import quintile_scores, rfm_grid_expr, rfm_lifetimes
from ..schema import EVENT_TYPES
from ..validate import _EVENT_SYNONYMS, _STATUS_SYNONYMS
from . import ProgressFn, _no_progress, mask_uri
from .mongo import (
    _EVENT_ARRAYS,
    _ITEM_ARRAYS,
    BATCH_SIZE,
    _database,
    _Loader,
    _names,
    _resolve,
    _series,
)

__all__ = [
    "PUSHDOWN_DOCUMENTS",
    "DEFAULT_FUNNEL_STEPS",
    "ModeChoice",
    "Aggregates",
    "choose_mode",
    "aggregate_mongo",
]

#: Above this many documents in the transactions + events (or sessions) collections, the
#: source is aggregated on the server instead of copied.
PUSHDOWN_DOCUMENTS = 2_000_000
DEFAULT_FUNNEL_STEPS = ("view", "add_to_cart", "checkout", "purchase")
UNKNOWN_CATEGORY = "(unknown)"  # what the validator names products missing from the catalogue

_COMPLETED = sorted(k for k, v in _STATUS_SYNONYMS.items() if v == "completed")
_DAY_SCHEMA = {"customer_id": pl.String(), "day": pl.Datetime("us"), "orders": pl.Int64(), "value": pl.Float64()}
_CAT_SCHEMA = {"customer_id": pl.String(), "category": pl.String(), "lines": pl.Int64(), "units": pl.Int64(),
               "spend": pl.Float64()}


@dataclass(frozen=True)
class ModeChoice:
    """How a MongoDB source should be read.

    Attributes:
        mode: "import" (copy the collections into a workspace) or "pushdown" (aggregate on
            the server).
        reason: One line for the user ("transactions holds 12,000,000 documents, over …").
        documents: Estimated documents per collection looked at.
    """

    mode: str
    reason: str
    documents: dict[str, int]


# -- expressions ----------------------------------------------------------------------------

def _coalesce(paths: Iterable[str]) -> object:
    """``$ifNull`` chain over field paths: the first holding a non-null value (nested two-argument
    form, which every server version understands)."""
    paths = [f"${p}" for p in paths]
    expr: object = paths[-1]
    for p in reversed(paths[:-1]):
        expr = {"$ifNull": [p, expr]}
    return expr


def _field_expr(table: str, column: str, *, prefix: str = "", extra: tuple[str, ...] = ()) -> object:
    return _coalesce([f"{prefix}{n}" for n in (*_names(column, table), *extra)])


def _to(expr: object, kind: str) -> object:
    return {"$convert": {"input": expr, "to": kind, "onError": None, "onNull": None}}


def _normalised_text(expr: object) -> object:
    """Lower-case trimmed text of a value ('' for null or non-text-convertible values)."""
    return {"$toLower": {"$trim": {"input": {"$ifNull": [_to(expr, "string"), ""]}}}}


def _positive(expr: str) -> dict:
    return {"$and": [{"$ne": [expr, None]}, {"$gt": [expr, 0]}]}


def _order_prefix(loader: _Loader, name: str) -> tuple[list[dict], str]:
    """Stages turning transaction documents into one row per valid purchase line:
    ``o`` (order document id), ``c`` (raw customer id), ``d`` (day), ``p`` (product id), ``q``,
    ``u`` (unit price). Returns the stages and a description of where lines came from."""
    match_completed = {"$match": {"$expr": {"$in": [_normalised_text(_field_expr("orders", "status")), _COMPLETED]}}}
    order_fields = {
        "c": _field_expr("orders", "customer_id"),
        "t": _to(_field_expr("orders", "ts"), "date"),
    }
    array = loader.embedded_array(name, _ITEM_ARRAYS)
    stages: list[dict] = [match_completed]
    if array:
        stages += [{"$project": {**order_fields, "__i": f"${array}"}}, {"$unwind": "$__i"}]
        where = f"'{array}' of collection '{name}'"
    elif "order_items" in loader.resolved:
        items = loader.resolved["order_items"]
        seen = loader.peek(items, _names("order_id", "order_items"))
        foreign = next((n for n in _names("order_id", "order_items") if n in seen), "order_id")
        stages += [
            {"$project": {**order_fields, "__oid": _field_expr("orders", "order_id", extra=("_id",))}},
            {"$lookup": {"from": items, "localField": "__oid", "foreignField": foreign, "as": "__i"}},
            {"$unwind": "$__i"},
        ]
        where = f"collection '{items}' (joined on {foreign})"
    else:
        raise ShopperError(
            f"Documents of collection '{name}' have no {' / '.join(map(repr, _ITEM_ARRAYS))} array and there is "
            "no order_items collection, so purchases have no value to aggregate."
        )
    line = {
        "o": "$_id",
        "c": 1,
        "d": {"$dateTrunc": {"date": "$t", "unit": "day"}},
        "p": _field_expr("order_items", "product_id", prefix="__i."),
        "q": _to(_field_expr("order_items", "quantity", prefix="__i."), "double"),
        "u": _to(_field_expr("order_items", "unit_price", prefix="__i."), "double"),
    }
    stages += [
        {"$match": {"t": {"$ne": None}}},
        {"$project": line},
        # a sold line (the purchase rules of ..purchases): quantity > 0 and price ≥ 0
        {"$match": {"$expr": {"$and": [_positive("$q"), {"$ne": ["$u", None]}, {"$gte": ["$u", 0]}]}}},
    ]
    return stages, where


def _product_key(loader: _Loader) -> str | None:
    name = loader.resolved.get("products")
    if name is None:
        return None
    seen = loader.peek(name, _names("product_id", "products"))
    return next((n for n in _names("product_id", "products") if n in seen), "_id")


def _purchase_days_pipeline(prefix: list[dict]) -> list[dict]:
    return [
        *prefix,
        {"$group": {"_id": "$o", "c": {"$first": "$c"}, "d": {"$first": "$d"},
                    "v": {"$sum": {"$multiply": ["$q", "$u"]}}}},
        {"$group": {"_id": {"c": "$c", "d": "$d"}, "orders": {"$sum": 1}, "value": {"$sum": "$v"}}},
    ]


def _category_pipeline(prefix: list[dict], products: str | None, key: str | None) -> list[dict]:
    per_product = {"$group": {"_id": {"c": "$c", "p": "$p"}, "lines": {"$sum": 1}, "units": {"$sum": "$q"},
                              "spend": {"$sum": {"$multiply": ["$q", "$u"]}}}}
    # charges (postage, fees) are no items: they never count towards a category
    prefix = [*prefix, {"$match": {"$expr": {"$not": [{"$regexMatch": {
        "input": {"$toUpper": {"$toString": {"$ifNull": ["$p", ""]}}}, "regex": charge_pattern()}}]}}}]
    if products is None:
        return [*prefix, per_product,
                {"$group": {"_id": {"c": "$_id.c", "k": None, "bad": True},
                            "lines": {"$sum": "$lines"}, "units": {"$sum": "$units"}, "spend": {"$sum": "$spend"}}}]
    first = {"$arrayElemAt": ["$__prod", 0]}  # ``$first`` of an array path is missing on some servers
    category = _coalesce_get(first, _names("category", "products"))
    price = _to(_coalesce_get(first, _names("price", "products")), "double")
    return [
        *prefix,
        per_product,
        {"$lookup": {"from": products, "localField": "_id.p", "foreignField": key, "as": "__prod"}},
        {"$project": {"lines": 1, "units": 1, "spend": 1, "k": category,
                      "bad": {"$or": [{"$eq": [{"$size": "$__prod"}, 0]},
                                      {"$and": [{"$ne": [price, None]}, {"$lt": [price, 0]}]}]}}},
        {"$group": {"_id": {"c": "$_id.c", "k": "$k", "bad": "$bad"},
                    "lines": {"$sum": "$lines"}, "units": {"$sum": "$units"}, "spend": {"$sum": "$spend"}}},
    ]


def _coalesce_get(doc: object, fields: tuple[str, ...]) -> object:
    expr: object = None
    for f in reversed(fields):
        expr = {"$ifNull": [{"$getField": {"field": f, "input": doc}}, expr]}
    return expr


def _event_type_expr(expr: object) -> object:
    """Raw event type → canonical type (the validator's synonyms), else null."""
    text = _normalised_text(expr)
    branches = [{"case": {"$in": [text, sorted(k for k, v in _EVENT_SYNONYMS.items() if v == canon)]}, "then": canon}
                for canon in EVENT_TYPES]
    return {"$switch": {"branches": branches, "default": None}}


def _funnel_pipeline(loader: _Loader, steps: tuple[str, ...]) -> tuple[str, list[dict], str] | None:
    """(collection, pipeline, description) counting sessions per combination of steps done."""
    flags = {f"f{i}": {"$max": {"$cond": [{"$eq": ["$e", s]}, 1, 0]}} for i, s in enumerate(steps)}
    tail = [
        {"$match": {"s": {"$ne": None}, "t": {"$ne": None}, "e": {"$in": list(steps)}}},
        {"$group": {"_id": "$s", **flags}},
        {"$group": {"_id": {f"f{i}": f"$f{i}" for i in range(len(steps))}, "sessions": {"$sum": 1}}},
    ]
    if "events" in loader.resolved:
        name = loader.resolved["events"]
        head = [{"$project": {"s": _field_expr("events", "session_id"), "t": _to(_field_expr("events", "ts"), "date"),
                              "e": _event_type_expr(_field_expr("events", "event_type"))}}]
        return name, head + tail, f"collection '{name}'"
    sessions = loader.resolved.get("sessions")
    array = loader.embedded_array(sessions, _EVENT_ARRAYS) if sessions else None
    if not array:
        return None
    head = [
        {"$project": {"s": _field_expr("events", "session_id", extra=("_id",)), "__e": f"${array}"}},
        {"$unwind": "$__e"},
        {"$project": {"s": 1, "t": _to(_field_expr("events", "ts", prefix="__e."), "date"),
                      "e": _event_type_expr(_field_expr("events", "event_type", prefix="__e."))}},
    ]
    return sessions, head + tail, f"'{array}' of collection '{sessions}'"


# -- reading results ------------------------------------------------------------------------

def _drain(cursor: object) -> list[dict]:
    out: list[dict] = []
    while batch := list(islice(cursor, BATCH_SIZE)):
        out.extend(batch)
    return out


def _ids(values: list[object]) -> pl.Series:
    """Raw id values → the validator's id strings (nested values become null)."""
    return to_id_strings(_series("id", values)[0])


def _keys(docs: list[dict], key: str) -> list[object]:
    return [d["_id"].get(key) for d in docs]


def _purchase_days(docs: list[dict]) -> tuple[pl.DataFrame, int]:
    """Aggregated rows → (frame, orders skipped for lack of a usable customer id or timestamp)."""
    raw = pl.DataFrame({
        "customer_id": _ids(_keys(docs, "c")),
        "day": pl.Series(_keys(docs, "d"), dtype=pl.Datetime("us")),
        "orders": pl.Series([d["orders"] for d in docs], dtype=pl.Int64),
        "value": pl.Series([d["value"] for d in docs], dtype=pl.Float64),
    }, schema=_DAY_SCHEMA)
    usable = pl.col("customer_id").is_not_null() & pl.col("day").is_not_null()
    skipped = int(raw.filter(~usable)["orders"].sum() or 0)
    frame = (raw.filter(usable).group_by("customer_id", "day")
             .agg(pl.col("orders").sum(), pl.col("value").sum()).sort("customer_id", "day"))
    return frame.select(list(_DAY_SCHEMA)).cast(_DAY_SCHEMA), skipped


def _category_spend(docs: list[dict]) -> pl.DataFrame:
    raw_cat = _series("category", _keys(docs, "k"))[0]
    category = raw_cat.cast(pl.String, strict=False).str.strip_chars()
    raw = pl.DataFrame({
        "customer_id": _ids(_keys(docs, "c")),
        "category": category,
        "bad": pl.Series(_keys(docs, "bad"), dtype=pl.Boolean),
        "lines": pl.Series([d["lines"] for d in docs], dtype=pl.Int64),
        "units": pl.Series([d["units"] for d in docs], dtype=pl.Float64),
        "spend": pl.Series([d["spend"] for d in docs], dtype=pl.Float64),
    })
    known = ~pl.col("bad").fill_null(True) & pl.col("category").is_not_null() & (pl.col("category").str.len_chars() > 0)
    frame = (raw.filter(pl.col("customer_id").is_not_null())
             .with_columns(category=pl.when(known).then(pl.col("category")).otherwise(pl.lit(UNKNOWN_CATEGORY)))
             .group_by("customer_id", "category")
             .agg(pl.col("lines").sum(), pl.col("units").sum().round(0).cast(pl.Int64), pl.col("spend").sum())
             .sort("customer_id", "category"))
    return frame.select(list(_CAT_SCHEMA)).cast(_CAT_SCHEMA)


def _funnel_sessions(docs: list[dict], steps: tuple[str, ...]) -> pl.DataFrame:
    cols = {s: pl.Series([bool(d["_id"].get(f"f{i}")) for d in docs], dtype=pl.Boolean) for i, s in enumerate(steps)}
    frame = pl.DataFrame({**cols, "sessions": pl.Series([d["sessions"] for d in docs], dtype=pl.Int64)},
                         schema={**{s: pl.Boolean() for s in steps}, "sessions": pl.Int64()})
    return frame.sort(list(steps), descending=True)


# -- the result -------------------------------------------------------------------------------

@dataclass
class Aggregates:
    """Server-side aggregates of one MongoDB database (see the module docstring).

    Attributes:
        source: The masked URI.
        mode: Always "pushdown" (what the app shows as the import mode).
        purchase_days: customer_id, day, orders, value.
        category_spend: customer_id, category, lines, units, spend.
        funnel_sessions: One Boolean column per step and ``sessions``; empty without events.
        steps: The funnel steps of ``funnel_sessions``.
        documents_received: Aggregate documents received per pipeline (what travelled).
        notes: Where each aggregate came from, what was skipped.
        seconds: Wall time.
    """

    source: str
    mode: str
    purchase_days: pl.DataFrame
    category_spend: pl.DataFrame
    funnel_sessions: pl.DataFrame
    steps: tuple[str, ...]
    documents_received: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def _purchases(self) -> pl.DataFrame:
        return self.purchase_days.select("customer_id", pl.col("day").alias("ts"), "value")

    def rfm_lifetimes(self, *, observation_end: date | datetime | str | None = None, freq: str = "D") -> pl.DataFrame:
        """:func:`..rfm.rfm_lifetimes` on the pushed-down purchases (``freq`` "D" or "W":
        purchases are aggregated per day, so hourly periods are not available)."""
        if freq not in ("D", "W"):
            raise ShopperError(f"RFM from server-side aggregates uses days or weeks, not {freq!r}.",
                               hint="Import the collections (no pushdown) for hourly periods.")
        return rfm_lifetimes(self._purchases(), observation_end=observation_end, freq=freq)

    def rfm_marketing(self, *, observation_end: date | datetime | str | None = None) -> pl.DataFrame:
        """:func:`..rfm.rfm_marketing` on the pushed-down purchases: same columns, scores
        and grid names (``orders`` is the number of completed orders, summed per day)."""
        end = (pl.col("day").max() if observation_end is None
               else pl.lit(_day(observation_end), dtype=pl.Datetime("us")))
        per = (
            self.purchase_days.lazy().with_columns(end=end).filter(pl.col("day") <= pl.col("end"))
            .group_by("customer_id")
            .agg(last=pl.col("day").max(), end=pl.col("end").first(), orders=pl.col("orders").sum().cast(pl.Int64),
                 spend=pl.col("value").sum().cast(pl.Float64))
            .select("customer_id", recency_days=(pl.col("end") - pl.col("last")).dt.total_days().cast(pl.Int64),
                    orders="orders", spend="spend")
            .with_columns(r_score=quintile_scores(pl.col("recency_days"), higher_is_better=False),
                          f_score=quintile_scores(pl.col("orders")), m_score=quintile_scores(pl.col("spend")))
            .with_columns(rfm_cell=pl.concat_str(pl.col("r_score"), pl.col("f_score"), pl.col("m_score")),
                          segment=rfm_grid_expr(pl.col("r_score"), pl.col("f_score")))
            .sort("customer_id")
        )
        return per.collect()

    def segment_affinity(self, labels: pl.DataFrame, *, measure: str = "spend") -> pl.DataFrame:
        """:func:`..affinity.segment_affinity` (``by="category"``, ``basis="purchases"``) on the
        pushed-down category facts; same columns, same definitions."""
        if measure not in ("spend", "units"):
            raise ShopperError(f"Affinity measure '{measure}' is not supported; use spend or units.")
        lab = labels.select(
            pl.col("customer_id").cast(pl.String), pl.col("segment_id").cast(pl.Int64),
            (pl.col("segment") if "segment" in labels.columns else pl.col("segment_id").cast(pl.String)).alias("segment"),
        )
        facts = self.category_spend.select("customer_id", item="category", amount=pl.col(measure).cast(pl.Float64))
        seg = facts.join(lab, on="customer_id")
        overall = seg.group_by("item").agg(o_amount=pl.col("amount").sum(), o_customers=pl.col("customer_id").n_unique())
        tot_amount = float(seg["amount"].sum() or 0.0)
        tot_customers = lab.height
        sizes = lab.group_by("segment_id").agg(pl.col("segment").first(), segment_customers=pl.len())
        seg_tot = seg.group_by("segment_id").agg(t_amount=pl.col("amount").sum())
        cell = seg.group_by("segment_id", "item").agg(amount=pl.col("amount").sum(),
                                                      customers=pl.col("customer_id").n_unique())
        out = (
            sizes.join(overall, how="cross")
            .join(seg_tot, on="segment_id", how="left")
            .join(cell, on=["segment_id", "item"], how="left")
            .with_columns(
                share=pl.col("amount") / _nullif0(pl.col("t_amount")),
                penetration=pl.col("customers") / pl.col("segment_customers"),
            )
            .with_columns(
                index=100 * pl.col("share") / _nullif0(pl.col("o_amount") / tot_amount),
                lift=pl.col("penetration") / _nullif0(pl.col("o_customers") / tot_customers),
            )
        )
        return out.select(
            "segment_id", "segment", "item", "amount", pl.col("customers").cast(pl.Int64),
            pl.col("segment_customers").cast(pl.Int64), "share", "index", "penetration", "lift",
        ).sort("segment_id", "item")

    def funnel_counts(self, steps: Iterable[str] | None = None) -> pl.DataFrame:
        """Unique sessions reaching each step: having done steps 1..k, in any order, with no
        time window (``funnels.funnel(mode="any")`` with an unbounded window).

        Returns:
            step_index (1-based), step, count, conversion_from_previous, conversion_from_first.
        """
        steps = tuple(steps or self.steps)
        unknown = [s for s in steps if s not in self.steps]
        if unknown:
            raise ShopperError(f"Step '{unknown[0]}' was not aggregated; the pushed-down steps are {', '.join(self.steps)}.")
        counts = [int(self.funnel_sessions.filter(pl.all_horizontal(pl.col(list(steps[: k + 1]))))["sessions"].sum() or 0)
                  for k in range(len(steps))]
        frame = pl.DataFrame({"step_index": range(1, len(steps) + 1), "step": list(steps), "count": counts},
                             schema={"step_index": pl.Int64(), "step": pl.String(), "count": pl.Int64()})
        return frame.with_columns(
            conversion_from_previous=pl.col("count") / _nullif0(pl.col("count").shift(1).fill_null(pl.col("count"))),
            conversion_from_first=pl.col("count") / _nullif0(pl.col("count").first()),
        )


def _nullif0(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == 0).then(None).otherwise(expr)


def _day(value: date | datetime | str) -> datetime:
    from ..rfm import _as_datetime

    d = _as_datetime(value)
    return datetime(d.year, d.month, d.day)


# -- entry points -------------------------------------------------------------------------

def choose_mode(
    uri: str,
    *,
    collections: dict[str, str] | None = None,
    max_documents: int = PUSHDOWN_DOCUMENTS,
    timeout_ms: int | None = None,
) -> ModeChoice:
    """Decide between copying the collections and aggregating on the server.

    Counts come from collection metadata (``estimatedDocumentCount``), no scan.

    Raises:
        ShopperError: As :func:`.mongo.load_mongo` for connection problems.
    """
    with _database(uri, timeout_ms=timeout_ms) as (db, _):
        loader = _Loader(db, _resolve(db, uri, collections), _no_progress)
        big = {name: loader.count(name) for role, name in loader.resolved.items()
               if role in ("transactions", "order_items", "events", "sessions")}
    total = sum(big.values())
    listed = ", ".join(f"{n} {c:,}" for n, c in sorted(big.items()))
    if total > max_documents:
        return ModeChoice("pushdown", f"{total:,} documents ({listed}) is over {max_documents:,}: "
                          "aggregating on the server, only aggregates are transferred", big)
    return ModeChoice("import", f"{total:,} documents ({listed}): copying the collections", big)


def aggregate_mongo(
    uri: str,
    *,
    collections: dict[str, str] | None = None,
    steps: Iterable[str] = DEFAULT_FUNNEL_STEPS,
    progress: ProgressFn | None = None,
    timeout_ms: int | None = None,
) -> Aggregates:
    """Compute RFM inputs, customer × category facts and funnel step counts on the server.

    Args:
        uri: ``mongodb://…/dbname``.
        collections: Role → collection name overrides, as for :func:`.mongo.load_mongo`.
        steps: Funnel steps to flag per session (event types).
        progress: ``progress(step, None)`` before each pipeline; may raise ``Cancelled``.
        timeout_ms: Server selection timeout (see :func:`.mongo.load_mongo`).

    Raises:
        ShopperError: Unreachable server, no transactions collection, line items nowhere,
            an unknown step, or a server error (message masked).
    """
    started = time.perf_counter()
    steps = tuple(steps)
    bad = [s for s in steps if s not in EVENT_TYPES]
    if bad:
        raise ShopperError(f"Unknown funnel step '{bad[0]}'; steps are event types: {', '.join(EVENT_TYPES)}.")
    report = progress or _no_progress
    notes: list[str] = []
    received: dict[str, int] = {}
    with _database(uri, timeout_ms=timeout_ms) as (db, _):
        loader = _Loader(db, _resolve(db, uri, collections), report)
        if "transactions" not in loader.resolved:
            raise ShopperError(f"Database '{db.name}' at {mask_uri(uri)}: {loader.absent('transactions')}, "
                               "so there are no purchases to aggregate.")
        orders = loader.resolved["transactions"]
        prefix, where = _order_prefix(loader, orders)
        opts = {"allowDiskUse": True, "batchSize": BATCH_SIZE}

        report(f"aggregating purchases per customer and day in '{orders}'", None)
        with db[orders].aggregate(_purchase_days_pipeline(prefix), **opts) as cursor:
            docs = _drain(cursor)
        received["purchase_days"] = len(docs)
        purchase_days, skipped = _purchase_days(docs)
        notes.append(f"purchases aggregated on the server from collection '{orders}', lines from {where}")
        if skipped:
            notes.append(f"{skipped:,} completed orders skipped: no usable customer id or timestamp")

        products = loader.resolved.get("products")
        key = _product_key(loader)
        report("aggregating spend per customer and category", None)
        with db[orders].aggregate(_category_pipeline(prefix, products, key), **opts) as cursor:
            docs = _drain(cursor)
        received["category_spend"] = len(docs)
        category_spend = _category_spend(docs)
        notes.append(f"categories looked up in collection '{products}' by '{key}'" if products
                     else f"{loader.absent('products')}: every category is '{UNKNOWN_CATEGORY}'")

        funnel_sessions = pl.DataFrame(schema={**{s: pl.Boolean() for s in steps}, "sessions": pl.Int64()})
        plan = _funnel_pipeline(loader, steps)
        if plan is None:
            notes.append(f"{loader.absent('events')} and no sessions with embedded events: no funnel counts")
            received["funnel_sessions"] = 0
        else:
            name, pipeline, described = plan
            report(f"counting funnel steps per session in '{name}'", None)
            with db[name].aggregate(pipeline, **opts) as cursor:
                docs = _drain(cursor)
            received["funnel_sessions"] = len(docs)
            funnel_sessions = _funnel_sessions(docs, steps)
            notes.append(f"funnel steps counted on the server from {described}")
    return Aggregates(
        source=mask_uri(uri), mode="pushdown", purchase_days=purchase_days, category_spend=category_spend,
        funnel_sessions=funnel_sessions, steps=steps, documents_received=received, notes=notes,
        seconds=time.perf_counter() - started,
    )
