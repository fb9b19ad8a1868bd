"""Validation: coerce raw frames to the canonical schemas and report what was rejected.

Every rejected row is counted under a reason and the first examples keep the file (origin),
line, column and value, so the report says exactly what to fix. Fatal problems (no canonical
table at all, a required column missing) raise :class:`ShopperError` instead. Everything is
column-wise Polars; no Python loops over rows.

Rules, in order, per table:

1. required columns must exist (else fatal); optional ones missing are added as nulls;
2. values are coerced to the canonical dtype; a non-empty value that does not parse is a
   rejection ("unparseable ts");
3. required values must be non-null ("missing customer_id");
4. domain checks: status, event_type and order line kind map onto the canonical vocabularies
   (common synonyms such as ``canceled``, ``addtocart``, ``transaction``, ``shipping`` accepted),
   rating 1–5, product prices ≥ 0, quantities and prices at most 1e9 in size. Order lines with
   a quantity ≤ 0 or a negative price are kept: they are adjustments, which the purchase rules
   (:mod:`.purchases`) leave out of sales and the reconciliation lists; a line without a kind
   is a charge when its product id is a charge code (postage, fees…), else a product line;
5. keys: later duplicates of a primary key are rejected ("duplicate order_id");
6. references: items of unknown orders are rejected; orders of customers missing from the
   customers table and products referenced but missing from the catalogue are added as
   bare rows, and the report says how many.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import polars as pl

from .errors import ShopperError
from .purchases import is_charge
from .parsing import (
    MISSING_ID_TOKENS,
    as_text,
    clean_text,
    is_nested,
    parse_datetimes,
    to_floats,
    to_id_strings,
    to_integers,
)
from .schema import EVENT_TYPES, LINE_COLUMN, LINE_KINDS, NESTED_FLAG, ORDER_STATUSES, TABLES, TableSpec, empty_frame
from .sources import RawSource, RawTable

__all__ = ["TableReport", "ValidationReport", "Validated", "validate", "REJECT_SCHEMA", "MAX_STORED_REJECTS",
           "NESTED_REASON"]

#: Largest quantity or price accepted. Above it a value is a typo, a unit mistake or a sentinel
#: (9.99e307), and one such line would turn every revenue total and share into inf or nonsense.
MAX_AMOUNT = 1e9


def _too_large(column: str) -> str:
    return f"{column} above 1,000,000,000 (a typo or a placeholder?)"


REJECT_SCHEMA = {
    "table": pl.String(),
    "origin": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}
#: Why a row whose value is a JSON object or array (a nested Parquet value, an embedded
#: MongoDB document) where one value belongs was rejected.
NESTED_REASON = "nested document or array where a single value was expected"
#: Rejected rows kept per table in the workspace (all are counted).
MAX_STORED_REJECTS = 10_000
_EXAMPLES = 5

_STATUS_SYNONYMS = {
    "completed": "completed", "complete": "completed", "delivered": "completed", "shipped": "completed",
    "paid": "completed", "done": "completed", "fulfilled": "completed", "ok": "completed",
    "invoiced": "completed", "processing": "completed", "approved": "completed",
    # placed but not yet paid or shipped: an order the export does not mark cancelled or returned
    # is completed (the purchase rules); Olist's "created", Shopify's "pending"
    "created": "completed", "pending": "completed", "placed": "completed", "partially_refunded": "completed",
    "unavailable": "cancelled",
    "cancelled": "cancelled", "canceled": "cancelled", "cancel": "cancelled", "void": "cancelled",
    "returned": "returned", "return": "returned", "refunded": "returned", "refund": "returned",
}
_KIND_SYNONYMS = {
    "product": "product", "item": "product", "goods": "product", "line_item": "product", "merchandise": "product",
    "charge": "charge", "fee": "charge", "shipping": "charge", "postage": "charge", "delivery": "charge",
    "carriage": "charge", "discount": "charge", "tax": "charge", "surcharge": "charge", "commission": "charge",
    "adjustment": "charge", "service": "charge",
}
_EVENT_SYNONYMS = {
    "view": "view", "page_view": "view", "pageview": "view", "product_view": "view", "detail": "view",
    "search": "search",
    "add_to_cart": "add_to_cart", "addtocart": "add_to_cart", "add-to-cart": "add_to_cart", "cart": "add_to_cart",
    "add to cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart", "removefromcart": "remove_from_cart", "remove-from-cart": "remove_from_cart",
    "remove from cart": "remove_from_cart",
    "checkout": "checkout", "begin_checkout": "checkout",
    "purchase": "purchase", "transaction": "purchase", "order": "purchase", "buy": "purchase",
}


@dataclass
class TableReport:
    """What happened to one table."""

    table: str
    origin: str
    rows_read: int
    rows_kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Order lines only: reason → Σ quantity × unit price of the rejected lines whose quantity
    #: and price could be read, so the reconciliation adds up to the file's total.
    rejected_value: dict[str, float] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())


@dataclass
class ValidationReport:
    """Per-table reports plus source-level notes; serialisable to JSON for the workspace."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return sum(t.rows_rejected for t in self.tables.values())

    def to_json(self) -> str:
        return json.dumps({"tables": {k: asdict(v) for k, v in self.tables.items()}, "notes": self.notes})

    @classmethod
    def from_json(cls, text: str) -> ValidationReport:
        data = json.loads(text)
        return cls(tables={k: TableReport(**v) for k, v in data["tables"].items()}, notes=data["notes"])

    def lines(self) -> list[str]:
        """The report as plain text lines (CLI, Data screen)."""
        out: list[str] = []
        for t in self.tables.values():
            head = f"{t.table:<12} {t.rows_kept:>10,} kept of {t.rows_read:>10,} read  ({t.origin})"
            out.append(head)
            for reason, n in sorted(t.rejected.items(), key=lambda kv: -kv[1]):
                out.append(f"    rejected {n:,}: {reason}")
            for ex in t.examples:
                out.append(
                    f"      e.g. {ex['origin']} line {ex['line']}, column '{ex['column']}': {ex['value']!r} ({ex['reason']})"
                )
            out.extend(f"    note: {n}" for n in t.notes)
        out.extend(f"note: {n}" for n in self.notes)
        return out


@dataclass
class Validated:
    """Canonical frames (all six; absent ones empty), which were present, the report and the
    rejected rows (capped per table)."""

    tables: dict[str, pl.DataFrame]
    present: set[str]
    report: ValidationReport
    rejects: pl.DataFrame


class _Rejector:
    """Collects rejected rows of one table; the kept frame shrinks as rules apply."""

    def __init__(self, spec: TableSpec, origin: str, raw: pl.DataFrame) -> None:
        self.spec = spec
        self.origin = origin
        self.counts: dict[str, int] = {}
        self.values: dict[str, float] = {}
        self.frames: list[pl.DataFrame] = []
        self.stored = 0

    def reject(self, df: pl.DataFrame, mask: pl.Series, *, column: str, values: pl.Series, reason: str) -> pl.DataFrame:
        """Drop rows where mask is true, recording them; return the kept rows."""
        mask = mask.fill_null(False)
        n = int(mask.sum())
        if n == 0:
            return df
        self.counts[reason] = self.counts.get(reason, 0) + n
        if self.spec.name == "order_items":
            self.values[reason] = self.values.get(reason, 0.0) + _line_value(df.filter(mask))
        if self.stored < MAX_STORED_REJECTS:
            take = min(n, MAX_STORED_REJECTS - self.stored)
            lines = df.get_column(LINE_COLUMN).filter(mask).head(take)
            vals = as_text(values.filter(mask).head(take))
            self.frames.append(
                pl.DataFrame(
                    {
                        "table": pl.Series([self.spec.name] * take, dtype=pl.String),
                        "origin": pl.Series([self.origin] * take, dtype=pl.String),
                        "line": lines.cast(pl.Int64),
                        "column": pl.Series([column] * take, dtype=pl.String),
                        "value": vals,
                        "reason": pl.Series([reason] * take, dtype=pl.String),
                    }
                )
            )
            self.stored += take
        return df.filter(~mask)

    def rejects(self) -> pl.DataFrame:
        if not self.frames:
            return pl.DataFrame(schema=REJECT_SCHEMA)
        return pl.concat(self.frames)


def _line_value(rows: pl.DataFrame) -> float:
    """Σ quantity × unit price of order lines, over those whose two values read as numbers."""
    if "quantity" not in rows.columns or "unit_price" not in rows.columns:
        return 0.0
    q, p = rows.get_column("quantity"), rows.get_column("unit_price")
    q = q if q.dtype.is_numeric() else to_floats(q)
    p = p if p.dtype.is_numeric() else to_floats(p)
    return float((q.cast(pl.Float64) * p.cast(pl.Float64)).fill_nan(None).sum() or 0.0)


def _coerce(col: pl.Series, dtype: pl.DataType, *, is_id: bool) -> tuple[pl.Series, str | None]:
    if dtype == pl.String:
        if is_id:
            return to_id_strings(col, missing=MISSING_ID_TOKENS if col.name == "customer_id" else ()), None
        if col.dtype == pl.String:
            return clean_text(col), None
        out = as_text(col)
        return pl.select(pl.when(out.str.len_chars() == 0).then(None).otherwise(out)).to_series().alias(col.name), None
    if isinstance(dtype, pl.Datetime):
        parsed, how = parse_datetimes(col)
        note = None if how.family in ("native", "empty") else f"'{col.name}' read as {how.describe()}"
        return parsed, note
    if dtype.is_integer():
        return to_integers(col, dtype), None
    if dtype.is_float():
        return to_floats(col), None
    return col.cast(dtype, strict=False), None


def _vocabulary(col: pl.Series, synonyms: dict[str, str]) -> pl.Series:
    """Each value's canonical spelling (case and surrounding space ignored), null when it has
    none; worked out once per distinct value, then looked up for every row."""
    values = col.unique().drop_nulls()
    canonical = values.str.to_lowercase().str.strip_chars().replace_strict(synonyms, default=None,
                                                                            return_dtype=pl.String)
    if canonical.null_count() == 0 and (canonical == values).all():
        # every value already spelled the canonical way (a clean export): the column itself,
        # not a copy (16 M event types: 0.26 GB and 0.8 s)
        return col
    return col.replace_strict(values, canonical, default=None, return_dtype=pl.String)


def _blank(s: pl.Series) -> pl.Series:
    if s.dtype == pl.String:
        return s.is_null() | (s.str.strip_chars().str.len_chars() == 0)
    if s.dtype.is_float():
        return s.is_null() | s.is_nan()
    return s.is_null()


def _validate_table(raw: RawTable, charge_codes: tuple[str, ...] = ()) -> tuple[pl.DataFrame, TableReport, pl.DataFrame]:
    spec = TABLES[raw.name]
    df = raw.frame
    if LINE_COLUMN not in df.columns:
        df = df.with_row_index(LINE_COLUMN, offset=2).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    report = TableReport(table=spec.name, origin=raw.origin, rows_read=df.height, rows_kept=0)
    if raw.encoding:
        report.notes.append(f"not UTF-8; read as {raw.encoding}")
    present = [c for c in spec.columns if c in df.columns]
    missing_required = [c for c in spec.required if c not in df.columns]
    if missing_required:
        found = ", ".join(c for c in df.columns if c != LINE_COLUMN) or "no columns"
        raise ShopperError(
            f"{raw.origin}: required column{'s' if len(missing_required) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing_required)} missing from table '{spec.name}' (found: {found}).",
            hint=f"Table '{spec.name}' needs columns {', '.join(spec.required)}; rename the headers or map them.",
        )
    extra = [c for c in df.columns if c not in spec.schema and c != LINE_COLUMN and not c.startswith(NESTED_FLAG)]
    if extra:
        report.notes.append(f"ignored column{'s' if len(extra) > 1 else ''}: {', '.join(extra[:8])}{' …' if len(extra) > 8 else ''}")
    rj = _Rejector(spec, raw.origin, df)
    # 1b. a JSON object / array (nested Parquet) where a single value belongs: reject the row,
    # as the MongoDB loader does; the column is then read as text
    for name in present:
        col = df.get_column(name)
        if is_nested(col.dtype):
            df = rj.reject(df, col.is_not_null(), column=name, values=col, reason=NESTED_REASON)
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(name))
        elif NESTED_FLAG + name in df.columns:  # JSON text a loader flagged (see sources.files)
            df = rj.reject(df, df.get_column(NESTED_FLAG + name), column=name, values=col, reason=NESTED_REASON)
    # 2. coerce
    coerced: dict[str, pl.Series] = {}
    originals: dict[str, pl.Series] = {}
    for name in present:
        dtype = spec.schema[name]
        is_id = name.endswith("_id")
        original = df.get_column(name)
        new, note = _coerce(original, dtype, is_id=is_id)
        if note:
            report.notes.append(note)
        coerced[name] = new
        originals[name] = original
    work = df.select(LINE_COLUMN).with_columns(
        [coerced[c].alias(c) for c in present] + [originals[c].alias(f"__raw_{c}") for c in present]
    )
    for name in present:
        if originals[name].dtype == pl.String and spec.schema[name] == pl.String:
            continue  # text kept as text is null exactly when it was blank: nothing to reject
        nulls = work.get_column(name).is_null()
        if not nulls.any():
            continue  # every value read: none to look at (checking 16 M raw values took 0.7 s)
        bad = nulls & ~_blank(work.get_column(f"__raw_{name}"))
        work = rj.reject(work, bad, column=name, values=work.get_column(f"__raw_{name}"), reason=f"unparseable {name}")
    # 3. required non-null
    for name in spec.required:
        work = rj.reject(work, work.get_column(name).is_null(), column=name, values=work.get_column(f"__raw_{name}"),
                         reason=f"missing {name}")
    # 4. domain
    if spec.name == "orders":
        mapped = _vocabulary(work.get_column("status"), _STATUS_SYNONYMS)
        work = rj.reject(work, mapped.is_null(), column="status", values=work.get_column("status"),
                         reason=f"status not one of {', '.join(ORDER_STATUSES)}")
        work = work.with_columns(mapped.drop_nulls().alias("status"))  # the rows kept are the mapped ones
    if spec.name == "events":
        mapped = _vocabulary(work.get_column("event_type"), _EVENT_SYNONYMS)
        work = rj.reject(work, mapped.is_null(), column="event_type", values=work.get_column("event_type"),
                         reason=f"event_type not one of {', '.join(EVENT_TYPES)}")
        work = work.with_columns(mapped.drop_nulls().alias("event_type"))  # the rows kept are the mapped ones
    if spec.name == "reviews" and "rating" in present:
        r = work.get_column("rating")
        work = rj.reject(work, r.is_not_null() & ((r < 1) | (r > 5)), column="rating", values=work.get_column("__raw_rating"),
                         reason="rating outside 1–5")
    if spec.name == "order_items":
        # quantities ≤ 0 and negative prices are adjustments (kept, never sales): only sizes
        # that cannot be real are rejected
        work = rj.reject(work, work.get_column("quantity").abs() > MAX_AMOUNT, column="quantity",
                         values=work.get_column("__raw_quantity"), reason=_too_large("quantity"))
        work = rj.reject(work, work.get_column("unit_price").abs() > MAX_AMOUNT, column="unit_price",
                         values=work.get_column("__raw_unit_price"), reason=_too_large("unit_price"))
        if "kind" in present:
            given = work.get_column("kind")
            mapped = _vocabulary(given, _KIND_SYNONYMS)
            work = rj.reject(work, mapped.is_null() & given.is_not_null(), column="kind", values=given,
                             reason=f"kind not one of {', '.join(LINE_KINDS)}")
            work = work.with_columns(_vocabulary(work.get_column("kind"), _KIND_SYNONYMS).alias("kind"))
        else:
            work = work.with_columns(pl.lit(None, dtype=pl.String).alias("kind"))
            present.append("kind")
        if "product_id" not in present:
            work = work.with_columns(pl.lit(None, dtype=pl.String).alias("product_id"))
            present.append("product_id")
        if work.get_column("kind").null_count():  # lines whose kind the source did not say: by their code
            work = work.with_columns(
                pl.when(pl.col("kind").is_null())
                .then(pl.when(is_charge(pl.col("product_id"), charge_codes)).then(pl.lit("charge"))
                      .otherwise(pl.lit("product")))
                .otherwise(pl.col("kind")).alias("kind"))
    if spec.name == "products" and "price" in present:
        work = rj.reject(work, work.get_column("price") < 0, column="price", values=work.get_column("__raw_price"),
                         reason="negative price")
        work = rj.reject(work, work.get_column("price") > MAX_AMOUNT, column="price", values=work.get_column("__raw_price"),
                         reason=_too_large("price"))
    if spec.name == "customers" and "age" in present:
        a = work.get_column("age")
        work = rj.reject(work, (a < 0) | (a > 120), column="age", values=work.get_column("__raw_age"), reason="age outside 0–120")
    # 5. keys
    if spec.key:
        dup = work.select(pl.struct(list(spec.key)).is_first_distinct().not_()).to_series()
        k = spec.key[0]
        work = rj.reject(work, dup, column=k, values=work.get_column(k), reason=f"duplicate {k}")
    out = work.select(
        [LINE_COLUMN]
        + [pl.col(c) if c in present else pl.lit(None, dtype=spec.schema[c]).alias(c) for c in spec.columns]
    )
    report.rows_kept = out.height
    report.rejected = rj.counts
    report.rejected_value = rj.values
    return out, report, rj.rejects()


def _examples(rejects: pl.DataFrame) -> list[dict[str, object]]:
    if rejects.is_empty():
        return []
    firsts = rejects.group_by("reason", maintain_order=True).head(2).head(_EXAMPLES)
    return firsts.select("origin", "line", "column", "value", "reason").to_dicts()


def validate(raw: RawSource, *, consume: bool = False, charge_codes: tuple[str, ...] = ()) -> Validated:
    """Coerce a raw source to the canonical tables and report every rejection.

    Args:
        raw: What a loader read.
        consume: Take each table out of ``raw.tables`` as it is validated, so that the raw
            columns the validator replaced (timestamps read from text, say) are let go before
            the next table is validated rather than after all of them (0.8 GB of 16 M events).
        charge_codes: Product ids that are charges besides :data:`.purchases.CHARGE_CODES`
            (the settings' ``charge_codes``), for order lines without a kind.

    Returns:
        All six canonical tables (absent ones empty), the set present in the source, the
        report and the rejected rows (at most ``MAX_STORED_REJECTS`` kept per table).

    Raises:
        ShopperError: No canonical table was found, a required column is missing, or the
            source has no orders, events or reviews (nothing to analyse).
    """
    if not raw.tables:
        raise ShopperError(
            f"{raw.description}: no canonical table found.",
            hint="Name files after the tables (customers, products, orders, order_items, events, reviews) "
            "or give one retail transactions file.",
        )
    report = ValidationReport(notes=list(raw.notes))
    frames: dict[str, pl.DataFrame] = {}
    reject_frames: list[pl.DataFrame] = []
    if raw.loader_rejects is not None and not raw.loader_rejects.is_empty():
        # stored like the validator's own rejects: at most MAX_STORED_REJECTS per table (all are
        # counted), plus the first few of every reason so each one keeps its examples
        capped = raw.loader_rejects.filter(
            (pl.int_range(pl.len()).over("table") < MAX_STORED_REJECTS)
            | (pl.int_range(pl.len()).over("table", "reason") < _EXAMPLES)
        )
        reject_frames.append(capped.select(list(REJECT_SCHEMA)).cast(REJECT_SCHEMA))
    for name in TABLES:
        if name in raw.tables:
            df, rep, rej = _validate_table(raw.tables.pop(name) if consume else raw.tables[name], charge_codes)
            frames[name] = df
            report.tables[name] = rep
            reject_frames.append(rej)
    if raw.loader_rejects is not None and not raw.loader_rejects.is_empty():
        lr = raw.loader_rejects
        for table in lr.get_column("table").unique().to_list():
            sub = lr.filter(pl.col("table") == table)
            rep = report.tables.get(table)
            if rep is None:
                continue
            rep.rows_read += sub.height
            for reason, n in sub.group_by("reason", maintain_order=True).len().iter_rows():
                rep.rejected[reason] = rep.rejected.get(reason, 0) + n
            if "amount" in sub.columns:  # a loader's rejected lines with their q × p, where readable
                for reason, value in sub.group_by("reason").agg(pl.col("amount").sum()).iter_rows():
                    rep.rejected_value[reason] = rep.rejected_value.get(reason, 0.0) + float(value or 0.0)
    present = set(frames)
    if "orders" not in frames and "events" not in frames and "reviews" not in frames:
        raise ShopperError(
            f"{raw.description}: no orders, events or reviews were found, so there is nothing to analyse.",
            hint="Add an orders (+ order_items) file, an events file or a reviews file.",
        )
    if "orders" in frames and "order_items" not in frames:
        raise ShopperError(f"{raw.description}: orders were found but no order_items; revenue cannot be computed.",
                           hint="Add order_items (order_id, product_id, quantity, unit_price).")
    _check_references(frames, report, reject_frames)
    for name in TABLES:
        if name not in frames:
            frames[name] = empty_frame(name)
        else:
            frames[name] = frames[name].drop(LINE_COLUMN)
    for rep in report.tables.values():
        rep.rows_kept = rep.rows_read - rep.rows_rejected
    rejects = pl.concat([r for r in reject_frames if not r.is_empty()]) if any(
        not r.is_empty() for r in reject_frames) else pl.DataFrame(schema=REJECT_SCHEMA)
    for name, rep in report.tables.items():
        rep.examples = _examples(rejects.filter(pl.col("table") == name))
    return Validated(tables=frames, present=present, report=report, rejects=rejects)


def _distinct(columns: list[pl.Series]) -> pl.Series:
    """The distinct non-null values of several columns. Each is made distinct on its own first:
    putting 16 M event customer ids next to the orders' copied them all (0.26 GB at L)."""
    return pl.concat([c.drop_nulls().unique() for c in columns]).unique()


def _check_references(frames: dict[str, pl.DataFrame], report: ValidationReport, reject_frames: list[pl.DataFrame]) -> None:
    # items of unknown orders cannot be attributed to anyone: reject them
    if "order_items" in frames and "orders" in frames:
        items = frames["order_items"]
        known = frames["orders"].get_column("order_id")
        bad = ~items.get_column("order_id").is_in(known.implode())
        rj = _Rejector(TABLES["order_items"], report.tables["order_items"].origin, items)
        frames["order_items"] = rj.reject(items, bad, column="order_id", values=items.get_column("order_id"),
                                          reason="order_id not in orders")
        for reason, n in rj.counts.items():
            rep = report.tables["order_items"]
            rep.rejected[reason] = rep.rejected.get(reason, 0) + n
            rep.rejected_value[reason] = rep.rejected_value.get(reason, 0.0) + rj.values.get(reason, 0.0)
        reject_frames.append(rj.rejects())
    # customers referenced by orders / events / reviews but absent: add bare rows
    refs = [frames[t].get_column("customer_id") for t in ("orders", "events", "reviews") if t in frames]
    if refs:
        referenced = _distinct(refs)
        if "customers" in frames:
            missing = referenced.filter(~referenced.is_in(frames["customers"].get_column("customer_id").implode()))
            if missing.len():
                report.tables["customers"].notes.append(
                    f"{missing.len():,} customer ids used in orders/events/reviews are not in the customers table; "
                    "added with no profile")
        else:
            missing = referenced
            report.notes.append(f"no customers table: {missing.len():,} customers taken from orders/events/reviews")
        if missing.len():
            cols = [LINE_COLUMN] + TABLES["customers"].columns
            add = (empty_frame("customers").clear(missing.len()).with_columns(customer_id=missing.sort())
                   .with_columns(pl.lit(None, dtype=pl.Int64).alias(LINE_COLUMN)).select(cols))
            base = frames.get("customers")
            frames["customers"] = add if base is None else pl.concat([base.select(cols), add])
    # products referenced but absent from the catalogue: add bare rows with category '(unknown)'
    # charge lines (postage, fees) name no product: they never become catalogue rows
    prefs = [(frames[t].filter(pl.col("kind") == "product") if t == "order_items" else frames[t]).get_column("product_id")
             for t in ("order_items", "events", "reviews") if t in frames]
    if prefs:
        referenced = _distinct(prefs)
        if "products" in frames:
            missing = referenced.filter(~referenced.is_in(frames["products"].get_column("product_id").implode()))
            if missing.len():
                report.tables["products"].notes.append(
                    f"{missing.len():,} product ids used in order_items/events/reviews are not in the products table; "
                    "added with category '(unknown)'")
        else:
            missing = referenced
            report.notes.append(f"no products table: {missing.len():,} products taken from order_items/events/reviews, "
                                "category '(unknown)'")
        if missing.len():
            add = (empty_frame("products").clear(missing.len())
                   .with_columns(product_id=missing.sort(), category=pl.lit("(unknown)"))
                   .with_columns(pl.lit(None, dtype=pl.Int64).alias(LINE_COLUMN)))
            base = frames.get("products")
            cols = [LINE_COLUMN] + TABLES["products"].columns
            frames["products"] = add.select(cols) if base is None else pl.concat([base.select(cols), add.select(cols)])
