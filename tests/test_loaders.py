"""Folder and retail-file loaders, checked against hand-made files and real public excerpts.

``tests/data/online_retail_excerpt.csv``: header + 256 rows of the Kaggle "ecommerce-data" copy of
UCI Online Retail (old headers, cp1252 bytes incl. a '£', CRLF, US dates, integer ids), taken
as is: the first 242 rows, guest invoice 536414 and 13 lines of guest invoice 539492.
``tests/data/online_retail_ii_excerpt.csv``: header + 241 rows of UCI Online Retail II (new headers)
from the public workbook, written the way the Kaggle CSV export writes them (ISO dates,
float customer ids such as ``12417.0``).
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
from shopper_tui.analytics.schema import LINE_COLUMN
from shopper_tui.analytics.sources import load_source
from shopper_tui.analytics.sources.files import load_folder, read_delimited
from shopper_tui.analytics.sources.retail import (
    REASON_GUEST,
    REASON_NON_PRODUCT,
    REASON_REPEATED,
    category_expr,
    load_retail_file,
)
from shopper_tui.analytics.validate import validate
from shopper_tui.analytics.workspace import import_source, open_workspace

DATA = Path(__file__).parent / "data"
OLD = DATA / "online_retail_excerpt.csv"
NEW = DATA / "online_retail_ii_excerpt.csv"
NON_PRODUCT = ["POST", "DOT", "M", "D", "C2", "C3", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "B", "S"]


def _quiet(step: str, fraction: float | None = None) -> None:
    return None


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _old_excerpt() -> pl.DataFrame:
    """The excerpt read with plain Polars: every column text, cp1252 decoded by Python."""
    text = OLD.read_bytes().decode("cp1252")
    return pl.read_csv(io.StringIO(text), infer_schema=False).with_row_index("line", offset=2)


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


def test_retail_guest_lines_rejected_with_line_numbers(old_raw) -> None:
    rej = old_raw.loader_rejects
    guests = rej.filter(pl.col("reason") == REASON_GUEST)
    plain = _old_excerpt()
    expected = plain.filter(pl.col("CustomerID").is_null()).get_column("line").cast(pl.Int64).to_list()
    assert len(expected) == 14  # 536414 (1 line) + 13 lines of 539492
    assert guests.get_column("line").to_list() == expected
    assert set(guests.get_column("column").to_list()) == {"CustomerID"}
    report = validate(old_raw).report.tables["order_items"]
    assert report.rejected[REASON_GUEST] == 14
    assert report.rows_read == plain.height == 256


def test_retail_non_product_lines_rejected(old_raw) -> None:
    plain = _old_excerpt()
    expected = plain.filter(pl.col("CustomerID").is_not_null() & pl.col("StockCode").is_in(NON_PRODUCT))
    rej = old_raw.loader_rejects.filter(pl.col("reason") == REASON_NON_PRODUCT)
    assert rej.get_column("value").to_list() == expected.get_column("StockCode").to_list()
    assert rej.select("line", "value").rows() == [(47, "POST"), (143, "D")]  # postage; C536379's discount
    assert "POST" not in validate(old_raw).tables["products"].get_column("product_id").to_list()


def test_retail_cancellations_kept_with_their_items(old_raw) -> None:
    checked = validate(old_raw)
    orders, items = checked.tables["orders"], checked.tables["order_items"]
    cancelled = orders.filter(pl.col("status") == "cancelled").get_column("order_id").sort().to_list()
    assert cancelled == ["C536383", "C536391"]  # C536379 only held the 'D' discount line
    c391 = items.filter(pl.col("order_id") == "C536391")
    assert c391.height == 7
    assert c391.get_column("quantity").sum() == 12 + 24 + 24 + 24 + 12 + 12 + 24
    assert (c391.get_column("quantity") > 0).all()


def test_retail_completed_revenue_matches_hand_computation(old_raw) -> None:
    plain = _old_excerpt().with_columns(pl.col("Quantity").cast(pl.Int64), pl.col("UnitPrice").cast(pl.Float64))
    by_hand = plain.filter(
        pl.col("CustomerID").is_not_null()
        & ~pl.col("InvoiceNo").str.starts_with("C")
        & ~pl.col("StockCode").is_in(NON_PRODUCT)
        & (pl.col("Quantity") > 0)
    ).select((pl.col("Quantity") * pl.col("UnitPrice")).sum()).item()
    checked = validate(old_raw)
    ours = (
        checked.tables["order_items"].join(checked.tables["orders"], on="order_id")
        .filter(pl.col("status") == "completed")
        .select((pl.col("quantity") * pl.col("unit_price")).sum()).item()
    )
    assert ours == pytest.approx(by_hand)
    assert by_hand == pytest.approx(10870.19, abs=0.005)
    n_invoices = plain.filter(pl.col("CustomerID").is_not_null()).get_column("InvoiceNo").n_unique()
    assert checked.tables["orders"].height == n_invoices - 1  # C536379 had only a non-product line


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
    old_rej = old_raw.loader_rejects.select("line", "reason")
    assert_frame_equal(old_rej, new_raw.loader_rejects.select("line", "reason"))
    # the rejects name each file's own header
    assert set(new_raw.loader_rejects.filter(pl.col("reason") == REASON_GUEST).get_column("column")) == {"Customer ID"}


def test_online_retail_ii_excerpt(tmp_path: Path) -> None:
    raw = load_retail_file(NEW, progress=_quiet)
    assert raw.tables["order_items"].encoding is None
    assert any(n.startswith("InvoiceDate read as ISO (%Y-%m-%d %H:%M:%S") for n in raw.notes)
    checked = validate(raw)
    ids = checked.tables["customers"].get_column("customer_id")
    assert ids.str.contains(r"^\d{5}$").all() and "12417" in ids.to_list()
    plain = pl.read_csv(NEW, infer_schema=False)
    assert validate(raw).report.tables["order_items"].rows_read == plain.height
    guests = plain.with_row_index("line", offset=2).filter(pl.col("Customer ID").is_null())
    rej = raw.loader_rejects.filter(pl.col("reason") == REASON_GUEST)
    assert rej.get_column("line").to_list() == guests.get_column("line").cast(pl.Int64).to_list()
    c_invoices = plain.filter(pl.col("Invoice").str.starts_with("C") & pl.col("Customer ID").is_not_null()
                              & ~pl.col("StockCode").is_in(NON_PRODUCT)).get_column("Invoice").unique().sort()
    orders = checked.tables["orders"]
    assert orders.filter(pl.col("status") == "cancelled").get_column("order_id").sort().to_list() == c_invoices.to_list()


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


def test_retail_returns_and_negative_lines(tmp_path: Path) -> None:
    f = _write(tmp_path / "sales.csv",
               "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
               "500,A1,RED MUG,-2,2011-01-01 10:00,3.0,1,UK\n"      # all negative: returned
               "500,B2,BLUE MUG,-1,2011-01-01 10:00,3.0,1,UK\n"
               "501,A1,RED MUG,5,2011-01-02 10:00,3.0,2,UK\n"       # completed
               "501,B2,BLUE MUG,-1,2011-01-02 10:00,3.0,2,UK\n"     # negative line in a sale: rejected
               "501,G7,GREEN MUG,0,2011-01-02 10:00,3.0,2,UK\n"     # zero: rejected
               "C502,A1,RED MUG,-1,2011-01-03 10:00,3.0,2,UK\n"     # cancelled
               "503,A1,RED MUG,x,2011-01-03 10:00,3.0,2,UK\n")      # unparseable quantity
    raw = load_retail_file(f, progress=_quiet)
    checked = validate(raw)
    status = dict(checked.tables["orders"].select("order_id", "status").iter_rows())
    assert status == {"500": "returned", "501": "completed", "C502": "cancelled"}
    items = checked.tables["order_items"].sort("order_id", "product_id")
    assert items.select("order_id", "product_id", "quantity").rows() == [
        ("500", "A1", 2), ("500", "B2", 1), ("501", "A1", 5), ("C502", "A1", 1)]
    reasons = dict(raw.loader_rejects.select("line", "reason").iter_rows())
    assert reasons == {5: "negative quantity in a completed invoice", 6: "zero quantity", 8: "unparseable quantity"}
    assert raw.loader_rejects.filter(pl.col("line") == 8).get_column("value").item() == "x"


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
    with pytest.raises(ShopperError, match=r"sales\.csv: no column for invoice date"):
        load_retail_file(f, progress=_quiet)


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
        ("489434", "13085", "completed"), ("536365", "17850", "completed"),
        ("581587", "12680", "completed"), ("C489449", "16321", "cancelled")]
    assert orders.filter(pl.col("order_id") == "581587").get_column("ts").item() == datetime(2011, 12, 9, 12, 50)
    items = checked.tables["order_items"]
    assert items.height == 5 and items.filter(pl.col("order_id") == "536365").height == 1
    assert set(items.get_column("product_id")) == {"85048", "79323P", "22087", "85123A", "22613"}
    rej = raw.loader_rejects.sort("origin", "line")
    assert rej.select("origin", "line", "column", "reason").rows() == [
        ("online_retail_II.xlsx [Year 2009-2010]", 5, "StockCode", REASON_NON_PRODUCT),
        ("online_retail_II.xlsx [Year 2009-2010]", 6, "Customer ID", REASON_GUEST),
        ("online_retail_II.xlsx [Year 2010-2011]", 2, "Invoice", REASON_REPEATED),
    ]


def test_broken_xlsx_is_a_shopper_error(tmp_path: Path) -> None:
    f = tmp_path / "sales.xlsx"
    f.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ShopperError, match=r"sales\.xlsx: not a readable Excel workbook"):
        load_retail_file(f, progress=_quiet)


# -- through the workspace ----------------------------------------------------------------


def test_import_retail_excerpt_into_workspace(tmp_path: Path) -> None:
    result = import_source(OLD, data_dir=tmp_path / "data")
    assert result.row_counts["orders"] == 26 and result.row_counts["order_items"] == 240
    assert result.row_counts["customers"] == 17 and result.row_counts["products"] == 196
    assert result.report.tables["order_items"].rejected == {REASON_GUEST: 14, REASON_NON_PRODUCT: 2}
    with open_workspace(result.path) as ws:
        stored = ws.rejects()
        assert stored.filter(pl.col("reason") == REASON_GUEST).height == 14
        assert ws.meta["kind"] == "retail"


def _with_orders(raw, folder: Path):
    """Add a minimal orders/order_items pair so a products-only source validates."""
    _write(folder / "orders.csv", "order_id,customer_id,ts,status\no1,c1,2024-01-01,completed\n")
    _write(folder / "order_items.csv", "order_id,product_id,quantity,unit_price\no1,g40,1,40\n")
    return load_folder(folder, progress=_quiet)
