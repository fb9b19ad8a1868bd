"""Folder and retail-file loaders, checked against hand-made files and real public excerpts.

``tests/data/online_retail_excerpt.csv``: header + 256 rows of the Kaggle "ecommerce-data" copy of
UCI Online Retail (old headers, cp1252 bytes incl. a '£', CRLF, US dates, integer ids), taken
as is: the first 242 rows, guest invoice 536414 and 13 lines of guest invoice 539492.
``tests/data/online_retail_ii_excerpt.csv``: header + 241 rows of UCI Online Retail II (new headers)
from the public workbook, written the way the Kaggle CSV export writes them (ISO dates,
float customer ids such as ``12417.0``).

What the loader makes of each line is checked against the purchase rules of
``analytics/purchases.py``, worked out independently here with plain Polars on the file:
every line is kept (guest lines as orders without a customer, charges as ``kind = 'charge'``,
a cancellation's negative quantities as they are), and only unreadable lines are rejected.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.purchases import guest_share, reconcile
from shopper_tui.analytics.rfm import rfm_lifetimes
from shopper_tui.analytics.schema import LINE_COLUMN
from shopper_tui.analytics.sources import load_source
from shopper_tui.analytics.sources.files import load_folder, read_delimited
from shopper_tui.analytics.sources.retail import (
    CHARGE_CODES,
    REASON_REPEATED,
    category_expr,
    load_retail_file,
)
from shopper_tui.analytics.validate import validate
from shopper_tui.analytics.workspace import import_source, open_workspace

DATA = Path(__file__).parent / "data"
OLD = DATA / "online_retail_excerpt.csv"
NEW = DATA / "online_retail_ii_excerpt.csv"
#: The charge codes of the purchase rules, written out here rather than imported, so the
#: tests check the engine's list instead of repeating it.
CHARGES = ["POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "B", "S", "ADJUST"]


def _quiet(step: str, fraction: float | None = None) -> None:
    return None


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _old_excerpt() -> pl.DataFrame:
    """The excerpt read with plain Polars: every column text, cp1252 decoded by Python."""
    text = OLD.read_bytes().decode("cp1252")
    return pl.read_csv(io.StringIO(text), infer_schema=False).with_row_index("line", offset=2)


def _kept_lines(raw, checked) -> pl.DataFrame:
    """The loader's order lines (with their line numbers), checked to be exactly the lines the
    validator kept: the validated table has no line numbers."""
    lines = raw.tables["order_items"].frame.sort(LINE_COLUMN)
    assert_frame_equal(lines.drop(LINE_COLUMN), checked.tables["order_items"])
    return lines


def _new_excerpt() -> pl.DataFrame:
    """The Online Retail II excerpt read with plain Polars, every column text."""
    return pl.read_csv(NEW, infer_schema=False).with_row_index("line", offset=2)


def _by_hand(plain: pl.DataFrame, invoice: str = "InvoiceNo", price: str = "UnitPrice",
             customer: str = "CustomerID") -> pl.DataFrame:
    """Each line of an excerpt with what the purchase rules make of it, worked out by hand:
    ``what`` is the reconciliation kind (C invoice → cancelled; quantity ≤ 0 or negative price
    → adjustment; upper-cased stock code in :data:`CHARGES` → charge; else product)."""
    out = plain.select(
        pl.col("line").cast(pl.Int64),
        pl.col(invoice).alias("invoice"),
        pl.col("StockCode").str.to_uppercase().alias("code"),
        pl.col(customer).alias("customer"),
        pl.col("Quantity").cast(pl.Int64).alias("q"),
        pl.col(price).cast(pl.Float64).alias("p"),
    ).with_columns(v=pl.col("q") * pl.col("p"))
    return out.with_columns(
        what=pl.when(pl.col("invoice").str.starts_with("C")).then(pl.lit("cancelled"))
        .when((pl.col("q") <= 0) | (pl.col("p") < 0)).then(pl.lit("adjustments"))
        .when(pl.col("code").is_in(CHARGES)).then(pl.lit("sold charge lines"))
        .otherwise(pl.lit("sold product lines"))
    )


# -- folder of canonical tables -----------------------------------------------------------


@pytest.fixture
def shop_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    _write(folder / "Users.CSV", "Customer ID,Country,Signup Date\nc1,UK,2024-01-05\nc2,FR,2024-02-10\n")
    pl.DataFrame(
        {"SKU": ["p1", "p2"], "Product Name": ["Mug", "Bag"], "Category": ["Kitchen", "Bags"], "Price": [4.5, 12.0]}
    ).write_parquet(folder / "products.parquet")
    _write(folder / "orders.csv",
           "Order ID;customer;Created At;Status\no1;c1;2024-03-01 10:00:00;Completed\n"
           "o2;c2;2024-03-02 11:30:00;canceled\no3;c1;2024-03-05 09:15:00;delivered\n")
    _write(folder / "order_lines.tsv", "order_id\tSKU\tqty\tprice\no1\tp1\t2\t4.5\no1\tp2\t1\t12\n"
           "o2\tp2\t1\t12\no3\tp1\t3\t4.0\n")
    _write(folder / "events.jsonl",
           '{"session": "s1", "user_id": "c1", "timestamp": "2024-03-01T09:58:00", "event": "view", "item_id": "p1"}\n'
           '{"session": "s1", "user_id": "c1", "timestamp": "2024-03-01T09:59:00", "event": "addtocart", "item_id": "p1"}\n'
           '{"session": "s2", "user_id": null, "timestamp": "2024-03-01T12:00:00", "event": "view", "item_id": "p2"}\n')
    _write(folder / "notes.txt", "not a table\n")
    _write(folder / ".DS_Store", "junk")
    return folder


def test_folder_reads_csv_parquet_jsonl_with_odd_headers(shop_folder: Path) -> None:
    raw = load_folder(shop_folder, progress=_quiet)
    assert raw.kind == "files"
    assert set(raw.tables) == {"customers", "products", "orders", "order_items", "events"}
    assert "ignored: notes.txt" in raw.notes
    assert not any(".DS_Store" in n for n in raw.notes)
    assert "Users.CSV read as customers" in raw.notes and "order_lines.tsv read as order_items" in raw.notes
    assert {"customer_id", "country", "signup_ts"} <= set(raw.tables["customers"].frame.columns)
    assert {"product_id", "name", "category", "price"} <= set(raw.tables["products"].frame.columns)
    assert {"order_id", "customer_id", "ts", "status"} <= set(raw.tables["orders"].frame.columns)
    assert {"order_id", "product_id", "quantity", "unit_price"} <= set(raw.tables["order_items"].frame.columns)
    assert {"session_id", "customer_id", "ts", "event_type", "product_id"} <= set(raw.tables["events"].frame.columns)
    # CSV: physical lines; Parquet / JSON Lines: record numbers from 1
    assert raw.tables["orders"].frame.get_column(LINE_COLUMN).to_list() == [2, 3, 4]
    assert raw.tables["products"].frame.get_column(LINE_COLUMN).to_list() == [1, 2]
    assert raw.tables["events"].frame.get_column(LINE_COLUMN).to_list() == [1, 2, 3]
    # CSV stays text for the validator; Parquet keeps its types
    assert raw.tables["orders"].frame.schema["ts"] == pl.String
    assert raw.tables["products"].frame.schema["price"] == pl.Float64

    checked = validate(raw)
    assert checked.report.rows_rejected == 0
    orders = checked.tables["orders"].sort("order_id")
    assert orders.get_column("status").to_list() == ["completed", "cancelled", "completed"]
    assert orders.get_column("ts").to_list()[1] == datetime(2024, 3, 2, 11, 30)
    items = checked.tables["order_items"].join(orders, on="order_id")
    revenue = items.filter(pl.col("status") == "completed").select((pl.col("quantity") * pl.col("unit_price")).sum())
    assert revenue.item() == pytest.approx(2 * 4.5 + 12 + 3 * 4.0)
    assert checked.tables["events"].get_column("event_type").to_list() == ["view", "add_to_cart", "view"]
    assert checked.tables["customers"].get_column("signup_ts").to_list()[0] == datetime(2024, 1, 5)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_detected_from_header(tmp_path: Path, delimiter: str) -> None:
    rows = [["order_id", "customer_id", "ts", "status"], ["o1", "c1", "2024-01-02", "completed"],
            ["o2", "c2", "2024-01-03", "cancelled"]]
    f = _write(tmp_path / "orders.csv", "".join(delimiter.join(r) + "\n" for r in rows))
    text = read_delimited(f)
    assert text.delimiter == delimiter
    assert text.frame.columns == ["order_id", "customer_id", "ts", "status", LINE_COLUMN]
    assert text.frame.get_column("customer_id").to_list() == ["c1", "c2"]


def test_delimiter_inside_quotes_does_not_win(tmp_path: Path) -> None:
    f = _write(tmp_path / "orders.csv", '"order; id",customer_id,ts\n1,c1,2024-01-01\n')
    assert read_delimited(f).delimiter == ","


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    f = tmp_path / "customers.csv"
    f.write_bytes(b"\xef\xbb\xbfCustomerID,Country\r\n17850,United Kingdom\r\n")
    raw = load_folder(tmp_path, progress=_quiet)
    table = raw.tables["customers"]
    assert table.encoding is None
    assert table.frame.get_column("customer_id").to_list() == ["17850"]


def test_cp1252_fallback_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "products.csv"
    f.write_bytes("product_id,name,category\ng40,Gift Voucher £40.00 – café,Vouchers\n".encode("cp1252"))
    raw = load_folder(tmp_path, progress=_quiet)
    assert raw.tables["products"].encoding == "cp1252"
    assert raw.tables["products"].frame.get_column("name").to_list() == ["Gift Voucher £40.00 – café"]
    report = validate(_with_orders(raw, tmp_path)).report
    assert "not UTF-8; read as cp1252" in report.tables["products"].notes


def test_latin1_when_not_cp1252(tmp_path: Path) -> None:
    f = tmp_path / "products.csv"
    f.write_bytes(b"product_id,name,category\np1,odd \x81 byte \xe9,Misc\n")  # 0x81 is unassigned in cp1252
    text = read_delimited(f)
    assert text.encoding == "latin-1"
    assert text.frame.get_column("name").to_list() == ["odd \x81 byte é"]


def test_utf16_excel_unicode_text(tmp_path: Path) -> None:
    f = tmp_path / "customers.txt"
    f.write_bytes("customer_id\tcountry\nc1\tÉire\n".encode("utf-16"))
    text = read_delimited(f)
    assert (text.encoding, text.delimiter) == ("UTF-16", "\t")
    assert text.frame.get_column("country").to_list() == ["Éire"]


def test_line_numbers_exact_with_multiline_fields_and_blank_rows(tmp_path: Path) -> None:
    f = _write(tmp_path / "reviews.csv",
               'review_id,product_id,text\r\n'
               'r1,p1,"great\r\nmug, really"\r\n'      # lines 2-3
               '\r\n'                                  # line 4, blank
               'r2,p2,"line one\nline two\nthree"\n'   # lines 5-7
               ',,\n'                                  # line 8, only delimiters
               'r3,p3,fine\n')                         # line 9
    text = read_delimited(f)
    assert text.frame.get_column("review_id").to_list() == ["r1", "r2", "r3"]
    assert text.frame.get_column(LINE_COLUMN).to_list() == [2, 5, 9]
    assert text.blank_lines == 2


def test_csv_gz_and_uppercase_stem(tmp_path: Path) -> None:
    (tmp_path / "ORDERS.csv.gz").write_bytes(gzip.compress(b"order_id,customer_id,ts,status\no1,c1,2024-01-01,paid\n"))
    _write(tmp_path / "items.csv", "order_id,product_id,quantity,unit_price\no1,p1,1,2.5\n")
    raw = load_folder(tmp_path, progress=_quiet)
    assert set(raw.tables) == {"orders", "order_items"}
    checked = validate(raw)
    assert checked.tables["orders"].get_column("status").to_list() == ["completed"]


def test_transactions_used_as_orders_only_when_unambiguous(tmp_path: Path) -> None:
    _write(tmp_path / "transactions.csv", "order_id,customer_id,ts,status\nt1,c1,2024-01-01,completed\n")
    _write(tmp_path / "order_items.csv", "order_id,product_id,quantity,unit_price\nt1,p1,1,2.5\n")
    raw = load_folder(tmp_path, progress=_quiet)
    assert raw.tables["orders"].origin == "transactions.csv"
    _write(tmp_path / "orders.csv", "order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    raw = load_folder(tmp_path, progress=_quiet)
    assert raw.tables["orders"].origin == "orders.csv"
    assert "ignored: transactions.csv (orders.csv is used for orders)" in raw.notes


def test_two_files_for_one_table_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "orders.csv", "order_id,customer_id,ts,status\n")
    pl.DataFrame({"order_id": ["o1"]}).write_parquet(tmp_path / "orders.parquet")
    with pytest.raises(ShopperError, match=r"orders\.csv, orders\.parquet all look like the 'orders' table"):
        load_folder(tmp_path, progress=_quiet)


def test_truth_frames_go_to_extras_unchanged(tmp_path: Path) -> None:
    truth = pl.DataFrame({"customer_id": ["c1", "c2"], "segment": [0, 1]})
    truth.write_parquet(tmp_path / "truth_customers.parquet")
    (tmp_path / "truth.json").write_text('{"k": 3}')
    _write(tmp_path / "orders.csv", "order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    raw = load_folder(tmp_path, progress=_quiet)
    assert_frame_equal(raw.extras["truth_customers"], truth)
    assert not any("truth" in n for n in raw.notes)


def test_ambiguous_headers_prefer_the_closer_name(tmp_path: Path) -> None:
    _write(tmp_path / "orders.csv", "id,order_id,customer_id,date,created_at,status\nx,o1,c1,2024-01-01,2024-01-02,ok\n")
    raw = load_folder(tmp_path, progress=_quiet)
    frame = raw.tables["orders"].frame
    assert frame.get_column("order_id").to_list() == ["o1"]
    assert frame.get_column("ts").to_list() == ["2024-01-02"]  # created_at outranks date
    assert any("'created_at' used as ts; 'date' also looked like it" in n for n in raw.notes)


def test_order_items_without_quantity_count_one_unit_per_row(tmp_path: Path) -> None:
    _write(tmp_path / "orders.csv", "order_id,customer_id,order_purchase_timestamp,order_status\n"
           "o1,c1,10/2/2017 10:56,delivered\n")
    _write(tmp_path / "order_items.csv", "order_id,order_item_id,product_id,price\no1,1,p1,58.9\no1,2,p1,58.9\n")
    checked = validate(load_folder(tmp_path, progress=_quiet))
    assert checked.tables["order_items"].get_column("quantity").to_list() == [1, 1]
    assert checked.tables["orders"].get_column("ts").to_list() == [datetime(2017, 10, 2, 10, 56)]


def test_events_without_sessions_get_30_minute_sessions(tmp_path: Path) -> None:
    # Retailrocket's events.csv shape: epoch milliseconds as text, visitorid, event, itemid
    base = 1_433_221_332_117
    minute = 60_000
    rows = [(base, "1", "view", "10"), (base + 10 * minute, "1", "addtocart", "10"),
            (base + 45 * minute, "1", "view", "11"), (base + 5 * minute, "2", "view", "12"),
            (base + 6 * minute, "2", "transaction", "12")]
    _write(tmp_path / "events.csv", "timestamp,visitorid,event,itemid,transactionid\n"
           + "".join(f"{t},{v},{e},{i},\n" for t, v, e, i in rows))
    raw = load_folder(tmp_path, progress=_quiet)
    ev = raw.tables["events"].frame
    assert ev.get_column("session_id").to_list() == ["1:1", "1:1", "1:2", "2:1", "2:1"]
    assert any("3 sessions derived" in n and "epoch milliseconds" in n for n in raw.notes)
    checked = validate(raw)
    events = checked.tables["events"]
    assert events.get_column("ts").to_list()[0] == datetime(2015, 6, 2, 5, 2, 12, 117000)
    assert events.get_column("event_type").to_list() == ["view", "add_to_cart", "view", "view", "purchase"]


def test_sample_source_reads_bundled_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import shopper_tui.analytics.sources as sources

    _write(tmp_path / "orders.csv", "order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "truth_experiment.parquet")
    monkeypatch.setattr(sources, "bundled_sample_dir", lambda: tmp_path)
    raw = load_source("sample")
    assert raw.kind == "sample" and set(raw.extras) == {"truth_experiment"}


# -- one retail transactions file ---------------------------------------------------------


@pytest.fixture(scope="module")
def old_raw():
    return load_retail_file(OLD, progress=_quiet)


def test_retail_excerpt_reads_cp1252_and_us_dates(old_raw) -> None:
    assert old_raw.kind == "retail"
    assert old_raw.tables["order_items"].encoding == "cp1252"
    assert "InvoiceDate read as US month/day/year (%m/%d/%Y %H:%M)" in old_raw.notes
    checked = validate(old_raw)
    assert "not UTF-8; read as cp1252" in checked.report.tables["order_items"].notes
    first = checked.tables["orders"].filter(pl.col("order_id") == "536365")
    assert first.get_column("ts").item() == datetime(2010, 12, 1, 8, 26)
    assert first.get_column("customer_id").item() == "17850"


def test_retail_guest_lines_kept_as_guest_orders(old_raw) -> None:
    plain = _old_excerpt()
    guest_lines = plain.filter(pl.col("CustomerID").is_null())
    expected = guest_lines.get_column("line").cast(pl.Int64).to_list()
    assert len(expected) == 14  # 536414 (1 line) + 13 lines of 539492
    assert old_raw.loader_rejects.height == 0  # nothing in the excerpt is unreadable
    checked = validate(old_raw)
    report = checked.report.tables["order_items"]
    assert report.rows_read == report.rows_kept == plain.height == 256 and report.rejected == {}
    orders = checked.tables["orders"]
    guests = orders.filter(pl.col("customer_id").is_null())
    assert sorted(guests.get_column("order_id").to_list()) == ["536414", "539492"]
    assert guests.get_column("status").to_list() == ["completed", "completed"]
    # exactly the file's guest lines (same line numbers, quantities and prices) are the items of those orders
    items = _kept_lines(old_raw, checked)
    got = items.filter(pl.col("order_id").is_in(guests.get_column("order_id").implode())).sort(LINE_COLUMN)
    assert got.get_column(LINE_COLUMN).to_list() == expected
    assert got.get_column("quantity").to_list() == guest_lines.get_column("Quantity").cast(pl.Int64).to_list()
    assert got.get_column("unit_price").to_list() == guest_lines.get_column("UnitPrice").cast(pl.Float64).to_list()
    # guests are no customers
    assert checked.tables["customers"].get_column("customer_id").null_count() == 0
    assert checked.tables["customers"].height == plain.get_column("CustomerID").drop_nulls().n_unique() == 18


def test_retail_charge_lines_kept_as_charges_not_products(old_raw) -> None:
    assert sorted(CHARGE_CODES) == sorted(CHARGES)
    plain = _old_excerpt()
    charge_lines = plain.filter(pl.col("StockCode").str.to_uppercase().is_in(CHARGES))
    assert charge_lines.select("line", "InvoiceNo", "StockCode").rows() == [
        (47, "536370", "POST"), (143, "C536379", "D")]  # postage; C536379's discount
    checked = validate(old_raw)
    items = _kept_lines(old_raw, checked)
    assert items.height == plain.height  # every line is an order line, charges included
    charges = items.filter(pl.col("kind") == "charge").sort(LINE_COLUMN)
    assert charges.select(LINE_COLUMN, "order_id", "product_id", "quantity", "unit_price").rows() == [
        (47, "536370", "POST", 3, 18.0), (143, "C536379", "D", -1, 27.5)]
    assert items.filter(pl.col("kind") == "product").height == plain.height - charge_lines.height
    assert set(items.get_column("kind")) == {"product", "charge"}
    products = checked.tables["products"].get_column("product_id").to_list()
    assert "POST" not in products and "D" not in products
    # the catalogue is every other stock code (upper-cased), guest and cancelled lines included
    expected = plain.filter(~pl.col("StockCode").str.to_uppercase().is_in(CHARGES)).get_column("StockCode").str.to_uppercase()
    assert sorted(products) == sorted(expected.unique().to_list()) and len(products) == 196


def test_retail_cancellations_keep_their_negative_quantities(old_raw) -> None:
    plain = _old_excerpt()
    c_lines = plain.filter(pl.col("InvoiceNo").str.starts_with("C"))
    checked = validate(old_raw)
    orders, items = checked.tables["orders"], _kept_lines(old_raw, checked)
    cancelled = orders.filter(pl.col("status") == "cancelled").get_column("order_id").sort().to_list()
    assert cancelled == c_lines.get_column("InvoiceNo").unique().sort().to_list() == ["C536379", "C536383", "C536391"]
    got = items.filter(pl.col("order_id").is_in(cancelled)).sort(LINE_COLUMN)
    assert got.select(LINE_COLUMN, "quantity", "unit_price").rows() == c_lines.select(
        pl.col("line").cast(pl.Int64), pl.col("Quantity").cast(pl.Int64), pl.col("UnitPrice").cast(pl.Float64)).rows()
    c391 = items.filter(pl.col("order_id") == "C536391")
    assert c391.height == 7
    assert c391.get_column("quantity").sum() == -(12 + 24 + 24 + 24 + 12 + 12 + 24)
    assert (c391.get_column("quantity") < 0).all()
    # C536379 holds only a discount line (a charge): it is an order of its own all the same
    assert orders.filter(pl.col("order_id") == "C536379").select("customer_id", "status").rows() == [
        ("14527", "cancelled")]


def test_retail_completed_revenue_matches_hand_computation(old_raw) -> None:
    plain = _old_excerpt().with_columns(pl.col("Quantity").cast(pl.Int64), pl.col("UnitPrice").cast(pl.Float64))
    # Σ q × p over the non-C invoices' lines with q > 0 and p ≥ 0: guests and charges included
    by_hand = plain.filter(
        ~pl.col("InvoiceNo").str.starts_with("C") & (pl.col("Quantity") > 0) & (pl.col("UnitPrice") >= 0)
    ).select((pl.col("Quantity") * pl.col("UnitPrice")).sum()).item()
    checked = validate(old_raw)
    ours = (
        checked.tables["order_items"].join(checked.tables["orders"], on="order_id")
        .filter((pl.col("status") == "completed") & (pl.col("quantity") > 0) & (pl.col("unit_price") >= 0))
        .select((pl.col("quantity") * pl.col("unit_price")).sum()).item()
    )
    assert ours == pytest.approx(by_hand)
    # 10870.19 of products bought by customers (the old figure) + 54.00 postage + 70.78 of guest orders
    assert by_hand == pytest.approx(10870.19 + 54.0 + 70.78, abs=0.005)
    assert by_hand == pytest.approx(10994.97, abs=0.005)
    assert checked.tables["orders"].height == plain.get_column("InvoiceNo").n_unique() == 29


def test_retail_products_named_by_most_frequent_description(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv",
               "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
               "1,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26,2.55,17850.0,United Kingdom\n"
               "2,85123a,CREAM HANGING HEART T-LIGHT HOLDER,6,2010-12-01 09:00,2.95,17851.0,France\n"
               "3,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2010-12-02 10:00,3.25,17851.0,France\n"
               "4,22423,REGENCY CAKESTAND 3 TIER,1,2010-12-02 10:00,12.75,17851.0,EIRE\n")
    checked = validate(load_retail_file(f, progress=_quiet))
    products = checked.tables["products"].sort("product_id")
    assert products.get_column("product_id").to_list() == ["22423", "85123A"]
    assert products.get_column("name").to_list() == ["REGENCY CAKESTAND 3 TIER", "WHITE HANGING HEART T-LIGHT HOLDER"]
    assert products.get_column("price").to_list() == [12.75, 2.95]
    assert products.get_column("category").to_list() == ["Kitchen & Dining", "Candles & Lights"]
    customers = checked.tables["customers"].sort("customer_id")
    assert customers.get_column("customer_id").to_list() == ["17850", "17851"]
    assert customers.get_column("country").to_list() == ["United Kingdom", "France"]


def _as_new_style(old: Path, out: Path) -> Path:
    """The same lines written as an Online Retail II CSV: new headers, ISO dates, float ids."""
    plain = pl.read_csv(io.StringIO(old.read_bytes().decode("cp1252")), infer_schema=False)
    new = plain.select(
        pl.col("InvoiceNo").alias("Invoice"),
        "StockCode",
        "Description",
        "Quantity",
        pl.col("InvoiceDate").str.to_datetime("%m/%d/%Y %H:%M").dt.strftime("%Y-%m-%d %H:%M:%S").alias("InvoiceDate"),
        pl.col("UnitPrice").alias("Price"),
        (pl.col("CustomerID") + ".0").alias("Customer ID"),
        "Country",
    )
    new.write_csv(out)
    return out


def test_both_header_styles_give_identical_tables(tmp_path: Path, old_raw) -> None:
    new_raw = load_retail_file(_as_new_style(OLD, tmp_path / "online_retail_II.csv"), progress=_quiet)
    assert any(n.startswith("InvoiceDate read as ISO (%Y-%m-%d %H:%M:%S") for n in new_raw.notes)
    old_checked, new_checked = validate(old_raw), validate(new_raw)
    for table in ("customers", "products", "orders", "order_items"):
        assert_frame_equal(old_checked.tables[table], new_checked.tables[table])
    assert old_raw.loader_rejects.height == new_raw.loader_rejects.height == 0
    # the rejects name each file's own header: one unreadable price appended to both files
    bad = "536999,22423,REGENCY CAKESTAND 3 TIER,2,12/2/2010 10:00,abc,17850,United Kingdom\r\n"
    old_bad = tmp_path / "old_bad.csv"
    old_bad.write_bytes(OLD.read_bytes() + bad.encode("cp1252"))
    rejects = [load_retail_file(f, progress=_quiet).loader_rejects.select("line", "column", "value", "reason").rows()
               for f in (old_bad, _as_new_style(old_bad, tmp_path / "new_bad.csv"))]
    assert rejects == [[(258, "UnitPrice", "abc", "unparseable unit price")],
                       [(258, "Price", "abc", "unparseable unit price")]]


def test_online_retail_ii_excerpt(tmp_path: Path) -> None:
    raw = load_retail_file(NEW, progress=_quiet)
    assert raw.tables["order_items"].encoding is None
    assert any(n.startswith("InvoiceDate read as ISO (%Y-%m-%d %H:%M:%S") for n in raw.notes)
    checked = validate(raw)
    ids = checked.tables["customers"].get_column("customer_id")
    assert ids.str.contains(r"^\d{5}$").all() and "12417" in ids.to_list()
    plain = _new_excerpt()
    report = checked.report.tables["order_items"]
    assert report.rows_read == report.rows_kept == plain.height == 241 and raw.loader_rejects.height == 0
    orders, items = checked.tables["orders"], _kept_lines(raw, checked)
    assert orders.height == plain.get_column("Invoice").n_unique() == 17
    # guest lines: the items of orders without a customer, line for line
    guests = plain.filter(pl.col("Customer ID").is_null())
    guest_orders = orders.filter(pl.col("customer_id").is_null()).get_column("order_id")
    assert guest_orders.to_list() == guests.get_column("Invoice").unique().to_list() == ["504096"]
    assert (items.filter(pl.col("order_id").is_in(guest_orders.implode())).get_column(LINE_COLUMN).sort().to_list()
            == guests.get_column("line").cast(pl.Int64).to_list())
    # every C invoice is cancelled, C497951 (a manual 'M' line only) too, its quantities as in the file
    c_lines = plain.filter(pl.col("Invoice").str.starts_with("C"))
    assert (orders.filter(pl.col("status") == "cancelled").get_column("order_id").sort().to_list()
            == c_lines.get_column("Invoice").unique().sort().to_list() == ["C494271", "C497951", "C504330"])
    assert (items.filter(pl.col("order_id").str.starts_with("C")).sort(LINE_COLUMN).get_column("quantity").to_list()
            == c_lines.get_column("Quantity").cast(pl.Int64).to_list() == [-1, -1, -1])
    # charges: the postage and manual lines, by the upper-cased stock code
    charge_lines = plain.filter(pl.col("StockCode").str.to_uppercase().is_in(CHARGES))
    assert (items.filter(pl.col("kind") == "charge").get_column(LINE_COLUMN).sort().to_list()
            == charge_lines.get_column("line").cast(pl.Int64).to_list())
    assert charge_lines.height == 12
    assert not set(checked.tables["products"].get_column("product_id")) & {"POST", "M"}


@pytest.mark.parametrize(
    ("written", "family", "expected"),
    [
        ("12/13/2010 8:26", "US month/day/year (%m/%d/%Y %H:%M)", datetime(2010, 12, 13, 8, 26)),
        ("2010-12-13 08:26:00", "ISO (%Y-%m-%d %H:%M:%S", datetime(2010, 12, 13, 8, 26)),
        ("2010-12-13T08:26:00", "ISO (%Y-%m-%dT%H:%M:%S", datetime(2010, 12, 13, 8, 26)),
    ],
)
def test_retail_dates_detected_per_file(tmp_path: Path, written: str, family: str, expected: datetime) -> None:
    f = _write(tmp_path / "sales.csv", "order_id,sku,qty,date,price,customer\n"
               f"1,A1,2,{written},1.5,42.0\n")
    raw = load_retail_file(f, progress=_quiet)
    assert any(n.startswith(f"date read as {family}") for n in raw.notes)
    checked = validate(raw)
    assert checked.tables["orders"].get_column("ts").to_list() == [expected]
    assert checked.tables["orders"].get_column("customer_id").to_list() == ["42"]


def test_retail_negative_lines_are_adjustments_not_returns(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv",
               "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
               "500,A1,RED MUG,-2,2011-01-01 10:00,3.0,1,UK\n"      # all negative: still completed,
               "500,B2,BLUE MUG,-1,2011-01-01 10:00,3.0,1,UK\n"     # its lines are adjustments
               "501,A1,RED MUG,5,2011-01-02 10:00,3.0,2,UK\n"       # sold
               "501,B2,BLUE MUG,-1,2011-01-02 10:00,3.0,2,UK\n"     # negative line in a sale: adjustment
               "501,G7,GREEN MUG,0,2011-01-02 10:00,3.0,2,UK\n"     # zero quantity: adjustment
               "C502,A1,RED MUG,-1,2011-01-03 10:00,3.0,2,UK\n"     # cancelled
               "503,A1,RED MUG,x,2011-01-03 10:00,3.0,2,UK\n"       # unparseable quantity: rejected
               "504,B,Adjust bad debt,1,2011-01-04 10:00,-11062.06,,UK\n")  # negative price (a guest's): adjustment
    raw = load_retail_file(f, progress=_quiet)
    checked = validate(raw)
    orders = checked.tables["orders"].sort("order_id")
    assert orders.select("order_id", "customer_id", "status").rows() == [
        ("500", "1", "completed"), ("501", "2", "completed"), ("504", None, "completed"), ("C502", "2", "cancelled")]
    items = _kept_lines(raw, checked)
    assert items.select("order_id", "product_id", "quantity", "unit_price", "kind").rows() == [
        ("500", "A1", -2, 3.0, "product"), ("500", "B2", -1, 3.0, "product"), ("501", "A1", 5, 3.0, "product"),
        ("501", "B2", -1, 3.0, "product"), ("501", "G7", 0, 3.0, "product"), ("C502", "A1", -1, 3.0, "product"),
        ("504", "B", 1, -11062.06, "charge")]
    assert raw.loader_rejects.select("line", "column", "value", "reason").rows() == [
        (8, "Quantity", "x", "unparseable quantity")]
    assert raw.loader_rejects.get_column("amount").to_list() == [None]  # no quantity, so no value
    # through the workspace: only 501 is a purchase, worth its one sold line
    with open_workspace(import_source(f, data_dir=tmp_path / "data").path) as ws:
        assert ws.sql("SELECT order_id, value, lines FROM purchases").rows() == [("501", 15.0, 1)]
        assert ws.sql("SELECT order_id, product_id FROM sold_lines").rows() == [("501", "A1")]
        rec = reconcile(ws)
    assert dict(rec.rows.select("kind", "lines").iter_rows()) == {
        "sold product lines": 1, "sold charge lines": 0, "adjustments": 5, "cancelled": 1, "returned": 0,
        "duplicates": 0, "rejected": 1}
    value = dict(rec.rows.select("kind", "value").iter_rows())
    assert value["sold product lines"] == 15.0 and value["cancelled"] == -3.0
    assert value["adjustments"] == pytest.approx(-6 - 3 - 3 + 0 - 11062.06)
    assert rec.lines_read == 8 and rec.value_read == pytest.approx(15 - 6 - 3 - 3 - 3 - 11062.06)


def test_retail_rejects_only_unreadable_lines_and_keep_their_value(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv",
               "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
               "1,A,mug,2,2024-01-01 10:00,2.5,c1,UK\n"
               ",A,mug,2,2024-01-01 10:00,3.0,c1,UK\n"
               "2,B,bag,1,not a date,4.5,c1,UK\n"
               "3,B,bag,3,,1.5,c2,UK\n"
               "4,C,cup,x,2024-01-02 10:00,1.0,c2,UK\n"
               "5,C,cup,1,2024-01-02 10:00,,c2,UK\n"
               "6,C,cup,1,2024-01-02 10:00,abc,c2,UK\n")
    raw = load_retail_file(f, progress=_quiet)
    assert raw.loader_rejects.select("line", "column", "value", "reason", "amount").rows() == [
        (3, "Invoice", None, "missing invoice", 6.0),
        (4, "InvoiceDate", "not a date", "unparseable invoice date", 4.5),
        (5, "InvoiceDate", None, "missing invoice date", 4.5),
        (6, "Quantity", "x", "unparseable quantity", None),
        (7, "Price", None, "missing unit price", None),
        (8, "Price", "abc", "unparseable unit price", None)]
    result = import_source(f, data_dir=tmp_path / "data")
    report = result.report.tables["order_items"]
    assert (report.rows_read, report.rows_kept) == (7, 1)
    assert report.rejected == dict.fromkeys(["missing invoice", "unparseable invoice date", "missing invoice date",
                                             "unparseable quantity", "missing unit price", "unparseable unit price"], 1)
    assert {k: v for k, v in report.rejected_value.items() if v} == {
        "missing invoice": 6.0, "unparseable invoice date": 4.5, "missing invoice date": 4.5}
    with open_workspace(result.path) as ws:
        assert ws.rejects().height == 6
        rec = reconcile(ws)
    assert rec.rows.filter(pl.col("lines") > 0).rows() == [("sold product lines", 1, 5.0), ("rejected", 6, 15.0)]
    assert (rec.lines_read, rec.value_read) == (7, 20.0)  # Σ q × p over the lines whose q and p read


def test_retail_status_column_says_returned_or_cancelled(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv", "order_id,customer,date,sku,qty,price,status\n"
               "1,A,2024-01-01,X1,2,5.0,Completed\n2,A,2024-01-02,X1,1,5.0,refunded\n"
               "3,B,2024-01-03,X2,1,7.5,canceled\nC4,B,2024-01-04,X2,-1,7.5,completed\n")
    with open_workspace(import_source(f, data_dir=tmp_path / "data").path) as ws:
        assert ws.sql("SELECT order_id, status FROM orders ORDER BY order_id").rows() == [
            ("1", "completed"), ("2", "returned"), ("3", "cancelled"), ("C4", "cancelled")]  # "C…" wins
        assert ws.sql("SELECT order_id, value FROM purchases").rows() == [("1", 10.0)]
        rec = reconcile(ws)
    assert rec.rows.filter(pl.col("lines") > 0).rows() == [
        ("sold product lines", 1, 10.0), ("cancelled", 2, 0.0), ("returned", 1, 5.0)]


def test_retail_parquet(tmp_path: Path) -> None:
    plain = pl.read_csv(NEW, schema_overrides={"Customer ID": pl.Float64, "Quantity": pl.Int64, "Price": pl.Float64},
                        try_parse_dates=True)
    plain.write_parquet(tmp_path / "retail.parquet")
    from_parquet = validate(load_retail_file(tmp_path / "retail.parquet", progress=_quiet))
    from_csv = validate(load_retail_file(NEW, progress=_quiet))
    for table in ("customers", "products", "orders", "order_items"):
        assert_frame_equal(from_parquet.tables[table], from_csv.tables[table])


def test_retail_missing_column_names_file_and_column(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv", "InvoiceNo,StockCode,Quantity,UnitPrice,CustomerID\n1,A,1,2.0,5\n")
    with pytest.raises(ShopperError, match=r"sales\.csv: no column for date \(recognised: InvoiceNo, StockCode, "
                       r"Quantity, UnitPrice, CustomerID\)"):
        load_retail_file(f, progress=_quiet)


@pytest.mark.parametrize("rows", ["", "17850,2024-01-05,2\n17851,2024-01-06,1\n"], ids=["headers only", "with rows"])
def test_transactions_without_amount_or_unit_price_name_file_and_column(tmp_path: Path, rows: str) -> None:
    f = _write(tmp_path / "visits.csv", "customer_id,date,quantity\n" + rows)
    with pytest.raises(ShopperError, match=r"^visits\.csv: no column for unit price or amount \(recognised: ") as info:
        load_retail_file(f, progress=_quiet)
    recognised = info.value.message.split("(recognised: ", 1)[1].split(")", 1)[0]
    assert sorted(recognised.split(", ")) == ["customer_id", "date", "quantity"]
    assert "either an amount or quantity and unit price" in (info.value.hint or "")
    with pytest.raises(ShopperError, match=r"visits\.csv: no column for unit price or amount"):
        import_source(f, data_dir=tmp_path / "data")
    assert not list((tmp_path / "data").rglob("*.duckdb"))  # nothing half-written is left


def test_category_keywords() -> None:
    names = pl.Series(["WHITE HANGING HEART T-LIGHT HOLDER", "JUMBO BAG RED RETROSPOT", "PAPER CHAIN KIT 50'S CHRISTMAS",
                       "SET/6 RED SPOTTY PAPER CUPS", "ASSORTED COLOUR BIRD ORNAMENT", "WOODEN PICTURE FRAME",
                       "SOMETHING ODD"])
    got = pl.select(category_expr(pl.lit(names))).to_series().to_list()
    assert got == ["Candles & Lights", "Bags", "Christmas", "Mugs & Cups", "Garden & Outdoor", "Home Decor", "Other"]


# -- xlsx ---------------------------------------------------------------------------------


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A minimal .xlsx (Office Open XML) writer: text as inline strings, numbers, and datetimes
    as serial numbers with a date style, so the reader sees real date cells."""
    def cell(ref: str, v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, datetime):
            serial = (v - datetime(1899, 12, 30)).total_seconds() / 86400
            return f'<c r="{ref}" s="1"><v>{serial}</v></c>'
        if isinstance(v, (int, float)):
            return f'<c r="{ref}"><v>{v}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'

    def col(i: int) -> str:
        return "ABCDEFGHIJ"[i]

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                             for i in range(len(sheets))) + "</Types>")
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                   + "".join(f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(sheets))
                   + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   + "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                             for i in range(len(sheets)))
                   + f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
                   "</Relationships>")
        z.writestr("xl/styles.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                   '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
                   '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
                   '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>')
        for i, rows in enumerate(sheets.values()):
            body = "".join(
                f'<row r="{r + 1}">' + "".join(cell(f"{col(c)}{r + 1}", v) for c, v in enumerate(row)) + "</row>"
                for r, row in enumerate(rows))
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml",
                       '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                       f"<sheetData>{body}</sheetData></worksheet>")
    return path


def test_xlsx_round_trip_with_overlapping_sheets(tmp_path: Path) -> None:
    header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
    sheet1 = [header,
              [489434, 85048, "15CM CHRISTMAS GLASS BALL 20 LIGHTS", 12, datetime(2009, 12, 1, 7, 45), 6.95, 13085.0, "United Kingdom"],
              [489434, "79323P", "PINK CHERRY LIGHTS", 12, datetime(2009, 12, 1, 7, 45), 6.75, 13085.0, "United Kingdom"],
              ["C489449", 22087, "PAPER BUNTING WHITE LACE", -12, datetime(2009, 12, 1, 10, 33), 2.95, 16321.0, "Australia"],
              [489450, "POST", "POSTAGE", 1, datetime(2009, 12, 1, 10, 40), 18.0, 12682.0, "France"],
              [489451, 21111, "SWISS ROLL TOWEL, CHOCOLATE SPOTS", 6, datetime(2009, 12, 1, 10, 41), 2.95, None, "United Kingdom"],
              [536365, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "United Kingdom"]]
    sheet2 = [header,
              [536365, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "United Kingdom"],
              [581587, 22613, "PACK OF 20 SPACEBOY NAPKINS", 12, datetime(2011, 12, 9, 12, 50), 0.85, 12680.0, "France"]]
    path = _xlsx(tmp_path / "online_retail_II.xlsx", {"Year 2009-2010": sheet1, "Year 2010-2011": sheet2, "Notes": [["hello"]]})
    raw = load_retail_file(path, progress=_quiet)
    assert any("'Notes' ignored" in n for n in raw.notes)
    checked = validate(raw)
    orders = checked.tables["orders"].sort("order_id")
    assert orders.select("order_id", "customer_id", "status").rows() == [
        ("489434", "13085", "completed"), ("489450", "12682", "completed"), ("489451", None, "completed"),
        ("536365", "17850", "completed"), ("581587", "12680", "completed"), ("C489449", "16321", "cancelled")]
    assert orders.filter(pl.col("order_id") == "581587").get_column("ts").item() == datetime(2011, 12, 9, 12, 50)
    items = checked.tables["order_items"]
    # every line but the repeated one: the postage line (a charge) and the guest's line too
    assert items.height == 7 and items.filter(pl.col("order_id") == "536365").height == 1
    assert dict(items.select("product_id", "kind").iter_rows()) == {
        "85048": "product", "79323P": "product", "22087": "product", "POST": "charge", "21111": "product",
        "85123A": "product", "22613": "product"}
    assert items.filter(pl.col("order_id") == "C489449").get_column("quantity").to_list() == [-12]
    assert "POST" not in checked.tables["products"].get_column("product_id").to_list()
    rej = raw.loader_rejects.sort("origin", "line")
    assert rej.select("origin", "line", "column", "reason", "amount").rows() == [
        ("online_retail_II.xlsx [Year 2010-2011]", 2, "Invoice", REASON_REPEATED, pytest.approx(6 * 2.55)),
    ]
    # the repeated line is reconciled as a duplicate, with its value
    with open_workspace(import_source(path, data_dir=tmp_path / "data").path) as ws:
        rec = reconcile(ws)
    kept = {"sold product lines": (5, 12 * 6.95 + 12 * 6.75 + 6 * 2.95 + 6 * 2.55 + 12 * 0.85),
            "sold charge lines": (1, 18.0), "cancelled": (1, -12 * 2.95), "duplicates": (1, 6 * 2.55)}
    for kind, lines, value in rec.rows.iter_rows():
        assert (lines, value) == (kept.get(kind, (0, 0.0))[0], pytest.approx(kept.get(kind, (0, 0.0))[1], abs=0.005))
    assert rec.lines_read == 8 == sum(len(rows) - 1 for rows in (sheet1, sheet2))


def test_broken_xlsx_is_a_shopper_error(tmp_path: Path) -> None:
    f = tmp_path / "sales.xlsx"
    f.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ShopperError, match=r"sales\.xlsx: not a readable Excel workbook"):
        load_retail_file(f, progress=_quiet)


# -- through the workspace ----------------------------------------------------------------


def test_import_retail_excerpt_into_workspace(tmp_path: Path) -> None:
    plain = _by_hand(_old_excerpt())
    result = import_source(OLD, data_dir=tmp_path / "data")
    counts = result.row_counts
    assert counts["orders"] == plain.get_column("invoice").n_unique() == 29
    assert counts["order_items"] == plain.height == 256
    assert counts["customers"] == plain.get_column("customer").drop_nulls().n_unique() == 18
    assert counts["products"] == plain.filter(~pl.col("code").is_in(CHARGES)).get_column("code").n_unique() == 196
    assert result.report.tables["order_items"].rejected == {}
    sold = plain.filter(pl.col("what").str.starts_with("sold"))
    with open_workspace(result.path) as ws:
        assert ws.rejects().height == 0
        assert ws.meta["kind"] == "retail"
        # a purchase: a completed order with a sold line (536414's one line is priced 0: still a purchase)
        got = ws.sql("SELECT order_id, customer_id, value FROM purchases ORDER BY order_id")
        expected = (sold.group_by("invoice").agg(pl.col("customer").first(), pl.col("v").sum())
                    .sort("invoice").rename({"invoice": "order_id", "customer": "customer_id", "v": "value"}))
        assert_frame_equal(got, expected, check_exact=False, abs_tol=1e-9)
        assert got.height == 26 and got.get_column("value").sum() == pytest.approx(10994.97, abs=0.005)
        guests = guest_share(ws)
        assert (guests.orders, guests.revenue) == (2, pytest.approx(0.0 + 70.78))
        assert guests.share_of_revenue == pytest.approx(70.78 / 10994.97)
        # charges count in revenue but are never items
        assert ws.sql("SELECT sum(charge_value) FROM purchases").item() == 54.0
        assert ws.sql("SELECT count(*) FROM item_lines WHERE product_id IN ('POST', 'D')").item() == 0
        assert ws.sql("SELECT count(*) FROM item_lines").item() == sold.filter(pl.col("what") == "sold product lines").height


@pytest.mark.parametrize("which", ["online_retail", "online_retail_ii"])
def test_reconciliation_of_the_excerpt_adds_up_to_the_file(tmp_path: Path, which: str) -> None:
    if which == "online_retail":
        path, plain = OLD, _by_hand(_old_excerpt())
    else:
        path, plain = NEW, _by_hand(_new_excerpt(), invoice="Invoice", price="Price", customer="Customer ID")
    with open_workspace(import_source(path, data_dir=tmp_path).path) as ws:
        rec = reconcile(ws)
    # every line read, and the file's Σ Quantity × UnitPrice to the cent
    assert rec.lines_read == plain.height
    assert rec.value_read == pytest.approx(round(plain.get_column("v").sum(), 2), abs=1e-6)
    assert rec.rows.get_column("lines").sum() == rec.lines_read
    assert rec.rows.get_column("value").sum() == pytest.approx(rec.value_read, abs=0.01)
    # each kind, counted by hand
    kinds = ["sold product lines", "sold charge lines", "adjustments", "cancelled", "returned", "duplicates", "rejected"]
    assert rec.rows.get_column("kind").to_list() == kinds
    by_hand = {k: (n, v) for k, n, v in plain.group_by("what").agg(pl.len(), pl.col("v").sum()).iter_rows()}
    for kind, lines, value in rec.rows.iter_rows():
        n, v = by_hand.get(kind, (0, 0.0))
        assert lines == n, kind
        assert value == pytest.approx(round(v, 2), abs=1e-6), kind
    # and the figures themselves, so a mistake shared by the engine and _by_hand would show
    figures = {
        "online_retail": {"sold product lines": (246, 10940.97), "sold charge lines": (1, 54.0),
                          "cancelled": (9, -173.63), "read": (256, 10821.34)},
        "online_retail_ii": {"sold product lines": (227, 4378.75), "sold charge lines": (11, 2038.65),
                             "cancelled": (3, -1527.10), "read": (241, 4890.30)},
    }[which]
    for kind, (n, v) in figures.items():
        got = (rec.lines_read, rec.value_read) if kind == "read" else rec.rows.filter(pl.col("kind") == kind).row(0)[1:]
        assert (got[0], got[1]) == (n, pytest.approx(v, abs=0.005)), kind


# -- plain transactions (customer, date, amount) ----------------------------------------------

#: Customer, date, quantity and the line's amount; no order id, so each row is one order.
#: A's 2024-01-15 row is free (amount 0: still a purchase, of value 0); 22.00 for 3 units
#: gives a unit price that is not a round number.
PLAIN_TX = """customer_id,date,quantity,amount
A,2024-01-01,2,10.00
A,2024-01-01,1,5.50
A,2024-01-15,3,0
A,2024-02-01,3,22.00
B,2024-01-10,1,8.00
B,2024-01-20,5,12.50
B,2024-03-01,2,30.00
A,2024-03-10,1,7.25
"""


def _lifetimes_by_hand(tx: pl.DataFrame) -> pl.DataFrame:
    """lifetimes' own summary of a transaction log (customer_id, date, amount) as Polars."""
    from lifetimes.utils import summary_data_from_transaction_data

    summary = summary_data_from_transaction_data(tx.to_pandas(), "customer_id", "date", monetary_value_col="amount")
    return pl.from_pandas(summary.reset_index()).select("customer_id", "frequency", "recency", "T", "monetary_value")


def test_plain_transactions_file_one_order_per_row(tmp_path: Path) -> None:
    f = _write(tmp_path / "transactions.csv", PLAIN_TX)
    raw = load_retail_file(f, progress=_quiet)
    assert "transactions.csv: no order id column, so each row is one order" in raw.notes
    with open_workspace(import_source(f, data_dir=tmp_path / "data").path) as ws:
        orders = ws.sql("SELECT order_id, customer_id, ts, status FROM orders ORDER BY ts, order_id")
        items = ws.sql("SELECT order_id, product_id, quantity, unit_price, kind FROM order_items")
        purchases = ws.sql("SELECT order_id, value FROM purchases")
        products, customers = ws.sql("SELECT * FROM products"), ws.sql("SELECT customer_id FROM customers")
        rfm = rfm_lifetimes(ws)
        rec = reconcile(ws)
    # one order per row, named by its line in the file (header = line 1)
    assert orders.select("order_id", "customer_id").rows() == [
        ("#2", "A"), ("#3", "A"), ("#6", "B"), ("#4", "A"), ("#7", "B"), ("#5", "A"), ("#8", "B"), ("#9", "A")]
    assert set(orders.get_column("status")) == {"completed"}
    assert orders.get_column("ts").to_list()[0] == datetime(2024, 1, 1)
    # unit price = amount / quantity, so quantity × unit price is the row's amount
    by_order = {o: (q, p) for o, _, q, p, _ in items.iter_rows()}
    assert {o: q for o, (q, _) in by_order.items()} == {"#2": 2, "#3": 1, "#4": 3, "#5": 3, "#6": 1, "#7": 5, "#8": 2, "#9": 1}
    assert {o: p for o, (_, p) in by_order.items()} == {
        "#2": 5.0, "#3": 5.5, "#4": 0.0, "#5": pytest.approx(22 / 3), "#6": 8.0, "#7": 2.5, "#8": 15.0, "#9": 7.25}
    assert items.get_column("product_id").null_count() == 8 and set(items.get_column("kind")) == {"product"}
    assert products.height == 0 and sorted(customers.get_column("customer_id")) == ["A", "B"]
    # every row is a purchase worth its amount, the free one included
    assert dict(purchases.iter_rows()) == {
        "#2": 10.0, "#3": 5.5, "#4": 0.0, "#5": pytest.approx(22.0), "#6": 8.0, "#7": 12.5, "#8": 30.0, "#9": 7.25}
    assert (rec.lines_read, rec.value_read) == (8, 95.25)
    # lifetimes RFM, by hand (days; the observation end is the last purchase, 2024-03-10):
    # A buys on 01-01 (10 + 5.50, one period), 01-15 (0), 02-01 (22), 03-10 (7.25): 3 repeat
    #   periods, recency 69 (01-01 → 03-10 of a leap year), T 69, monetary (0 + 22 + 7.25) / 3;
    # B buys on 01-10, 01-20 (12.50), 03-01 (30): 2 repeats, recency 51, T 60, monetary 42.50 / 2
    assert rfm.rows() == [("A", 3.0, 69.0, 69.0, pytest.approx(9.75)), ("B", 2.0, 51.0, 60.0, pytest.approx(21.25))]
    tx = pl.read_csv(io.StringIO(PLAIN_TX), try_parse_dates=True)
    assert_frame_equal(rfm, _lifetimes_by_hand(tx), check_dtypes=False, check_exact=False)


def test_plain_transactions_with_order_id_and_product(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv",
               "order_id,customer,date,product,amount\n"
               "1001,A,2024-01-01,mug,10.00\n"
               "1001,A,2024-01-01,POST,3.50\n"      # postage: a charge, in the order's value
               "1002,B,2024-01-05,bag,20.00\n"
               "1003,A,2024-02-01,mug,0\n"          # a free mug: a sold line priced 0
               "1003,A,2024-02-01,bag,15.00\n"
               "1004,,2024-02-10,mug,9.00\n")       # a guest
    with open_workspace(import_source(f, data_dir=tmp_path / "data").path) as ws:
        orders = ws.sql("SELECT order_id, customer_id, status FROM orders ORDER BY order_id")
        items = ws.sql("SELECT order_id, product_id, quantity, unit_price, kind FROM order_items ORDER BY order_id, product_id")
        purchases = ws.sql("SELECT order_id, customer_id, value, product_value, charge_value, items FROM purchases "
                           "ORDER BY order_id")
        products = ws.sql("SELECT product_id, price FROM products ORDER BY product_id")
        rfm = rfm_lifetimes(ws)
    assert orders.rows() == [("1001", "A", "completed"), ("1002", "B", "completed"), ("1003", "A", "completed"),
                             ("1004", None, "completed")]
    # no quantity column: one unit at the amount
    assert items.rows() == [("1001", "MUG", 1, 10.0, "product"), ("1001", "POST", 1, 3.5, "charge"),
                            ("1002", "BAG", 1, 20.0, "product"), ("1003", "BAG", 1, 15.0, "product"),
                            ("1003", "MUG", 1, 0.0, "product"), ("1004", "MUG", 1, 9.0, "product")]
    assert purchases.rows() == [("1001", "A", 13.5, 10.0, 3.5, 1), ("1002", "B", 20.0, 20.0, 0.0, 1),
                                ("1003", "A", 15.0, 15.0, 0.0, 2), ("1004", None, 9.0, 9.0, 0.0, 1)]
    # the catalogue: median positive price; postage is no product
    assert products.rows() == [("BAG", 17.5), ("MUG", 9.5)]
    # RFM leaves the guest out, so the observation end is B's and A's last purchase, 02-01:
    # A: 01-01 (13.50) and 02-01 (15): 1 repeat, recency 31, T 31, monetary 15; B: 01-05 only, T 27
    assert rfm.rows() == [("A", 1.0, 31.0, 31.0, 15.0), ("B", 0.0, 0.0, 27.0, 0.0)]
    tx = (pl.read_csv(f, try_parse_dates=True, schema_overrides={"order_id": pl.String})
          .filter(pl.col("customer").is_not_null()).rename({"customer": "customer_id"}))
    assert_frame_equal(rfm, _lifetimes_by_hand(tx), check_dtypes=False, check_exact=False)


def _with_orders(raw, folder: Path):
    """Add a minimal orders/order_items pair so a products-only source validates."""
    _write(folder / "orders.csv", "order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    _write(folder / "order_items.csv", "order_id,product_id,quantity,unit_price\no1,g40,1,40\n")
    return load_folder(folder, progress=_quiet)


def test_only_c_and_digits_is_a_credit_note(tmp_path: Path) -> None:
    """Order ids that merely begin with a C (a CRM's CA-1001), or a file whose every id is C +
    digits, are ordinary orders; the UCI credit note C536379 beside numeric invoices is cancelled."""
    crm = _write(tmp_path / "crm.csv", "order_id,customer,date,product,amount\n"
                 "CA-1001,A,2024-01-01,MUG,10\nCA-1002,B,2024-01-02,BAG,20\nC1003,B,2024-01-03,BAG,20\n")
    orders = validate(load_retail_file(crm, progress=_quiet)).tables["orders"].sort("order_id")
    assert orders.select("order_id", "status").rows() == [
        ("C1003", "cancelled"), ("CA-1001", "completed"), ("CA-1002", "completed")]
    all_c = _write(tmp_path / "all_c.csv", "order_id,customer,date,product,amount\n"
                   "C1001,A,2024-01-01,MUG,10\nC1002,B,2024-01-02,BAG,20\n")
    statuses = validate(load_retail_file(all_c, progress=_quiet)).tables["orders"].get_column("status")
    assert statuses.to_list() == ["completed", "completed"]


def test_plain_workbook_rows_of_every_sheet_are_orders_of_their_own(tmp_path: Path) -> None:
    """Without an order id each row is one order; line numbers restart on each sheet, so the
    second sheet's rows are orders of their own, not repeats of the first sheet's."""
    header = ["customer_id", "date", "amount"]
    book = _xlsx(tmp_path / "crm.xlsx", {
        "2023": [header, ["A", datetime(2023, 3, 1), 10.0], ["B", datetime(2023, 4, 1), 20.0]],
        "2024": [header, ["A", datetime(2024, 3, 1), 30.0]]})
    checked = validate(load_retail_file(book, progress=_quiet))
    orders = checked.tables["orders"].sort("ts")
    assert orders.select("order_id", "customer_id").rows() == [("#2", "A"), ("#3", "B"), ("#2:2", "A")]
    assert checked.report.tables["order_items"].rejected == {}
    assert checked.tables["order_items"].get_column("unit_price").sum() == 60.0
