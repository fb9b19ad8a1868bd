"""Bad inputs: each gives the expected ShopperError (naming the file) or the expected report
(counted rejections with file, column and line); failed imports leave the previous workspace
as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.errors import Cancelled, ShopperError
from shopper_tui.analytics.sources import load_source
from shopper_tui.analytics.sources.files import load_folder
from shopper_tui.analytics.validate import validate
from shopper_tui.analytics.workspace import import_source, open_workspace

ORDERS = "order_id,customer_id,ts,status\n"
ITEMS = "order_id,product_id,quantity,unit_price\n"


def _quiet(step: str, fraction: float | None = None) -> None:
    return None


def _folder(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


def _good(tmp_path: Path) -> Path:
    return _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2024-01-01 10:00,completed\no2,c2,2024-01-02 11:00,completed\n",
        "order_items.csv": ITEMS + "o1,p1,2,3.5\no2,p2,1,10\n",
    })


def _check(folder: Path):
    return validate(load_folder(folder, progress=_quiet))


# -- fatal problems: ShopperError naming the file ----------------------------------------


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"orders.csv": "order_id,customer_id,status\no1,c1,completed\n",
                                "order_items.csv": ITEMS + "o1,p1,1,1\n"})
    with pytest.raises(ShopperError) as err:
        _check(folder)
    assert "orders.csv" in err.value.message and "'ts'" in err.value.message
    assert "found: order_id, customer_id, status" in err.value.message


def test_empty_file_is_an_error_header_only_is_not(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"orders.csv": b"", "order_items.csv": ITEMS})
    with pytest.raises(ShopperError, match=r"orders\.csv: the file is empty \(0 bytes\)"):
        load_folder(folder, progress=_quiet)
    (folder / "orders.csv").write_text(ORDERS)
    checked = _check(folder)
    assert checked.tables["orders"].height == 0 and checked.report.tables["orders"].rows_read == 0


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"orders.csv": "\r\n \n"})
    with pytest.raises(ShopperError, match=r"orders\.csv: the file is empty"):
        load_folder(folder, progress=_quiet)


def test_garbage_bytes_are_not_a_table(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 40
    folder = _folder(tmp_path, {"orders.csv": noise})
    with pytest.raises(ShopperError, match=r"orders\.csv: contains binary data"):
        load_folder(folder, progress=_quiet)
    (folder / "orders.csv").write_bytes(bytes(b for b in noise if b))  # no NUL bytes, still noise
    with pytest.raises(ShopperError, match=r"orders\.csv: does not look like a text table"):
        load_folder(folder, progress=_quiet)


def test_parquet_named_csv_and_broken_parquet(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {})
    pl.DataFrame({"order_id": ["o1"]}).write_parquet(folder / "orders.csv")
    with pytest.raises(ShopperError, match=r"orders\.csv: this is a Parquet file, not text"):
        load_folder(folder, progress=_quiet)
    (folder / "orders.csv").unlink()
    (folder / "orders.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ShopperError, match=r"orders\.parquet: not a readable Parquet file"):
        load_folder(folder, progress=_quiet)


def test_broken_json_lines(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"events.jsonl": '{"session_id": "s1", "ts": "2024-01-01", "event_type": "view"}\n{oops\n'})
    with pytest.raises(ShopperError, match=r"events\.jsonl: not valid JSON Lines"):
        load_folder(folder, progress=_quiet)


def test_wrong_delimiter_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"orders.csv": "order_id:customer_id:ts:status\no1:c1:2024-01-01:completed\n"})
    with pytest.raises(ShopperError) as err:
        load_folder(folder, progress=_quiet)
    assert err.value.message.startswith("orders.csv: the header line 'order_id:customer_id:ts:status' gives a single")
    assert "delimiter looks wrong" in err.value.message


def test_row_with_too_many_fields_names_its_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"orders.csv": ORDERS + "o1,c1,2024-01-01,completed\n"
                                "o2,c2,\"2024-01-02\",completed\n" "o3,c3,2024-01-03,completed,extra\n"})
    with pytest.raises(ShopperError, match=r"orders\.csv: line 4 has 5 fields but the header has 4"):
        load_folder(folder, progress=_quiet)


def test_missing_sources_and_folders(tmp_path: Path) -> None:
    with pytest.raises(ShopperError, match="Source not found"):
        load_source(tmp_path / "nope")
    with pytest.raises(ShopperError, match="Folder not found"):
        load_folder(tmp_path / "nope", progress=_quiet)


def test_folder_without_tables_or_without_orders(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"readme.txt": "hello\n"})
    raw = load_folder(folder, progress=_quiet)
    assert raw.notes == ["ignored: readme.txt"]
    with pytest.raises(ShopperError, match="no canonical table found"):
        validate(raw)
    (folder / "customers.csv").write_text("customer_id\nc1\n")
    with pytest.raises(ShopperError, match="no orders, events or reviews"):
        _check(folder)


# -- row-level problems: counted, with file, column and line ------------------------------


def test_unparseable_ts_counted_with_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2011-02-03 10:00,completed\no2,c2,31/02/2011,completed\n"
        "o3,c3,2011-02-04 10:00,completed\no4,c4,soon,completed\n",
        "order_items.csv": ITEMS + "o1,p1,1,1\n",
    })
    checked = _check(folder)
    rep = checked.report.tables["orders"]
    assert rep.rejected == {"unparseable ts": 2}
    assert (rep.rows_read, rep.rows_kept) == (4, 2)
    bad = checked.rejects.filter(pl.col("reason") == "unparseable ts")
    assert bad.select("origin", "line", "column", "value").rows() == [
        ("orders.csv", 3, "ts", "31/02/2011"), ("orders.csv", 5, "ts", "soon")]
    assert any("orders.csv line 3, column 'ts': '31/02/2011'" in line for line in checked.report.lines())


def test_unparseable_numbers_rejected_and_adjustments_kept(tmp_path: Path) -> None:
    """Only a value that cannot be read is rejected; a quantity ≤ 0 or a negative price is an
    adjustment (kept, never a sale: see analytics/purchases.py), and its rejected twin's value
    is still counted for the reconciliation."""
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2024-01-01,completed\n",
        "order_items.csv": ITEMS + "o1,p1,2,3.5\no1,p2,-1,3.5\no1,p3,two,3.5\no1,p4,1,-2\no1,p5,1,\"2,55\"\no1,p6,0,1\n"
                           "o1,POST,1,4.95\n",
    })
    checked = _check(folder)
    rep = checked.report.tables["order_items"]
    assert rep.rejected == {"unparseable quantity": 1}
    assert rep.rejected_value == {"unparseable quantity": 0.0}  # no quantity: no value
    rej = checked.rejects.filter(pl.col("table") == "order_items").sort("line")
    assert rej.select("line", "column", "value").rows() == [(4, "quantity", "two")]
    items = checked.tables["order_items"].sort("product_id")
    assert items.select("product_id", "quantity", "unit_price", "kind").rows() == [
        ("POST", 1, 4.95, "charge"),  # a charge code without a kind column: a charge
        ("p1", 2, 3.5, "product"), ("p2", -1, 3.5, "product"), ("p4", 1, -2.0, "product"),
        ("p5", 1, 2.55, "product"),  # decimal comma read
        ("p6", 0, 1.0, "product"),
    ]
    assert "POST" not in checked.tables["products"].get_column("product_id").to_list()  # a charge is no product


def test_line_kinds_mapped_and_unknown_kind_rejected(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2024-01-01,completed\n",
        "order_items.csv": "order_id,product_id,quantity,unit_price,kind\n"
                           "o1,p1,1,5,Product\no1,SHIP,1,3.5,shipping\no1,p2,2,2,\no1,FEE,1,1,teleport\n",
    })
    checked = _check(folder)
    items = checked.tables["order_items"].sort("product_id")
    assert items.select("product_id", "kind").rows() == [("SHIP", "charge"), ("p1", "product"), ("p2", "product")]
    rep = checked.report.tables["order_items"]
    assert rep.rejected == {"kind not one of product, charge": 1}
    assert rep.rejected_value == {"kind not one of product, charge": 1.0}


def test_absurd_amounts_are_rejected_with_their_line(tmp_path: Path) -> None:
    """A price of 1e300 (or a quantity of 5e9) would make every revenue total inf: rejected,
    named by file, column and line, while 1e9 itself and ordinary values are kept."""
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2024-01-01,completed\n",
        "order_items.csv": ITEMS + "o1,p1,2,3.5\no1,p2,1,1e300\no1,p3,5000000000,2\no1,p4,1,1000000000\n",
        "products.csv": "product_id,name,category,price\np1,A,Toys,3.5\np2,B,Toys,9.99e307\n",
    })
    checked = _check(folder)
    assert checked.report.tables["order_items"].rejected == {
        "unit_price above 1,000,000,000 (a typo or a placeholder?)": 1,
        "quantity above 1,000,000,000 (a typo or a placeholder?)": 1,
    }
    assert checked.report.tables["products"].rejected == {"price above 1,000,000,000 (a typo or a placeholder?)": 1}
    rej = checked.rejects.filter(pl.col("table") == "order_items").sort("line")
    assert rej.select("origin", "line", "column", "value").rows() == [
        ("order_items.csv", 3, "unit_price", "1e300"), ("order_items.csv", 4, "quantity", "5000000000")]
    items = checked.tables["order_items"].sort("product_id")
    assert items.select("product_id", "quantity", "unit_price").rows() == [("p1", 2, 3.5), ("p4", 1, 1e9)]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "customers.csv": "customer_id,country\nc1,UK\nc2,FR\nc1,DE\n17850.0,UK\n17850,IE\n",
        "orders.csv": ORDERS + "o1,c1,2024-01-01,completed\no1,c2,2024-01-02,completed\n",
        "order_items.csv": ITEMS + "o1,p1,1,1\n",
    })
    checked = _check(folder)
    assert checked.report.tables["customers"].rejected == {"duplicate customer_id": 2}
    assert checked.report.tables["orders"].rejected == {"duplicate order_id": 1}
    customers = checked.tables["customers"]
    assert customers.filter(pl.col("customer_id") == "c1").get_column("country").item() == "UK"
    assert customers.filter(pl.col("customer_id") == "17850").get_column("country").item() == "UK"
    dup_lines = checked.rejects.filter(pl.col("reason") == "duplicate customer_id").get_column("line").to_list()
    assert dup_lines == [4, 6]


def test_missing_required_values_and_unknown_status(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,,2024-01-01,completed\no2,c2,2024-01-01,lost\no3,c3,2024-01-01,Refunded\n"
                      "o4,c4,,completed\n",
        "order_items.csv": ITEMS + "o3,p1,1,1\no9,p1,2,1.5\n",
    })
    checked = _check(folder)
    # o1 has no customer: a guest order, kept
    assert checked.report.tables["orders"].rejected == {
        "missing ts": 1, "status not one of completed, cancelled, returned": 1}
    orders = checked.tables["orders"].sort("order_id")
    assert orders.select("order_id", "customer_id", "status").rows() == [
        ("o1", None, "completed"), ("o3", "c3", "returned")]
    assert checked.report.tables["order_items"].rejected == {"order_id not in orders": 1}
    assert checked.report.tables["order_items"].rejected_value == {"order_id not in orders": 3.0}


def test_canonical_values_are_kept_as_they_are_and_others_mapped() -> None:
    from shopper_tui.analytics.validate import _EVENT_SYNONYMS, _vocabulary

    clean = pl.Series("event_type", ["view", "add_to_cart", None, "purchase", "view"])
    assert _vocabulary(clean, _EVENT_SYNONYMS) is clean  # already canonical: not copied
    mixed = pl.Series("event_type", ["view", " Cart ", None, "PURCHASE", "teleport"])
    assert _vocabulary(mixed, _EVENT_SYNONYMS).to_list() == ["view", "add_to_cart", None, "purchase", None]
    # a synonym alone is not canonical ("cart" is add_to_cart)
    assert _vocabulary(pl.Series("e", ["cart", "view"]), _EVENT_SYNONYMS).to_list() == ["add_to_cart", "view"]


def test_consuming_validation_gives_the_same_tables_and_lets_the_raw_ones_go(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "orders.csv": ORDERS + "o1,c1,2024-01-01 10:00,completed\no2,c9,2024-01-02 11:00,Lost\n",
        "order_items.csv": ITEMS + "o1,p1,2,3.5\no1,p2,1,10\no7,p2,1,1\n",
        "events.csv": "session_id,customer_id,ts,event_type,product_id\ns1,c1,2024-01-01 09:00,view,p3\n"
                      "s1,c1,2024-01-01 09:01,cart,p1\ns2,c8,2024-01-01 09:05,View,p1\n",
    })
    kept = validate(load_folder(folder, progress=_quiet))
    raw = load_folder(folder, progress=_quiet)
    consumed = validate(raw, consume=True)
    assert raw.tables == {}
    assert consumed.report.to_json() == kept.report.to_json() and consumed.rejects.equals(kept.rejects)
    for name, frame in kept.tables.items():
        assert consumed.tables[name].equals(frame), name
    # by hand: c8 (events) is added as a bare customer and c9's order rejected for its status;
    # p3 (events only) is an unknown product; the line of o7 names an order not in orders
    assert sorted(consumed.tables["customers"].get_column("customer_id").to_list()) == ["c1", "c8"]
    assert sorted(consumed.tables["products"].get_column("product_id").to_list()) == ["p1", "p2", "p3"]
    assert consumed.tables["events"].get_column("event_type").to_list() == ["view", "add_to_cart", "view"]
    assert consumed.report.tables["order_items"].rejected == {"order_id not in orders": 1}


# -- atomic imports -----------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_another_source_never_replaces_a_workspace_unasked(tmp_path: Path) -> None:
    """``--name shop`` without ``--source`` used to import the bundled sample into the analyst's
    workspace 'shop', replacing their data; now it is refused with what to do, and only an
    explicit force replaces it."""
    source = _good(tmp_path)
    data_dir = tmp_path / "data"
    first = import_source(source, data_dir=data_dir, name="shop")
    before = _digest(first.path)
    with pytest.raises(ShopperError, match="holds data imported from") as caught:
        import_source("sample", data_dir=data_dir, name="shop")
    assert str(source.resolve()) in caught.value.message and "--force" in (caught.value.hint or "")
    assert _digest(first.path) == before
    relative = os.path.relpath(source)  # the same folder spelled another way is the same source
    assert import_source(relative, data_dir=data_dir, name="shop").reused
    replaced = import_source("sample", data_dir=data_dir, name="shop", force=True)
    assert replaced.row_counts["orders"] > first.row_counts["orders"]


def test_gone_source_opens_the_stored_copy(tmp_path: Path) -> None:
    """A source folder moved away (or a server down) still opens the data imported from it,
    saying so; forcing a re-import of a gone source is an error, and nothing stored is lost."""
    source = _good(tmp_path)
    data_dir = tmp_path / "data"
    first = import_source(source, data_dir=data_dir)
    before = _digest(first.path)
    source.rename(tmp_path / "moved")
    kept = import_source(source, data_dir=data_dir)
    assert kept.reused and kept.path == first.path and kept.row_counts == first.row_counts
    assert kept.offline is not None and "Source not found" in kept.offline and "Showing the data imported on" in kept.offline
    with pytest.raises(ShopperError, match="Source not found"):
        import_source(source, data_dir=data_dir, force=True)
    with pytest.raises(ShopperError, match="Source not found"):  # no workspace of that name: nothing to show
        import_source(tmp_path / "never-there", data_dir=data_dir)
    assert _digest(first.path) == before


def test_failed_imports_leave_previous_workspace_intact(tmp_path: Path) -> None:
    source = _good(tmp_path)
    data_dir = tmp_path / "data"
    first = import_source(source, data_dir=data_dir, name="shop")
    assert not first.reused and first.row_counts["orders"] == 2
    before = _digest(first.path)
    folder = first.path.parent

    # 1. a fatal validation error (required column gone)
    (source / "orders.csv").write_text("order_id,customer_id,status\no1,c1,completed\n")
    with pytest.raises(ShopperError, match=r"orders\.csv"):
        import_source(source, data_dir=data_dir, name="shop")
    assert _digest(first.path) == before

    # 2. a failure while the new file is being written (progress callback raises mid-way)
    (source / "orders.csv").write_text(ORDERS + "o1,c1,2024-01-01,completed\no2,c2,2024-01-02,completed\no3,c1,2024-01-03,completed\n")

    def fail_while_writing(step: str, fraction: float | None = None) -> None:
        if step == "writing order_items":
            raise ShopperError("disk went away")

    with pytest.raises(ShopperError, match="disk went away"):
        import_source(source, data_dir=data_dir, name="shop", progress=fail_while_writing)
    assert _digest(first.path) == before

    # 3. cancelled by the user while writing
    def cancel(step: str, fraction: float | None = None) -> None:
        if step.startswith("writing"):
            raise Cancelled()

    with pytest.raises(Cancelled):
        import_source(source, data_dir=data_dir, name="shop", progress=cancel)
    assert _digest(first.path) == before

    # 4. an exception just before the swap
    def boom(tmp: Path) -> None:
        assert tmp.is_file()
        raise RuntimeError("killed before swap")

    with pytest.raises(RuntimeError, match="killed before swap"):
        import_source(source, data_dir=data_dir, name="shop", _before_swap=boom)
    assert _digest(first.path) == before
    assert sorted(p.name for p in folder.iterdir()) == ["shop.duckdb"]  # no half-written file left
    with open_workspace(first.path) as ws:
        assert ws.row_counts()["orders"] == 2

    # and the next import succeeds
    done = import_source(source, data_dir=data_dir, name="shop")
    assert not done.reused and done.row_counts["orders"] == 3


def test_reimport_of_unchanged_source_reuses_workspace(tmp_path: Path) -> None:
    source = _good(tmp_path)
    data_dir = tmp_path / "data"
    first = import_source(source, data_dir=data_dir)
    before = _digest(first.path)
    again = import_source(source, data_dir=data_dir)
    assert again.reused and again.path == first.path
    assert again.row_counts == first.row_counts
    assert again.report.tables["orders"].rows_read == 2
    assert _digest(first.path) == before
    _touch_later(source / "order_items.csv")
    changed = import_source(source, data_dir=data_dir)
    assert not changed.reused
    forced = import_source(source, data_dir=data_dir, force=True)
    assert not forced.reused


def test_placed_but_unpaid_statuses_are_completed_orders() -> None:
    """The purchase rules: an order is completed unless the export marks it cancelled or
    returned, so Olist's "created" and Shopify's "pending" are orders like "delivered"."""
    from shopper_tui.analytics.validate import _STATUS_SYNONYMS, _vocabulary

    statuses = pl.Series("status", ["created", "Pending", "delivered", "canceled", "unavailable", "refunded"])
    assert _vocabulary(statuses, _STATUS_SYNONYMS).to_list() == [
        "completed", "completed", "completed", "cancelled", "cancelled", "returned"]
