"""The Shopify orders CSV export (Admin → Orders → Export), recognised by its header alone.

One row per line item. The order-level columns (Email, Financial Status, Paid at, Subtotal,
Shipping, Taxes, Total, Discount Amount, Created at, Billing *, Cancelled at …) are filled on
the first row of each order (same ``Name``, e.g. ``#1001``) and empty on its later rows; they
are read as each order's first non-empty value in file order, which is the first row's.

The canonical tables, built column-wise in Polars:

* **orders** — one per ``Name``: ``customer_id`` = the Email, stripped and lower-cased (empty
  = guest, null); ``ts`` = Paid at, else Created at (the ``-0400`` offsets are converted to UTC
  and dropped by :func:`~shopper_tui.analytics.parsing.parse_datetimes`); ``channel`` null;
  ``status`` = ``cancelled`` when Financial Status is ``voided`` or Cancelled at is filled (a
  cancelled order is usually also ``refunded``: the cancellation wins), ``returned`` when it is
  ``refunded``, else ``completed`` (paid, partially_paid, partially_refunded, pending,
  authorized; a partial refund is not deducted: Refunded Amount is not read).
* **order_items** — every usable line item as a ``product`` line: ``product_id`` = Lineitem sku,
  else Lineitem name; quantity, unit price = Lineitem quantity, Lineitem price (list price).
  Line items whose sku is one of ``charge_codes`` (the settings' codes, upper-cased; the
  built-in Online Retail codes such as ``M`` or ``S`` are not applied, they could be SKUs)
  are ``charge`` lines. Then **synthesised** charge lines, quantity 1, on the order's first
  line (so order_items has more rows than the file has lines): ``SHIPPING`` = Shipping,
  ``TAX`` = Taxes, ``DISCOUNT`` = −Discount Amount, each only when ≠ 0. ``TAX`` is left out
  when the order's own numbers say its prices include tax (Total = Subtotal + Shipping ≠
  Subtotal + Shipping + Taxes, as in shops with tax-inclusive prices).
* **products** — one per product id of the line items (not charges): name = the most frequent
  Lineitem name, price = median positive Lineitem price, brand = the most frequent Vendor,
  category = the product type column when the export has one, else ``(unknown)``.
* **customers** — one per customer id of the orders kept: email (as first written), name =
  Billing Name, country = the most frequent Billing Country, else Shipping Country.

**Revenue rule.** Shopify's Subtotal is the line items at list price less Discount Amount and
Total = Subtotal + Shipping + Taxes, so every order's lines add up to its Total:
Σ quantity × unit price = Σ line items + SHIPPING + TAX − DISCOUNT. Under the purchase rules
(:mod:`shopper_tui.analytics.purchases`) the DISCOUNT line (negative price) is an adjustment,
not a sale: **revenue = line items at list price + shipping + taxes (gross), and net revenue
= revenue + adjustments = Total** for completed orders. Orders whose lines do not add up to
their Total (a rejected line item, tips, duties) are counted in a note.

Every data line of the file ends up either as an order_items row or in
``RawSource.loader_rejects`` (table ``order_items``, the file's header as column, the raw value,
``amount`` = quantity × price where both read), with the first reason that applies: missing
order name; missing / unparseable order date (the order's Paid at / Created at); missing /
unparseable quantity; missing / unparseable unit price. An order none of whose line items is
usable is left out with its charges; an order-level amount that does not parse is rejected as
its charge line (``unparseable Shipping`` …, line = the order's first line).
"""

from __future__ import annotations

import polars as pl

from ..errors import ShopperError
from ..parsing import (
    as_text,
    clean_text,
    parse_datetimes,
    to_floats,
    to_id_strings,
    to_integers,
)
from ..schema import LINE_COLUMN
from . import RawSource, RawTable
from .files import normalise_header

__all__ = ["SHOPIFY_MARKERS", "UNKNOWN_CATEGORY", "is_shopify", "load_shopify_frame"]

#: Normalised headers (:func:`~shopper_tui.analytics.sources.files.normalise_header`) every
#: Shopify orders export has and other exports hardly have all together.
SHOPIFY_MARKERS: frozenset[str] = frozenset({"name", "financialstatus", "lineitemquantity", "lineitemprice"})
#: Category of products when the export has no product type column (the orders export has none).
UNKNOWN_CATEGORY = "(unknown)"

#: Field → normalised header spellings, in priority order.
_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",), "email": ("email",), "financial_status": ("financialstatus",),
    "paid_at": ("paidat",), "created_at": ("createdat",), "cancelled_at": ("cancelledat",),
    "subtotal": ("subtotal",), "shipping": ("shipping",), "taxes": ("taxes",), "total": ("total",),
    "discount": ("discountamount",), "quantity": ("lineitemquantity",), "price": ("lineitemprice",),
    "sku": ("lineitemsku",), "item_name": ("lineitemname",), "vendor": ("vendor", "lineitemvendor"),
    "product_type": ("lineitemproducttype", "producttype"), "billing_name": ("billingname",),
    "billing_country": ("billingcountry",), "shipping_country": ("shippingcountry",),
}
_REQUIRED = ("name", "quantity", "price")
_ORDER_FIELDS = ("email", "financial_status", "paid_at", "created_at", "cancelled_at", "subtotal", "shipping",
                 "taxes", "total", "discount", "billing_name", "billing_country", "shipping_country")
#: Synthesised charge line → the order-level field it is read from.
_CHARGES = {"SHIPPING": "shipping", "TAX": "taxes", "DISCOUNT": "discount"}
_MONEY = ("subtotal", "shipping", "taxes", "total", "discount")
_CENT = 0.005


def is_shopify(columns: list[str]) -> bool:
    """True when a file's headers (as written in it) look like a Shopify orders export."""
    return SHOPIFY_MARKERS <= {normalise_header(c) for c in columns}


def _headers(columns: list[str]) -> dict[str, str]:
    """Field → the file's header for it (first header of each normalised spelling)."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(normalise_header(c), c)
    return {f: next(by_norm[s] for s in spellings if s in by_norm)
            for f, spellings in _FIELDS.items() if any(s in by_norm for s in spellings)}


def _most_frequent(df: pl.DataFrame, key: str, column: str) -> pl.DataFrame:
    """``key`` → its most frequent non-null ``column`` value (ties: the earliest line)."""
    return (df.filter(pl.col(column).is_not_null()).group_by(key, column)
            .agg(pl.len().alias("__n"), pl.col(LINE_COLUMN).min().alias("__first"))
            .sort([key, "__n", "__first"], descending=[False, True, False])
            .group_by(key, maintain_order=True).agg(pl.col(column).first()))


def _missing_or(raw: str, what: str) -> pl.Expr:
    return pl.when(pl.col(raw).is_null()).then(pl.lit(f"missing {what}")).otherwise(pl.lit(f"unparseable {what}"))


def load_shopify_frame(frame: pl.DataFrame, *, origin: str, charge_codes: tuple[str, ...] = ()) -> RawSource:
    """Turn a Shopify orders export into orders, order_items, products and customers.

    Args:
        frame: The whole file, columns as text under the file's headers, plus the Int64
            ``__line`` column (physical line, header = 1), as ``read_delimited(path).frame``.
        origin: The file's name, for messages and rejects.
        charge_codes: Line item SKUs that are charges (the settings' ``charge_codes``).

    Returns:
        The raw source (kind ``retail``), with the unusable lines in ``loader_rejects``.

    Raises:
        ShopperError: Name, Lineitem quantity, Lineitem price, or both Paid at and Created at
            are missing from the header.
    """
    if LINE_COLUMN not in frame.columns:
        frame = frame.with_row_index(LINE_COLUMN, offset=2).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    headers = _headers([c for c in frame.columns if c != LINE_COLUMN])
    missing = [f for f in _REQUIRED if f not in headers] + ([] if {"paid_at", "created_at"} & set(headers)
                                                            else ["paid_at"])
    if missing:
        names = {"name": "Name", "quantity": "Lineitem quantity", "price": "Lineitem price",
                 "paid_at": "Paid at / Created at"}
        raise ShopperError(f"{origin}: a Shopify orders export needs the column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(names[m] for m in missing)}; not in the header.",
                           hint="Export the orders again from Shopify (Orders → Export, CSV for Excel or plain CSV).")
    text = frame.select(LINE_COLUMN, *[
        (clean_text(as_text(frame.get_column(headers[f]))) if f in headers
         else pl.Series([None] * frame.height, dtype=pl.String)).alias(f) for f in _FIELDS])
    codes = [str(c).strip().upper() for c in charge_codes if str(c).strip()]
    lines = text.with_columns(
        to_id_strings(text.get_column("name")).alias("order_id"),
        pl.coalesce(to_id_strings(text.get_column("sku")), pl.col("item_name")).alias("product_id"),
        to_integers(text.get_column("quantity")).alias("q"),
        to_floats(text.get_column("price")).alias("p"),
        to_floats(text.get_column("quantity")).alias("__qf"),  # for the rejects' amount
    ).with_columns(
        pl.when(pl.col("product_id").str.to_uppercase().is_in(codes)).then(pl.lit("charge"))
        .otherwise(pl.lit("product")).alias("kind"))

    # -- orders: the order-level fields of each Name's first row ---------------------------
    heads = (lines.filter(pl.col("order_id").is_not_null()).sort(LINE_COLUMN)
             .group_by("order_id", maintain_order=True)
             .agg(pl.col(LINE_COLUMN).first(), *[pl.col(f).drop_nulls().first() for f in _ORDER_FIELDS]))
    paid, _ = parse_datetimes(heads.get_column("paid_at"))
    created, _ = parse_datetimes(heads.get_column("created_at"))
    status = pl.col("financial_status").str.to_lowercase()
    heads = heads.with_columns(
        paid.fill_null(created).alias("ts"),
        pl.col("email").str.to_lowercase().alias("customer_id"),
        pl.when((status == "voided") | pl.col("cancelled_at").is_not_null()).then(pl.lit("cancelled"))
        .when(status == "refunded").then(pl.lit("returned")).otherwise(pl.lit("completed")).alias("status"),
        *[to_floats(heads.get_column(f)).alias(f"__{f}") for f in _MONEY],
    )

    # -- line items: kept or rejected, one reason each -------------------------------------
    lines = lines.join(heads.select("order_id", "ts", pl.col("paid_at").is_not_null().alias("__paid"),
                                    pl.coalesce("paid_at", "created_at").alias("__date")),
                       on="order_id", how="left", maintain_order="left")
    paid_header = headers.get("paid_at", headers.get("created_at"))
    date_header = pl.when(pl.col("__paid")).then(pl.lit(paid_header)).otherwise(
        pl.lit(headers.get("created_at", paid_header)))
    reason = (pl.when(pl.col("order_id").is_null()).then(pl.lit("missing order name"))
              .when(pl.col("ts").is_null()).then(_missing_or("__date", "order date"))
              .when(pl.col("q").is_null()).then(_missing_or("quantity", "quantity"))
              .when(pl.col("p").is_null()).then(_missing_or("price", "unit price")))
    column = (pl.when(pl.col("order_id").is_null()).then(pl.lit(headers["name"]))
              .when(pl.col("ts").is_null()).then(date_header)
              .when(pl.col("q").is_null()).then(pl.lit(headers["quantity"])).otherwise(pl.lit(headers["price"])))
    value = (pl.when(pl.col("order_id").is_null()).then(pl.col("name")).when(pl.col("ts").is_null())
             .then(pl.col("__date")).when(pl.col("q").is_null()).then(pl.col("quantity")).otherwise(pl.col("price")))
    lines = lines.with_columns(reason.alias("__reason"), column.alias("__column"), value.alias("__value"))
    bad = lines.filter(pl.col("__reason").is_not_null())
    kept = lines.filter(pl.col("__reason").is_null())
    items = kept.select(LINE_COLUMN, "order_id", "product_id", pl.col("q").alias("quantity"),
                        pl.col("p").alias("unit_price"), "kind")
    rejects = [bad.select(pl.lit("order_items").alias("table"), pl.lit(origin).alias("origin"),
                          pl.col(LINE_COLUMN).cast(pl.Int64).alias("line"), pl.col("__column").alias("column"),
                          pl.col("__value").alias("value"), pl.col("__reason").alias("reason"),
                          (pl.col("__qf") * pl.col("p")).alias("amount"))]

    # -- orders kept (a readable date and at least one usable line item) and their charges -
    orders = heads.filter(pl.col("order_id").is_in(kept.get_column("order_id").implode()))
    # tax-inclusive prices: Total = Subtotal + Shipping, the Taxes are inside the line prices
    base = pl.col("__subtotal") + pl.col("__shipping").fill_null(0)
    included = ((pl.col("__taxes").fill_null(0) != 0) & ((base - pl.col("__total")).abs() < _CENT)
                & ((base + pl.col("__taxes") - pl.col("__total")).abs() >= _CENT)).fill_null(False)
    orders = orders.with_columns(included.alias("__included"))
    charges: list[pl.DataFrame] = []
    for code, field in _CHARGES.items():
        amount = pl.col(f"__{field}")
        use = (amount != 0) & ~pl.col("__included") if code == "TAX" else amount != 0
        charges.append(orders.filter(use).select(
            LINE_COLUMN, "order_id", pl.lit(code).alias("product_id"), pl.lit(1, dtype=pl.Int64).alias("quantity"),
            (-amount.abs() if code == "DISCOUNT" else amount).alias("unit_price"), pl.lit("charge").alias("kind")))
        if field in headers:
            unread = orders.filter(amount.is_null() & pl.col(field).is_not_null())
            rejects.append(unread.select(
                pl.lit("order_items").alias("table"), pl.lit(origin).alias("origin"),
                pl.col(LINE_COLUMN).cast(pl.Int64).alias("line"), pl.lit(headers[field]).alias("column"),
                pl.col(field).alias("value"), pl.lit(f"unparseable {headers[field]}").alias("reason"),
                pl.lit(None, dtype=pl.Float64).alias("amount")))
    items = pl.concat([items, *charges]).sort(LINE_COLUMN, maintain_order=True)
    loader_rejects = pl.concat(rejects).sort("line")

    sums = items.group_by("order_id").agg((pl.col("quantity") * pl.col("unit_price")).sum().alias("__sum"))
    off = (orders.join(sums, on="order_id").filter((pl.col("__sum") - pl.col("__total")).abs() >= _CENT)).height
    table_orders = orders.select(LINE_COLUMN, "order_id", "customer_id", "ts",
                                 pl.lit(None, dtype=pl.String).alias("channel"), "status")

    # -- catalogue and customers ------------------------------------------------------------
    catalogue = lines.filter(pl.col("product_id").is_not_null() & (pl.col("kind") == "product"))
    products = (
        catalogue.group_by("product_id").agg(pl.col(LINE_COLUMN).min(),
                                             pl.col("p").filter(pl.col("p") > 0).median().alias("price"))
        .join(_most_frequent(catalogue, "product_id", "item_name"), on="product_id", how="left")
        .join(_most_frequent(catalogue, "product_id", "vendor"), on="product_id", how="left")
        .join(_most_frequent(catalogue, "product_id", "product_type"), on="product_id", how="left")
        .sort(LINE_COLUMN)
        .select(LINE_COLUMN, "product_id", pl.col("item_name").alias("name"),
                pl.col("product_type").fill_null(UNKNOWN_CATEGORY).alias("category"),
                pl.lit(None, dtype=pl.String).alias("subcategory"), pl.col("vendor").alias("brand"), "price",
                pl.lit(None, dtype=pl.String).alias("description")))
    buyers = orders.filter(pl.col("customer_id").is_not_null()).with_columns(
        pl.coalesce("billing_country", "shipping_country").alias("country"))
    customers = (
        buyers.group_by("customer_id", maintain_order=True)
        .agg(pl.col(LINE_COLUMN).min(), pl.col("email").first(),
             pl.col("billing_name").drop_nulls().first().alias("name"))
        .join(_most_frequent(buyers, "customer_id", "country"), on="customer_id", how="left", maintain_order="left")
        .select(LINE_COLUMN, "customer_id", "country", "email", "name"))

    count = table_orders.get_column("status").value_counts()
    by_status = dict(zip(count.get_column("status").to_list(), count.get_column("count").to_list(), strict=True))
    notes = [
        f"{origin}: Shopify orders export, {frame.height:,} line items → {orders.height:,} orders "
        f"({by_status.get('cancelled', 0):,} cancelled, {by_status.get('returned', 0):,} returned, "
        f"{orders.get_column('customer_id').null_count():,} guest), {products.height:,} products, "
        f"{customers.height:,} customers; {sum(c.height for c in charges):,} charge lines added from "
        "Shipping, Taxes and Discount Amount (discounts as negative adjustments: net revenue = Total)"
        + ("" if "product_type" in headers else f"; category '{UNKNOWN_CATEGORY}' (the export has no product type)")]
    if n_included := int(orders.get_column("__included").sum()):
        notes.append(f"{origin}: {n_included:,} orders have tax-inclusive prices (Total = Subtotal + Shipping); "
                     "their Taxes are not added as a charge line")
    if off:
        notes.append(f"{origin}: {off:,} orders' lines do not add up to their Total "
                     "(rejected line items, tips, duties or edited orders)")
    return RawSource(
        kind="retail",
        description=f"Shopify orders export {origin}",
        tables={
            "customers": RawTable("customers", customers, origin),
            "products": RawTable("products", products, origin),
            "orders": RawTable("orders", table_orders, origin),
            "order_items": RawTable("order_items", items, origin),
        },
        notes=notes,
        loader_rejects=loader_rejects if loader_rejects.height else None,
    )
