"""Shapes of real exports a walk over public files met, each as a small excerpt kept here.

Excerpts (a few rows each, as published):
- ``gulertan/Consumer-Analytics-with-R``, ``online_retail_sample.csv``: UCI Online Retail lines
  written by R: every text quoted, a missing customer written ``NA``.
- ``OlaoyeJohn/files``, ``Sample - Superstore.csv``: the Tableau "Superstore" sample, dates
  ``16-01-17`` (day-month-two-digit-year), ``Sales`` (the line total) and ``Quantity`` with no
  unit price, the catalogue's own ``Category`` / ``Sub-Category`` / ``Manufacturer``.
- ``7jagadeesh/Sample-Datasets``, ``Sample - Superstore.csv``: an order id that carries several
  customer ids (CA-2021-121465).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.features import customer_features
from shopper_tui.analytics.overview import kpis
from shopper_tui.analytics.rec_eval import evaluate
from shopper_tui.analytics.rfm import rfm_lifetimes
from shopper_tui.analytics.workspace import import_source, open_workspace

R_EXPORT = '''"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"
"546306","21733","RED HANGING HEART T-LIGHT HOLDER",2,"2011-03-10 16:16:00",2.95,NA,"United Kingdom"
"557055","23203","JUMBO BAG DOILEY PATTERNS",20,"2011-06-16 14:45:00",2.08,12621,"Germany"
"572516","22336","damaged",-71,"2011-10-24 14:45:00",0,NA,"United Kingdom"
"557055","POST","POSTAGE",1,"2011-06-16 14:45:00",18,12621,"Germany"
'''

SUPERSTORE = '''Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,Segment,Country,County,Region,\
Product ID,Category,Sub-Category,Manufacturer,Sales,Quantity,Discount,Profit
27,CA-2017-121755,16-01-17,20-01-17,Second Class,EH-13945,Eric Hoffmann,Consumer,Kenya,California,West,\
TEC-AC-10003027,Technology,Accessories,Other,90.57,3,0,11.7741
45,CA-2017-118255,11-03-17,13-03-17,First Class,ON-18715,Odella Nelson,Corporate,Kenya,Minnesota,Central,\
TEC-AC-10000171,Technology,Accessories,Other,45.98,2,0,19.7714
48,CA-2017-169194,20-06-17,25-06-17,Standard Class,LH-16900,Lena Hernandez,Consumer,Kenya,Delaware,East,\
TEC-AC-10002167,Technology,Accessories,Other,45,3,0,4.95
60,CA-2017-111682,17-06-17,18-06-17,First Class,TB-21055,Ted Butterfield,Consumer,Kenya,New York,East,\
TEC-AC-10002167,Technology,Accessories,Other,30,2,0,3.3
63,CA-2016-135545,24-11-16,30-11-16,Standard Class,KM-16720,Kunst Miller,Consumer,Kenya,California,West,\
TEC-AC-10004633,Technology,Accessories,Other,13.98,2,0,6.1512
87,CA-2018-155558,26-10-18,02-11-18,Standard Class,PG-18895,Paul Gonzalez,Consumer,Kenya,Minnesota,Central,\
TEC-AC-10001998,Technology,Accessories,Other,19.99,1,0,6.7966
'''

SHARED_ORDER = '''Order ID,Order Date,Customer ID,Product ID,Category,Sales,Quantity
CA-2021-121465,12/06/21,HO-15234,FUR-CH-10001270,Furniture,100.5,1
CA-2021-121465,12/06/21,HO-15233,FUR-CH-10004495,Furniture,50,2
CA-2021-121466,13/06/21,HO-15233,OFF-AR-10003696,Office Supplies,7.5,3
'''


def _open(tmp_path: Path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return open_workspace(import_source(path, data_dir=tmp_path / "data").path)


def test_r_written_na_customer_ids_are_guests(tmp_path: Path) -> None:
    with _open(tmp_path, "online_retail_sample.csv", R_EXPORT) as ws:
        orders = ws.sql("SELECT order_id, customer_id FROM orders ORDER BY order_id").rows()
        k = kpis(ws)
        customers = ws.sql("SELECT customer_id FROM customers").get_column("customer_id").to_list()
    assert orders == [("546306", None), ("557055", "12621"), ("572516", None)]
    assert customers == ["12621"]  # "NA" is no customer
    # 546306 is a guest purchase (5.90); 572516's only line is a stock correction (an adjustment)
    assert (k.orders, k.guest_orders, round(k.guest_revenue, 2)) == (2, 1, 5.90)
    assert round(k.revenue, 2) == round(5.90 + 20 * 2.08 + 18, 2) and round(k.charge_revenue, 2) == 18.0


def test_superstore_dates_amounts_and_its_own_categories(tmp_path: Path) -> None:
    with _open(tmp_path, "Sample - Superstore.csv", SUPERSTORE, encoding="cp1252") as ws:
        orders = ws.sql("SELECT order_id, ts FROM orders ORDER BY ts").rows()
        items = ws.sql("SELECT product_id, quantity, unit_price FROM order_items ORDER BY product_id").rows()
        products = ws.sql("SELECT product_id, category, subcategory, brand FROM products ORDER BY 1").rows()
        k = kpis(ws)
    # 16-01-17 is 16 January 2017 (day-month-year), not 17 January of the year 16
    assert orders[0] == ("CA-2016-135545", datetime(2016, 11, 24))
    assert orders[-1] == ("CA-2018-155558", datetime(2018, 10, 26))
    assert ("TEC-AC-10003027", 3, pytest.approx(90.57 / 3)) in items  # unit price = Sales / Quantity
    assert round(k.revenue, 2) == round(90.57 + 45.98 + 45 + 30 + 13.98 + 19.99, 2)
    assert {p[1:] for p in products} == {("Technology", "Accessories", "Other")}  # the file's own catalogue
    assert (k.first_order, k.last_order) == (datetime(2016, 11, 24), datetime(2018, 10, 26))


def test_an_order_with_several_customer_ids_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "superstore.csv"
    path.write_text(SHARED_ORDER)
    result = import_source(path, data_dir=tmp_path / "data")
    assert any("1 order carry several customer ids" in n and "CA-2021-121465" in n for n in result.report.notes)
    with open_workspace(result.path) as ws:
        rfm = rfm_lifetimes(ws)
    # the order goes to its first line's customer; HO-15233 keeps the other order
    assert rfm.select("customer_id").to_series().to_list() == ["HO-15233", "HO-15234"]


def test_all_guest_orders_say_why_there_is_nothing_to_segment(tmp_path: Path) -> None:
    text = "Invoice,StockCode,Quantity,InvoiceDate,Price\n1,A,1,2024-01-01,5\n2,B,2,2024-01-02,3\n"
    with _open(tmp_path, "guests.csv", text) as ws:
        assert kpis(ws).orders == 2
        with pytest.raises(ShopperError, match="None of the 2 purchases has a customer id"):
            customer_features(ws)


def test_holding_out_more_days_than_the_data_spans_says_so(tmp_path: Path) -> None:
    text = ("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
            + "".join(f"{i},P{i % 3},1,2024-01-0{1 + i % 6} 10:00,2.5,C{i % 4}\n" for i in range(24)))
    with _open(tmp_path, "week.csv", text) as ws:
        with pytest.raises(ShopperError, match="spans 5 days, so holding out the last 30 days") as err:
            evaluate(ws, days=30)
    assert "--days 1" in (err.value.hint or "")


def test_amount_only_files_say_they_name_no_products(tmp_path: Path) -> None:
    from shopper_tui.analytics.recommend import fit_recommender

    text = "customer_id,date,amount\nA,2024-01-01,10\nA,2024-01-05,12\nB,2024-01-03,7\n"
    with _open(tmp_path, "crm.csv", text) as ws:
        assert pl.Series(rfm_lifetimes(ws)["frequency"]).to_list() == [1.0, 0.0]
        with pytest.raises(ShopperError, match="3 purchases, but their lines name no product"):
            fit_recommender(ws)
