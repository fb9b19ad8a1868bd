"""The data contract: six canonical tables every source is normalised into.

Each table is described by a :class:`TableSpec` holding its Polars schema, which columns are
required (must exist in the source and be non-null in every kept row), its primary key and
its foreign keys. The validator (:mod:`shopper_tui.analytics.validate`) coerces raw frames to
these schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = [
    "TableSpec",
    "TABLES",
    "TABLE_NAMES",
    "ORDER_STATUSES",
    "LINE_KINDS",
    "EVENT_TYPES",
    "CUSTOMERS",
    "PRODUCTS",
    "ORDERS",
    "ORDER_ITEMS",
    "EVENTS",
    "REVIEWS",
    "LINE_COLUMN",
    "NESTED_FLAG",
    "empty_frame",
]

#: Name of the helper column loaders add to raw frames: the 1-based line (file) or
#: document number (MongoDB) each row came from, used in rejection reports.
LINE_COLUMN = "__line"
#: Prefix of the flag column a loader may add (``__nested__<column>``) when some text values of
#: a column were JSON objects or arrays in the file; the validator rejects those rows.
NESTED_FLAG = "__nested__"

ORDER_STATUSES = ("completed", "cancelled", "returned")
LINE_KINDS = ("product", "charge")
EVENT_TYPES = ("view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase")

TS = pl.Datetime("us")


@dataclass(frozen=True)
class TableSpec:
    """One canonical table.

    Attributes:
        name: Table name, also the file stem a folder source looks for.
        schema: Column name → Polars dtype, in canonical order.
        required: Columns that must be present in the source and non-null in kept rows.
        key: Columns forming the primary key (unique), empty when there is none.
        references: Column → (table, column) foreign keys.
        pii: Columns holding personal data, masked in the UI by default.
    """

    name: str
    schema: dict[str, pl.DataType]
    required: tuple[str, ...]
    key: tuple[str, ...] = ()
    references: dict[str, tuple[str, str]] = field(default_factory=dict)
    pii: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.schema if c not in self.required)


CUSTOMERS = TableSpec(
    name="customers",
    schema={
        "customer_id": pl.String(),
        "signup_ts": TS,
        "country": pl.String(),
        "age": pl.Int32(),
        "gender": pl.String(),
        "email": pl.String(),
        "name": pl.String(),
    },
    required=("customer_id",),
    key=("customer_id",),
    pii=("email", "name"),
)

PRODUCTS = TableSpec(
    name="products",
    schema={
        "product_id": pl.String(),
        "name": pl.String(),
        "category": pl.String(),
        "subcategory": pl.String(),
        "brand": pl.String(),
        "price": pl.Float64(),
        "description": pl.String(),
    },
    required=("product_id", "category"),
    key=("product_id",),
)

ORDERS = TableSpec(
    name="orders",
    schema={
        "order_id": pl.String(),
        "customer_id": pl.String(),
        "ts": TS,
        "channel": pl.String(),
        "status": pl.String(),
    },
    # customer_id is optional: a guest order (no customer) is still a purchase
    required=("order_id", "ts", "status"),
    key=("order_id",),
    references={"customer_id": ("customers", "customer_id")},
)

ORDER_ITEMS = TableSpec(
    name="order_items",
    schema={
        "order_id": pl.String(),
        "product_id": pl.String(),
        "quantity": pl.Int64(),
        "unit_price": pl.Float64(),
        "kind": pl.String(),
    },
    # product_id is optional (a plain transactions file has amounts, not products); kind is
    # "product" or "charge" (postage, fees, discounts…), filled from the product id when absent
    required=("order_id", "quantity", "unit_price"),
    references={"order_id": ("orders", "order_id"), "product_id": ("products", "product_id")},
)

EVENTS = TableSpec(
    name="events",
    schema={
        "session_id": pl.String(),
        "customer_id": pl.String(),
        "ts": TS,
        "event_type": pl.String(),
        "product_id": pl.String(),
        "device": pl.String(),
        "channel": pl.String(),
        "experiment": pl.String(),
        "variant": pl.String(),
    },
    required=("session_id", "ts", "event_type"),
)

REVIEWS = TableSpec(
    name="reviews",
    schema={
        "review_id": pl.String(),
        "product_id": pl.String(),
        "customer_id": pl.String(),
        "ts": TS,
        "rating": pl.Int8(),
        "title": pl.String(),
        "text": pl.String(),
    },
    required=("review_id", "product_id", "text"),
    key=("review_id",),
    references={"product_id": ("products", "product_id")},
)

#: All canonical tables in dependency order (referenced tables first).
TABLES: dict[str, TableSpec] = {
    t.name: t for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, REVIEWS)
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def empty_frame(table: str) -> pl.DataFrame:
    """An empty frame with the canonical schema of ``table``."""
    return pl.DataFrame(schema=TABLES[table].schema)
