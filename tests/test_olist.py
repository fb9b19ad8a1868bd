"""The Brazilian E-Commerce Public Dataset by Olist (Kaggle, CC BY-NC-SA 4.0) as a user drops it.

The folder below has the data set's file names and headers exactly, with a few hand-made rows
each (no row of the real data): per-order customer ids (``customer_id``) beside the person
(``customer_unique_id``), one order_items row per unit with its own ``freight_value``,
the data set's order statuses, a product without a category, and the files that are no
canonical table (payments, reviews per order, sellers, geolocation, category translation).

The expected numbers are worked out by hand from those rows (see each constant).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from shopper_tui.analytics.overview import kpis
from shopper_tui.analytics.rfm import rfm_lifetimes
from shopper_tui.analytics.sources.files import load_folder, table_for_stem
from shopper_tui.analytics.validate import validate
from shopper_tui.analytics.workspace import import_source, open_workspace

ORDERS = """order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date
o1,c1,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,2017-10-04 19:55:00,2017-10-10 21:25:13,2017-10-18 00:00:00
o2,c2,canceled,2017-11-01 08:00:00,2017-11-01 08:15:00,,,2017-11-20 00:00:00
o3,c3,delivered,2018-01-15 09:00:00,2018-01-15 09:10:00,2018-01-16 12:00:00,2018-01-22 18:00:00,2018-02-05 00:00:00
o4,c4,shipped,2018-02-01 12:00:00,2018-02-01 12:30:00,2018-02-03 10:00:00,,2018-02-20 00:00:00
o5,c5,unavailable,2018-02-10 14:00:00,2018-02-10 14:20:00,,,2018-03-01 00:00:00
o6,c6,invoiced,2018-03-10 16:45:00,2018-03-10 17:00:00,,,2018-04-02 00:00:00
o7,c7,delivered,2018-03-20 11:11:11,2018-03-20 11:30:00,2018-03-21 09:00:00,2018-03-28 15:00:00,2018-04-10 00:00:00
o8,c8,processing,2018-04-01 07:30:00,2018-04-01 08:00:00,,,2018-04-25 00:00:00
o9,c9,approved,2018-05-01 20:00:00,2018-05-01 20:05:00,,,2018-05-22 00:00:00
o10,c10,delivered,2018-06-30 23:59:00,2018-07-01 00:10:00,2018-07-02 10:00:00,2018-07-06 12:00:00,2018-07-20 00:00:00
"""
# o1: two units of pA (one row each) with freight on each; o7: two products
ITEMS = """order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value
o1,1,pA,s1,2017-10-06 11:07:15,58.90,8.72
o1,2,pA,s1,2017-10-06 11:07:15,58.90,8.72
o2,1,pB,s2,2017-11-05 08:15:00,100.00,10.00
o3,1,pC,s1,2018-01-19 09:10:00,29.99,7.50
o4,1,pD,s3,2018-02-05 12:30:00,45.00,0.00
o6,1,pB,s2,2018-03-14 17:00:00,100.00,12.00
o7,1,pA,s1,2018-03-24 11:30:00,58.90,5.00
o7,2,pC,s1,2018-03-24 11:30:00,29.99,5.00
o8,1,pE,s3,2018-04-05 08:00:00,10.00,2.50
o9,1,pE,s3,2018-05-05 20:05:00,10.00,3.00
o10,1,pD,s3,2018-07-04 00:10:00,45.00,6.00
"""
# one customer_id per order; persons: P1 = c1, c3, c9 (three purchases), P2 = c2 (cancelled)
# and c6, P3 = c4, P4 = c5 (unavailable order only), P5 = c7, P6 = c8, P7 = c10
CUSTOMERS = """customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state
c1,P1,14409,franca,SP
c2,P2,09790,sao bernardo do campo,SP
c3,P1,14409,franca,SP
c4,P3,01151,sao paulo,SP
c5,P4,08775,mogi das cruzes,SP
c6,P2,09790,sao bernardo do campo,SP
c7,P5,13056,campinas,SP
c8,P6,89254,jaragua do sul,SC
c9,P1,14409,franca,SP
c10,P7,04534,sao paulo,SP
"""
# pD has no category; pF is never ordered
PRODUCTS = """product_id,product_category_name,product_name_lenght,product_description_lenght,product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm
pA,utilidades_domesticas,40,287,1,225,16,10,14
pB,perfumaria,44,276,1,1000,30,18,20
pC,esporte_lazer,46,250,1,154,18,9,15
pD,,,,,300,20,10,15
pE,brinquedos,27,1141,7,625,20,17,13
pF,bebes,37,402,4,8683,54,64,31
"""
PAYMENTS = """order_id,payment_sequential,payment_type,payment_installments,payment_value
o1,1,credit_card,2,135.24
o2,1,boleto,1,110.00
o3,1,credit_card,1,37.49
o4,1,voucher,1,45.00
o6,1,credit_card,3,112.00
o7,1,debit_card,1,98.89
o8,1,credit_card,1,12.50
o9,1,boleto,1,13.00
o10,1,credit_card,4,51.00
"""
REVIEWS = """review_id,order_id,review_score,review_comment_title,review_comment_message,review_creation_date,review_answer_timestamp
r1,o1,4,,,2017-10-11 00:00:00,2017-10-12 03:43:48
r2,o2,1,,cancelaram meu pedido,2017-11-21 00:00:00,2017-11-22 10:00:00
r3,o3,5,otimo,chegou antes do prazo,2018-01-23 00:00:00,2018-01-24 08:00:00
r7,o7,3,,um produto veio sem caixa,2018-03-29 00:00:00,2018-03-30 09:00:00
"""
SELLERS = """seller_id,seller_zip_code_prefix,seller_city,seller_state
s1,13023,campinas,SP
s2,13844,mogi guacu,SP
s3,20031,rio de janeiro,RJ
"""
GEOLOCATION = """geolocation_zip_code_prefix,geolocation_lat,geolocation_lng,geolocation_city,geolocation_state
01037,-23.54562128115268,-46.63929204800168,sao paulo,SP
14409,-20.5,-47.4,franca,SP
"""
TRANSLATION = """product_category_name,product_category_name_english
utilidades_domesticas,housewares
perfumaria,perfumery
esporte_lazer,sports_leisure
brinquedos,toys
bebes,baby
"""

FILES = {
    "olist_orders_dataset.csv": ORDERS,
    "olist_order_items_dataset.csv": ITEMS,
    "olist_customers_dataset.csv": CUSTOMERS,
    "olist_products_dataset.csv": PRODUCTS,
    "olist_order_payments_dataset.csv": PAYMENTS,
    "olist_order_reviews_dataset.csv": REVIEWS,
    "olist_sellers_dataset.csv": SELLERS,
    "olist_geolocation_dataset.csv": GEOLOCATION,
    "product_category_name_translation.csv": TRANSLATION,
}

#: Completed orders: delivered, shipped, invoiced, processing, approved (o1 o3 o4 o6 o7 o8 o9
#: o10); canceled (o2) and unavailable (o5) are cancelled.
COMPLETED = 8
#: Σ price of their units: 2 × 58.90 + 29.99 + 45.00 + 100.00 + (58.90 + 29.99) + 10.00 + 10.00 + 45.00
PRODUCT_REVENUE = 446.68
#: Σ freight of their units: 2 × 8.72 + 7.50 + 0 + 12.00 + 2 × 5.00 + 2.50 + 3.00 + 6.00
CHARGE_REVENUE = 58.44
#: Lines with freight above 0: every order_items row but o4's
CHARGE_LINES = 10


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "olist"
    out.mkdir()
    for name, text in FILES.items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def _quiet(step: str, fraction: float | None = None) -> None:
    return None


def test_olist_folder_imports_with_real_numbers(folder: Path, tmp_path: Path) -> None:
    result = import_source(folder, data_dir=tmp_path / "data")
    assert result.report.rows_rejected == 1  # pD's empty category, re-added as '(unknown)'
    with open_workspace(result.path) as ws:
        k = kpis(ws)
        assert k.orders == COMPLETED
        assert k.revenue == pytest.approx(PRODUCT_REVENUE + CHARGE_REVENUE)
        assert k.charge_revenue == pytest.approx(CHARGE_REVENUE)
        assert k.customers == 7  # persons P1–P7, not the 10 per-order customer ids
        assert k.buyers == 6  # P4 only had an unavailable order
        assert k.cancelled_orders == 2
        assert k.repeat_purchase_rate == pytest.approx(1 / 6)  # P1 bought three times; P2's first order was cancelled
        # every unit row is one unit; each freight is a charge line of its own, never an item
        lines = ws.sql("SELECT kind, count(*) AS n, sum(quantity) AS q, round(sum(quantity * unit_price), 2) AS v "
                       "FROM order_items GROUP BY kind ORDER BY kind").rows()
        assert lines == [("charge", CHARGE_LINES, CHARGE_LINES, 68.44), ("product", 11, 11, 546.68)]
        assert ws.sql("SELECT count(*) FROM order_items WHERE kind = 'charge' AND product_id IS NOT NULL").item() == 0
        items = ws.sql("SELECT sum(items) AS items FROM purchases").item()
        assert items == 10  # o1 counts two units of pA
        assert ws.sql("SELECT items, value FROM purchases WHERE order_id = 'o1'").row(0) == (2, pytest.approx(135.24))
        # orders carry the person, not the per-order id
        assert ws.sql("SELECT order_id, customer_id FROM orders WHERE customer_id = 'P1' ORDER BY order_id").rows() == [
            ("o1", "P1"), ("o3", "P1"), ("o9", "P1")]
        categories = dict(ws.sql("SELECT product_id, category FROM products ORDER BY product_id").rows())
        assert categories == {"pA": "utilidades_domesticas", "pB": "perfumaria", "pC": "esporte_lazer",
                              "pD": "(unknown)", "pE": "brinquedos", "pF": "bebes"}
        assert ws.sql("SELECT count(*) FROM reviews").item() == 0


def test_rfm_counts_the_person_across_per_order_ids(folder: Path, tmp_path: Path) -> None:
    result = import_source(folder, data_dir=tmp_path / "data")
    with open_workspace(result.path) as ws:
        rfm = rfm_lifetimes(ws)
    assert rfm.height == 6
    p1 = rfm.filter(rfm["customer_id"] == "P1").row(0, named=True)
    # P1 bought on 2017-10-02 (135.24), 2018-01-15 (37.49) and 2018-05-01 (13.00); the study ends
    # on the last purchase's day, 2018-06-30
    first, last, end = datetime(2017, 10, 2), datetime(2018, 5, 1), datetime(2018, 6, 30)
    assert (last - first).days == 211 and (end - first).days == 271
    assert p1 == {"customer_id": "P1", "frequency": 2.0, "recency": 211.0, "T": 271.0,
                  "monetary_value": pytest.approx((37.49 + 13.00) / 2)}
    p2 = rfm.filter(rfm["customer_id"] == "P2").row(0, named=True)
    # the cancelled o2 is no purchase: P2 bought once, on 2018-03-10, 112 days before the end
    assert (p2["frequency"], p2["recency"], p2["T"], p2["monetary_value"]) == (0.0, 0.0, 112.0, 0.0)
    assert not rfm.filter(rfm["customer_id"].str.starts_with("c")).height


def test_import_notes_say_what_was_assumed_and_ignored(folder: Path) -> None:
    raw = load_folder(folder, progress=_quiet)
    assert set(raw.tables) == {"customers", "products", "orders", "order_items"}
    notes = raw.notes
    assert "olist_order_items_dataset.csv: no quantity column; each row counted as one unit (quantity 1)" in notes
    assert any(n.startswith("olist_order_items_dataset.csv: 'freight_value' read as each line's delivery charge: "
                            f"{CHARGE_LINES} charge lines added") and "Σ 68.44" in n and "above 0" in n for n in notes)
    for name in ("olist_order_payments_dataset.csv", "olist_sellers_dataset.csv", "olist_geolocation_dataset.csv",
                 "product_category_name_translation.csv"):
        assert f"ignored: {name}" in notes
    reviews = [n for n in notes if n.startswith("ignored: olist_order_reviews_dataset.csv")]
    assert len(reviews) == 1
    assert "no product_id, text columns" in reviews[0] and "reviews are of whole orders" in reviews[0]
    assert any(n.startswith("olist_customers_dataset.csv: 'customer_unique_id' names the person") and
               "10 customer ids of 7 people" in n for n in notes)
    for name, table in (("olist_orders_dataset.csv", "orders"), ("olist_order_items_dataset.csv", "order_items"),
                        ("olist_customers_dataset.csv", "customers"), ("olist_products_dataset.csv", "products")):
        assert f"{name} read as {table}" in notes
    checked = validate(raw)
    assert checked.report.tables["orders"].rejected == {}
    assert checked.report.tables["order_items"].rejected == {}
    assert checked.report.tables["products"].rejected == {"missing category": 1}
    # the freight column was read into charge lines, so it is not listed as ignored
    assert not any("freight_value" in n for n in checked.report.tables["order_items"].notes)


@pytest.mark.parametrize(("stem", "expected"), [
    ("olist_orders_dataset", ("orders", 2)),
    ("olist_order_items_dataset", ("order_items", 2)),
    ("olist_customers_dataset", ("customers", 2)),
    ("olist_products_dataset", ("products", 2)),
    ("olist_order_reviews_dataset", ("reviews", 2)),
    ("orders_and_order_items", ("order_items", 2)),  # the longest name held wins
    ("shop.orders.2024", ("orders", 2)),
    ("olist_order_payments_dataset", None),  # "order" is not "orders"
    ("order_payments", None),
    ("olist_sellers_dataset", None),
    ("product_category_name_translation", None),  # "product" is not "products"
    ("preorders", None),  # a word only containing the name
    ("orders", ("orders", 0)),
    ("transactions", ("orders", 1)),
])
def test_stems_naming_a_table_as_whole_words(stem: str, expected: tuple[str, int] | None) -> None:
    assert table_for_stem(stem) == expected


def test_exact_stems_win_over_loose_ones(folder: Path) -> None:
    (folder / "orders.csv").write_text("order_id,customer_id,ts,status\no1,c1,2017-10-02,completed\n", encoding="utf-8")
    raw = load_folder(folder, progress=_quiet)
    assert raw.tables["orders"].origin == "orders.csv"
    assert "ignored: olist_orders_dataset.csv (orders.csv is used for orders)" in raw.notes


def test_two_loose_files_for_one_table_is_an_error(folder: Path) -> None:
    from shopper_tui.analytics.errors import ShopperError

    (folder / "shop_orders_2019.csv").write_text(ORDERS, encoding="utf-8")
    with pytest.raises(ShopperError, match=r"all look like the 'orders' table; keep one"):
        load_folder(folder, progress=_quiet)


def test_freight_spellings_on_lines_with_a_quantity(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n"
                                         "o2,c2,2024-01-02,completed\n", encoding="utf-8")
    # shipping is per line, whatever its quantity; 0 and blank add nothing; a text value adds no charge
    (tmp_path / "order_items.csv").write_text("order_id,product_id,quantity,unit_price,Shipping Cost\n"
                                              "o1,p1,2,5.00,3.50\no1,p2,1,1.00,0\no2,p1,1,5.00,\no2,p3,1,2.00,free\n",
                                              encoding="utf-8")
    raw = load_folder(tmp_path, progress=_quiet)
    assert any("'Shipping Cost' read as each line's delivery charge: 1 charge line added" in n
               and "1 value of it not a number added no charge" in n for n in raw.notes)
    items = validate(raw).tables["order_items"]
    assert items.rows() == [("o1", "p1", 2, 5.0, "product"), ("o1", None, 1, 3.5, "charge"),
                            ("o1", "p2", 1, 1.0, "product"), ("o2", "p1", 1, 5.0, "product"),
                            ("o2", "p3", 1, 2.0, "product")]


def test_a_customers_table_without_a_person_column_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,country\nc1,BR\nc2,BR\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n"
                                         "o2,c2,2024-01-02,completed\n", encoding="utf-8")
    (tmp_path / "order_items.csv").write_text("order_id,product_id,quantity,unit_price\no1,p1,1,5\no2,p1,1,5\n",
                                              encoding="utf-8")
    raw = load_folder(tmp_path, progress=_quiet)
    assert not any("names the person" in n for n in raw.notes)
    assert validate(raw).tables["orders"].get_column("customer_id").to_list() == ["c1", "c2"]
