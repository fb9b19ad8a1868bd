"""The Shopify orders export loader, on invented orders written under the public column list of
Shopify's "Exporting orders" help page (no shop's data).

The main fixture, line by line (header = line 1):

* 2–3   #1001 paid, Ada: 2 × TOTE-LIN 18.00 + 1 × MUG-CER 12.50, Shipping 5.00, Taxes 4.25,
        Subtotal 48.50, Total 57.75;
* 4     #1002 paid, Bo, code WELCOME10: 3 × MUG-CER 12.50, Discount Amount 3.75, Shipping 0,
        Taxes 2.70, Subtotal 33.75, Total 36.45;
* 5     #1003 refunded, Ada again: 1 × TOTE-LIN 18.00, Shipping 5.00, Taxes 1.84, Total 24.84;
* 6     #1004 voided and cancelled, Cy: 1 × "Gift Card" 25.00 without SKU, no Paid at;
* 7–8   #1005 paid, guest (empty Email): 1 × TOTE-LIN 18.00 and a MUG-CER line whose quantity
        is "two" (rejected), Shipping 4.00, Taxes 3.44, Subtotal 43.00, Total 50.44;
* 9     #1006 partially_refunded, Di (no Billing Country, Shipping Country DE): 2 × SCARF-W
        30.00, Shipping 6.00, Taxes 0, Total 66.00;
* 10    a line item with no Name (rejected).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.schema import LINE_COLUMN
from shopper_tui.analytics.sources.files import read_delimited
from shopper_tui.analytics.sources.shopify import (
    SHOPIFY_MARKERS,
    is_shopify,
    load_shopify_frame,
)
from shopper_tui.analytics.validate import validate

HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2", "Billing Company", "Billing City",
    "Billing Zip", "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes", "Cancelled at",
    "Payment Method", "Payment Reference", "Refunded Amount", "Vendor", "Id", "Tags", "Risk Level", "Source",
    "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value",
    "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties",
    "Billing Province Name", "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At",
    "Payment References",
]


def _order(name: str, email: str, status: str, *, paid: str, created: str, subtotal: str, shipping: str,
           taxes: str, total: str, **extra: str) -> dict[str, str]:
    """The order-level fields of an order's first row."""
    return {"Name": name, "Email": email, "Financial Status": status, "Paid at": paid, "Created at": created,
            "Currency": "USD", "Subtotal": subtotal, "Shipping": shipping, "Taxes": taxes, "Total": total,
            "Accepts Marketing": "no", "Source": "web", **extra}


def _item(name: str, qty: str, item: str, price: str, sku: str, vendor: str) -> dict[str, str]:
    return {"Name": name, "Lineitem quantity": qty, "Lineitem name": item, "Lineitem price": price,
            "Lineitem sku": sku, "Vendor": vendor, "Lineitem requires shipping": "true", "Lineitem taxable": "true"}


TOTE = ("Linen Tote", "18.00", "TOTE-LIN", "Acme Goods")
MUG = ("Ceramic Mug", "12.50", "MUG-CER", "Kiln & Co")
SCARF = ("Wool Scarf", "30.00", "SCARF-W", "Acme Goods")


def _line(name: str, qty: str, product: tuple[str, str, str, str]) -> dict[str, str]:
    item, price, sku, vendor = product
    return _item(name, qty, item, price, sku, vendor)


ROWS: list[dict[str, str]] = [
    {**_line("#1001", "2", TOTE), **_order("#1001", " Ada@Example.com ", "paid", paid="2023-05-01 10:15:32 -0400",
                                           created="2023-05-01 10:14:50 -0400", subtotal="48.50", shipping="5.00",
                                           taxes="4.25", total="57.75", **{"Billing Name": "Ada Quill",
                                                                           "Billing Country": "GB",
                                                                           "Shipping Country": "GB"})},
    _line("#1001", "1", MUG),
    {**_line("#1002", "3", MUG), **_order("#1002", "bo@example.org", "paid", paid="2023-05-02 08:00:00 +0200",
                                          created="2023-05-02 07:59:10 +0200", subtotal="33.75", shipping="0.00",
                                          taxes="2.70", total="36.45", **{"Discount Code": "WELCOME10",
                                                                          "Discount Amount": "3.75",
                                                                          "Billing Name": "Bo Marsh",
                                                                          "Billing Country": "US"})},
    {**_line("#1003", "1", TOTE), **_order("#1003", "ada@example.com", "refunded", paid="2023-05-02 12:00:00 -0400",
                                           created="2023-05-02 11:58:00 -0400", subtotal="18.00", shipping="5.00",
                                           taxes="1.84", total="24.84", **{"Refunded Amount": "24.84",
                                                                           "Billing Country": "GB"})},
    {**_item("#1004", "1", "Gift Card", "25.00", "", "Acme Goods"),
     **_order("#1004", "cy@example.net", "voided", paid="", created="2023-05-03 08:30:00 -0400", subtotal="25.00",
              shipping="0.00", taxes="0.00", total="25.00", **{"Cancelled at": "2023-05-03 09:00:00 -0400",
                                                              "Billing Country": "CA"})},
    {**_line("#1005", "1", TOTE), **_order("#1005", "", "paid", paid="2023-05-04 16:20:00 -0400",
                                           created="2023-05-04 16:19:00 -0400", subtotal="43.00", shipping="4.00",
                                           taxes="3.44", total="50.44", **{"Shipping Country": "CA"})},
    _line("#1005", "two", MUG),
    {**_line("#1006", "2", SCARF), **_order("#1006", "di@example.com", "partially_refunded",
                                            paid="2023-05-05 09:00:00 +0000", created="2023-05-05 08:59:00 +0000",
                                            subtotal="60.00", shipping="6.00", taxes="0.00", total="66.00",
                                            **{"Refunded Amount": "30.00", "Billing Name": "Di Rowe",
                                               "Shipping Country": "DE"})},
    _line("", "1", MUG),
]


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HEADER, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def export(tmp_path: Path) -> pl.DataFrame:
    return read_delimited(_write(tmp_path / "orders_export.csv", ROWS)).frame


def _by_order(items: pl.DataFrame) -> dict[str, float]:
    sums = items.group_by("order_id").agg((pl.col("quantity") * pl.col("unit_price")).sum().round(2).alias("v"))
    return dict(sums.sort("order_id").iter_rows())


def test_is_shopify_by_header_alone() -> None:
    assert is_shopify(HEADER)
    assert is_shopify([h.upper().replace(" ", "_") for h in HEADER])  # compared normalised
    assert SHOPIFY_MARKERS == {"name", "financialstatus", "lineitemquantity", "lineitemprice"}
    online_retail = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                     "Country"]
    assert not is_shopify(online_retail)
    assert not is_shopify(["Name", "Lineitem quantity", "Lineitem price"])  # no Financial Status


def test_orders_statuses_customers_and_times(export: pl.DataFrame) -> None:
    raw = load_shopify_frame(export, origin="orders_export.csv")
    assert raw.kind == "retail" and raw.description == "Shopify orders export orders_export.csv"
    assert set(raw.tables) == {"orders", "order_items", "products", "customers"}
    orders = raw.tables["orders"].frame
    assert orders.columns == [LINE_COLUMN, "order_id", "customer_id", "ts", "channel", "status"]
    assert orders.select("order_id", LINE_COLUMN, "customer_id", "status").rows() == [
        ("#1001", 2, "ada@example.com", "completed"),
        ("#1002", 4, "bo@example.org", "completed"),
        ("#1003", 5, "ada@example.com", "returned"),
        ("#1004", 6, "cy@example.net", "cancelled"),
        ("#1005", 7, None, "completed"),  # guest
        ("#1006", 9, "di@example.com", "completed"),  # partially_refunded is a sale
    ]
    ts = dict(orders.select("order_id", "ts").iter_rows())
    assert ts["#1001"] == datetime(2023, 5, 1, 14, 15, 32)  # Paid at, -0400 converted to UTC
    assert ts["#1002"] == datetime(2023, 5, 2, 6, 0, 0)  # +0200
    assert ts["#1004"] == datetime(2023, 5, 3, 12, 30, 0)  # no Paid at: Created at
    assert orders.get_column("channel").null_count() == orders.height

    customers = raw.tables["customers"].frame
    assert customers.select("customer_id", "country", "email", "name").rows() == [
        ("ada@example.com", "GB", "Ada@Example.com", "Ada Quill"),
        ("bo@example.org", "US", "bo@example.org", "Bo Marsh"),
        ("cy@example.net", "CA", "cy@example.net", None),
        ("di@example.com", "DE", "di@example.com", "Di Rowe"),  # Shipping Country when no Billing Country
    ]
    assert raw.notes[0].startswith("orders_export.csv: Shopify orders export, 9 line items → 6 orders "
                                   "(1 cancelled, 1 returned, 1 guest), 4 products, 4 customers; 9 charge lines")
    assert any("1 orders' lines do not add up to their Total" in n for n in raw.notes)  # #1005, a line rejected


def test_lines_add_up_to_total_with_charges(export: pl.DataFrame) -> None:
    items = load_shopify_frame(export, origin="orders_export.csv").tables["order_items"].frame
    assert items.columns == [LINE_COLUMN, "order_id", "product_id", "quantity", "unit_price", "kind"]
    charges = items.filter(pl.col("kind") == "charge").select("order_id", "product_id", "quantity", "unit_price")
    assert sorted(charges.rows()) == [
        ("#1001", "SHIPPING", 1, 5.0), ("#1001", "TAX", 1, 4.25),
        ("#1002", "DISCOUNT", 1, -3.75), ("#1002", "TAX", 1, 2.70),  # Shipping 0: no line
        ("#1003", "SHIPPING", 1, 5.0), ("#1003", "TAX", 1, 1.84),
        ("#1005", "SHIPPING", 1, 4.0), ("#1005", "TAX", 1, 3.44),
        ("#1006", "SHIPPING", 1, 6.0),  # Taxes 0: no line; #1004 has no charges
    ]
    products = items.filter(pl.col("kind") == "product")
    assert products.select(LINE_COLUMN, "product_id", "quantity", "unit_price").rows() == [
        (2, "TOTE-LIN", 2, 18.0), (3, "MUG-CER", 1, 12.5), (4, "MUG-CER", 3, 12.5), (5, "TOTE-LIN", 1, 18.0),
        (6, "Gift Card", 1, 25.0), (7, "TOTE-LIN", 1, 18.0), (9, "SCARF-W", 2, 30.0),
    ]
    # Σ q × p per order = Total: 2×18 + 12.50 + 5 + 4.25 = 57.75; 3×12.50 − 3.75 + 2.70 = 36.45;
    # #1005 lost its mug line (2 × 12.50 would not read): 18 + 4 + 3.44 = 25.44 of 50.44
    assert _by_order(items) == {"#1001": 57.75, "#1002": 36.45, "#1003": 24.84, "#1004": 25.0, "#1005": 25.44,
                                "#1006": 66.0}


def test_rejects_and_every_line_accounted_for(export: pl.DataFrame) -> None:
    raw = load_shopify_frame(export, origin="orders_export.csv")
    rejects = raw.loader_rejects
    assert rejects is not None
    assert rejects.columns == ["table", "origin", "line", "column", "value", "reason", "amount"]
    assert rejects.rows() == [
        ("order_items", "orders_export.csv", 8, "Lineitem quantity", "two", "unparseable quantity", None),
        ("order_items", "orders_export.csv", 10, "Name", None, "missing order name", 12.5),
    ]
    items = raw.tables["order_items"].frame
    product_lines = items.filter(pl.col("kind") == "product").get_column(LINE_COLUMN).to_list()
    assert sorted(product_lines + rejects.get_column("line").to_list()) == export.get_column(LINE_COLUMN).to_list()


def test_products_from_line_items(export: pl.DataFrame) -> None:
    products = load_shopify_frame(export, origin="orders_export.csv").tables["products"].frame
    assert products.columns == [LINE_COLUMN, "product_id", "name", "category", "subcategory", "brand", "price",
                                "description"]
    assert products.select("product_id", "name", "category", "brand", "price").rows() == [
        ("TOTE-LIN", "Linen Tote", "(unknown)", "Acme Goods", 18.0),
        ("MUG-CER", "Ceramic Mug", "(unknown)", "Kiln & Co", 12.5),
        ("Gift Card", "Gift Card", "(unknown)", "Acme Goods", 25.0),  # no SKU: the name is the id
        ("SCARF-W", "Wool Scarf", "(unknown)", "Acme Goods", 30.0),
    ]


def test_validated_revenue_is_gross_and_net_is_total(export: pl.DataFrame) -> None:
    v = validate(load_shopify_frame(export, origin="orders_export.csv"))
    orders, items = v.tables["orders"], v.tables["order_items"]
    assert orders.height == 6 and items.height == 7 + 9
    assert orders.filter(pl.col("order_id") == "#1005").get_column("customer_id").to_list() == [None]
    assert v.tables["products"].height == 4 and v.tables["customers"].height == 4
    rep = v.report.tables["order_items"]
    assert rep.rows_read == 7 + 9 + 2 and rep.rows_kept == 16
    assert rep.rejected == {"unparseable quantity": 1, "missing order name": 1}
    assert rep.rejected_value == {"unparseable quantity": 0.0, "missing order name": 12.5}
    assert v.rejects.filter(pl.col("line") == 8).select("column", "value").rows() == [("Lineitem quantity", "two")]
    # the purchase rules (analytics.purchases): completed orders, sold lines q > 0 and p ≥ 0
    lines = items.join(orders, on="order_id").filter(pl.col("status") == "completed").with_columns(
        (pl.col("quantity") * pl.col("unit_price")).alias("value"))
    sold = (pl.col("quantity") > 0) & (pl.col("unit_price") >= 0)
    revenue = round(lines.filter(sold).get_column("value").sum(), 2)
    adjustments = round(lines.filter(~sold).get_column("value").sum(), 2)
    # #1001 57.75 + #1002 (37.50 + 2.70) + #1005 25.44 + #1006 66.00
    assert revenue == 189.39
    assert adjustments == -3.75  # the WELCOME10 discount
    assert round(revenue + adjustments, 2) == round(57.75 + 36.45 + 25.44 + 66.0, 2)  # the Totals (as read)
    guest = lines.filter(pl.col("customer_id").is_null() & sold).get_column("value").sum()
    assert round(guest, 2) == 25.44


def test_tax_inclusive_prices_and_charge_codes(tmp_path: Path) -> None:
    # EU shop, prices include VAT: Total = Subtotal + Shipping; a gift-wrap SKU is a charge
    rows = [
        {**_item("#2001", "1", "Linen Tote", "24.00", "TOTE-LIN", "Acme Goods"),
         **_order("#2001", "eve@example.eu", "paid", paid="2024-02-01 10:00:00 +0100",
                  created="2024-02-01 09:59:00 +0100", subtotal="27.00", shipping="6.00", taxes="5.50",
                  total="33.00", **{"Billing Country": "FR"})},
        _item("#2001", "1", "Gift wrap", "3.00", "giftwrap", ""),
    ]
    frame = read_delimited(_write(tmp_path / "orders_export.csv", rows)).frame
    raw = load_shopify_frame(frame, origin="orders_export.csv", charge_codes=("GIFTWRAP",))
    items = raw.tables["order_items"].frame
    assert sorted(items.select("product_id", "kind", "unit_price").rows()) == [
        ("SHIPPING", "charge", 6.0), ("TOTE-LIN", "product", 24.0), ("giftwrap", "charge", 3.0)]  # no TAX
    assert _by_order(items) == {"#2001": 33.0}
    assert raw.tables["products"].frame.get_column("product_id").to_list() == ["TOTE-LIN"]
    assert any("1 orders have tax-inclusive prices" in n for n in raw.notes)
    assert raw.loader_rejects is None


def test_bad_order_date_and_amount_are_rejected(tmp_path: Path) -> None:
    rows = [
        {**_item("#3001", "1", "Linen Tote", "18.00", "TOTE-LIN", ""),
         **_order("#3001", "", "paid", paid="soon", created="", subtotal="18.00", shipping="5.00", taxes="0",
                  total="23.00")},
        _item("#3001", "1", "Ceramic Mug", "12.50", "MUG-CER", ""),
        {**_item("#3002", "1", "Linen Tote", "18.00", "TOTE-LIN", ""),
         **_order("#3002", "", "paid", paid="2024-03-01 10:00:00 +0000", created="", subtotal="18.00",
                  shipping="five", taxes="0", total="23.00")},
    ]
    frame = read_delimited(_write(tmp_path / "orders_export.csv", rows)).frame
    raw = load_shopify_frame(frame, origin="orders_export.csv")
    assert raw.tables["orders"].frame.get_column("order_id").to_list() == ["#3002"]
    assert raw.tables["order_items"].frame.select("order_id", "product_id").rows() == [("#3002", "TOTE-LIN")]
    assert raw.loader_rejects is not None
    assert raw.loader_rejects.select("line", "column", "value", "reason", "amount").rows() == [
        (2, "Paid at", "soon", "unparseable order date", 18.0),
        (3, "Paid at", "soon", "unparseable order date", 12.5),
        (4, "Shipping", "five", "unparseable Shipping", None),
    ]


def test_missing_header_is_an_error(export: pl.DataFrame) -> None:
    with pytest.raises(ShopperError, match="Lineitem price"):
        load_shopify_frame(export.drop("Lineitem price"), origin="orders_export.csv")


def test_imports_by_header_alone_and_the_overview_reconciles(tmp_path: Path) -> None:
    """The export given as a source: the retail loader recognises it, the Overview's revenue is
    the gross, its net revenue the Totals, and the reconciliation adds up to the lines kept."""
    from shopper_tui.analytics.overview import kpis
    from shopper_tui.analytics.workspace import import_source, open_workspace

    source = _write(tmp_path / "orders_export.csv", ROWS)
    with open_workspace(import_source(source, data_dir=tmp_path / "data").path) as ws:
        k = kpis(ws)
    assert k.orders == 4 and k.guest_orders == 1  # #1003 refunded and #1004 voided are no purchases
    assert round(k.revenue, 2) == 189.39 and round(k.guest_revenue, 2) == 25.44
    assert round(k.net_revenue, 2) == round(57.75 + 36.45 + 25.44 + 66.0, 2)
    rec = {r["kind"]: r["lines"] for r in k.reconciliation.rows.iter_rows(named=True)}
    assert rec["adjustments"] == 1 and rec["rejected"] == 2
    assert k.reconciliation.lines_read == 7 + 9 + 2
