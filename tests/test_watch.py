"""Watch mode against a real MongoDB-protocol server and on a folder: new rows arrive once —
never lost, never twice — across repeated polls, restarts and a server stopped mid-poll; the
workspace then equals a fresh full import of the same source; and customers who come back
move segment through ``assign`` without retraining."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from _mongo_server import start_secantus, stop, url_with_database
from pymongo import MongoClient
from pymongo.database import Database
from test_mongo import _docs, _store, to_documents

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.schema import TABLE_NAMES
from shopper_tui.analytics.segmentation import segment
from shopper_tui.analytics.watch import Watcher, init_watermarks, poll, reassign, watermarks
from shopper_tui.analytics.workspace import Workspace, import_source, open_workspace
from shopper_tui.sample_data.generator import SampleData, generate, write

pytestmark = pytest.mark.mongo

LAPSED_CELLS = {"At risk", "Can't lose", "Hibernating", "Lost", "About to sleep"}
T_NEW = datetime(2026, 7, 2, 9, 0)


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=150, seed=31, orders_per_customer=3.0, reviews_per_customer=0.5)




def _new_sessions(n_sessions: int, per_session: int, *, customer: str = "C000001") -> list[dict]:
    return [{"session_id": f"SNEW{i:05d}", "customer_id": customer, "device": "mobile",
             "events": [{"ts": T_NEW + timedelta(minutes=i, seconds=j), "type": "view", "product_id": "P00001"}
                        for j in range(per_session)]}
            for i in range(n_sessions)]


def _new_orders(customers: list[str], *, ts: datetime = T_NEW) -> list[dict]:
    return [{"order_id": f"ONEW-{c}-{i}", "user_id": c, "timestamp": ts + timedelta(hours=i), "status": "completed",
             "items": [{"product_id": "P00003", "quantity": 2, "unit_price": 40.0}]}
            for i, c in enumerate(customers)]


def _rows(path: Path) -> dict[str, pl.DataFrame]:
    with open_workspace(path) as ws:
        return {t: ws.table(t).sort(pl.all(), nulls_last=True) for t in TABLE_NAMES}


def _assert_same_as_fresh_import(ws_path: Path, source: str | Path, data_dir: Path) -> None:
    fresh = import_source(source, data_dir=data_dir, name=f"fresh-{uuid.uuid4().hex[:6]}", force=True)
    got, want = _rows(ws_path), _rows(fresh.path)
    for table in TABLE_NAMES:
        assert got[table].equals(want[table]), (table, got[table].height, want[table].height)


def test_new_documents_arrive_once(sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    imported = import_source(uri, data_dir=tmp_path)
    ws = Workspace(imported.path, read_only=False)
    try:
        marks = init_watermarks(ws, uri)
        assert set(marks) == {"transactions", "sessions", "reviews"}
        assert not poll(ws, uri).changed
        db.sessions.insert_many(_new_sessions(1000, 10))  # 10 000 events
        db.transactions.insert_many(_new_orders(["C000002", "C000003", "CNEW1"]))
        db.reviews.insert_one({"review_id": "RNEW", "product_id": "P00002", "customer_id": "C000004",
                               "text": "Arrived quickly.", "rating": 5, "created_at": T_NEW})
        first = poll(ws, uri, max_documents=600)
        second = poll(ws, uri, max_documents=600)
        assert first.appended["events"] + second.appended["events"] == 10_000
        assert first.appended["orders"] == 3 and first.appended["order_items"] == 3 and first.appended["reviews"] == 1
        assert first.appended["customers"] == 1  # CNEW1, as a bare row like the import adds it
        assert {"C000001", "C000002", "C000003", "C000004", "CNEW1"} == set(first.customers)
        assert first.tail.height == 20 and set(first.tail["event_type"]) == {"view"}
        assert not poll(ws, uri).changed and not poll(ws, uri).changed
    finally:
        ws.close()
    restarted = Workspace(imported.path, read_only=False)  # a restart reads the stored watermarks
    try:
        assert not poll(restarted, uri).changed
        assert int(restarted.meta["watch_rows"]) == 10_000 + 3 + 3 + 1 + 1
    finally:
        restarted.close()
    _assert_same_as_fresh_import(imported.path, uri, tmp_path)


def test_flat_collections_with_lines_and_session_attributes_elsewhere(
    sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path
) -> None:
    uri, db = mongo_db
    t = sample.tables
    sessions = t["events"].group_by("session_id", maintain_order=True).agg(pl.col("customer_id", "device").first())
    db.sessions.insert_many(_docs(sessions.rename({"session_id": "_id", "customer_id": "user_id"})))
    db.events.insert_many(_docs(t["events"].drop("customer_id", "device").rename({"event_type": "type", "ts": "timestamp"})))
    db.orders.insert_many(_docs(t["orders"]))
    db.order_items.insert_many(_docs(t["order_items"]))
    db.products.insert_many(_docs(t["products"]))
    imported = import_source(uri, data_dir=tmp_path)
    with Workspace(imported.path, read_only=False) as ws:
        init_watermarks(ws, uri)
        db.sessions.insert_many([{"_id": f"SFLAT{i}", "user_id": "C000020", "device": "tablet"} for i in range(30)])
        db.events.insert_many([{"session_id": f"SFLAT{i}", "timestamp": T_NEW + timedelta(minutes=i), "type": "view",
                                "product_id": "P00004"} for i in range(30)])
        db.orders.insert_many([{"order_id": "OFLAT", "customer_id": "C000021", "ts": T_NEW, "status": "completed"}])
        db.order_items.insert_many([{"order_id": "OFLAT", "product_id": p, "quantity": 1, "unit_price": 9.5}
                                    for p in ("P00001", "P00002")])
        got = poll(ws, uri)
        assert got.appended == {"orders": 1, "order_items": 2, "events": 30}
        assert set(got.tail["customer_id"]) == {"C000020"}  # taken from the sessions collection
        assert not poll(ws, uri).changed
    _assert_same_as_fresh_import(imported.path, uri, tmp_path)


def test_server_down_opens_the_data_imported_from_it(sample: SampleData, tmp_path: Path) -> None:
    """With the server down, the workspace imported from it opens as stored, saying so (a wrong
    password is still an error: test_mongo's credentials test); forcing a re-import cannot."""
    proc, base, log = start_secantus()
    uri = url_with_database(base, "shop") + "?serverSelectionTimeoutMS=500"
    try:
        client: MongoClient = MongoClient(base, serverSelectionTimeoutMS=5000)
        _store(client.shop, to_documents(sample.tables))
        client.close()
        first = import_source(uri, data_dir=tmp_path)
    finally:
        stop(proc)
        log.unlink(missing_ok=True)
    kept = import_source(uri, data_dir=tmp_path)
    assert kept.reused and kept.path == first.path and kept.row_counts == first.row_counts
    assert kept.offline is not None and "not reachable" in kept.offline and "Showing the data imported on" in kept.offline
    with pytest.raises(ShopperError, match="not reachable"):
        import_source(uri, data_dir=tmp_path, force=True)  # asked to read it again: it cannot


def test_server_stopped_mid_poll_loses_and_duplicates_nothing(sample: SampleData, tmp_path: Path) -> None:
    storage = tmp_path / "secantus"
    proc, base, log = start_secantus("--storage-path", str(storage))
    uri = url_with_database(base, "shop")
    try:
        client: MongoClient = MongoClient(base, serverSelectionTimeoutMS=5000)
        _store(client.shop, to_documents(sample.tables))
        imported = import_source(uri, data_dir=tmp_path)
        ws = Workspace(imported.path, read_only=False)
        init_watermarks(ws, uri)
        client.shop.sessions.insert_many(_new_sessions(200, 5, customer="C000010"))
        client.shop.transactions.insert_many(_new_orders(["C000011", "C000012"]))
        client.close()
        before, marks = ws.row_counts(), watermarks(ws)

        def stop_server(step: str, fraction: float | None = None) -> None:
            if step.startswith("reading") and proc.poll() is None:
                stop(proc)

        with pytest.raises(ShopperError, match="MongoDB"):
            poll(ws, uri, progress=stop_server, timeout_ms=500)
        assert ws.row_counts() == before and watermarks(ws) == marks  # untouched
        watcher = Watcher(ws, uri, timeout_ms=500)
        assert watcher.poll() is None and "MongoDB" in (watcher.last_error or "")  # the app keeps going

        proc, base, log2 = start_secantus("--storage-path", str(storage))  # back, on another port
        uri = url_with_database(base, "shop")
        watcher.source = uri
        resumed = watcher.poll()
        assert resumed is not None and watcher.last_error is None
        assert resumed.appended["events"] == 1000 and resumed.appended["orders"] == 2
        assert not poll(ws, uri).changed
        ws.close()
        _assert_same_as_fresh_import(imported.path, uri, tmp_path)
        log2.unlink(missing_ok=True)
    finally:
        stop(proc)
        log.unlink(missing_ok=True)


def test_returning_lapsed_customers_change_segment_without_retraining(
    sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path
) -> None:
    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    ws = Workspace(import_source(uri, data_dir=tmp_path).path, read_only=False)
    try:
        result = segment(ws, method="rfm")
        names = dict(result.segments.select("segment_id", "name").iter_rows())
        lapsed_type = sample.truth["truth_customers"].filter(pl.col("latent_type") == "lapsed_big_spenders")
        labels = result.labels.join(lapsed_type.select("customer_id"), on="customer_id")
        lapsing = [c for c, s in labels.select("customer_id", "segment_id").iter_rows() if names[s] in LAPSED_CELLS]
        assert len(lapsing) >= 5, "the planted lapsed big spenders should mostly sit in lapsed cells"
        init_watermarks(ws, uri)
        db.transactions.insert_many(_new_orders(lapsing))
        changed = poll(ws, uri)
        assert set(lapsing) <= set(changed.customers)
        moved = reassign(ws, result.model, changed.customers)
        after = {c: names[s] for c, s in moved.select("customer_id", "segment_id").iter_rows()}
        assert all(after[c] not in LAPSED_CELLS for c in lapsing), after
        assert result.model is not None  # the same fitted model, no refit
    finally:
        ws.close()


def test_folder_source_new_and_grown_files(sample: SampleData, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    t = sample.tables
    orders = t["orders"].sort("ts")
    early = orders.head(orders.height - 20)
    late_orders = orders.tail(20)
    items_early = t["order_items"].join(early.select("order_id"), on="order_id")
    items_late = t["order_items"].join(late_orders.select("order_id"), on="order_id")
    for name in ("customers", "products"):
        t[name].write_csv(folder / f"{name}.csv")
    early.write_csv(folder / "orders.csv")
    items_early.write_csv(folder / "order_items.csv")
    t["events"].head(3000).write_csv(folder / "events.csv")
    imported = import_source(folder, data_dir=tmp_path / "data")
    ws = Workspace(imported.path, read_only=False)
    try:
        assert not poll(ws, folder).changed
        with (folder / "orders.csv").open("a") as fh:  # orders first …
            fh.write(late_orders.write_csv(include_header=False))
        rest = t["events"].slice(3000).write_csv(include_header=False)
        cut = rest.rindex("\n", 0, len(rest) - 1) + 1
        with (folder / "events.csv").open("a") as fh:  # … and a half-written last line that must wait
            fh.write(rest[:cut] + rest[cut:][:10])
        got = poll(ws, folder)
        assert got.appended["orders"] == 20 and "order_items" not in got.appended
        assert got.appended["events"] == t["events"].height - 3000 - 1
        with (folder / "events.csv").open("a") as fh:  # the last line completes
            fh.write(rest[cut:][10:])
        with (folder / "order_items.csv").open("a") as fh:  # … their lines in a later poll
            fh.write(items_late.write_csv(include_header=False))
        t["reviews"].write_csv(folder / "reviews.csv")  # a new file
        later = poll(ws, folder)
        assert later.appended["order_items"] == items_late.height and later.appended["events"] == 1
        assert later.appended["reviews"] == t["reviews"].height and later.rejected == {}
        assert not poll(ws, folder).changed
    finally:
        ws.close()
    _assert_same_as_fresh_import(imported.path, folder, tmp_path / "data")


def test_refusals(sample: SampleData, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    write(sample, folder)
    result = import_source(folder, data_dir=tmp_path)
    with open_workspace(result.path) as ws, pytest.raises(ShopperError, match="read-only"):
        poll(ws, folder)
    with Workspace(result.path, read_only=False) as ws, pytest.raises(ShopperError, match="MongoDB database or a folder"):
        poll(ws, "sample")


# -- change streams ---------------------------------------------------------------------------

def _wait(predicate, seconds: float) -> bool:  # noqa: ANN001
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_change_feed_calls_at_once_for_watched_collections(sample: SampleData, mongo_replset_url: str) -> None:
    import threading

    from shopper_tui.analytics.watch import ChangeFeed

    name = f"feed_{uuid.uuid4().hex[:8]}"
    uri = url_with_database(mongo_replset_url, name)
    client = MongoClient(mongo_replset_url)
    db = client[name]
    _store(db, to_documents(sample.tables))
    calls: list[float] = []
    woke = threading.Event()

    def on_change() -> None:
        calls.append(0.0)
        woke.set()

    feed = ChangeFeed(uri, on_change=on_change).start()
    try:
        assert _wait(lambda: feed.state in ("listening", "unsupported"), 15), feed.state
        if feed.state == "unsupported":
            pytest.skip("MONGODB_URL is a standalone server: no change streams to test")
        assert feed.collections_watched == ["reviews", "sessions", "transactions"]
        db.segments.insert_one({"segment_id": 1})  # not a watched collection: no call
        assert not woke.wait(1.5)
        db.sessions.insert_many(_new_sessions(300, 5))  # one burst of 300 documents
        assert woke.wait(5), "no call within 5 s of the insert"
        assert _wait(lambda: feed.changes == 300, 5), feed.changes
        assert 1 <= len(calls) <= 3  # a burst is one call (or a few, at most one per second)
    finally:
        feed.stop()
        client.drop_database(name)
        client.close()
    assert feed.state == "stopped"


def test_change_feed_on_a_standalone_server_says_polling_only(sample: SampleData,
                                                              mongo_db: tuple[str, Database]) -> None:
    from shopper_tui.analytics.watch import ChangeFeed

    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    feed = ChangeFeed(uri, on_change=lambda: None).start()
    try:
        assert _wait(lambda: feed.state in ("listening", "unsupported"), 15), feed.state
        if feed.state == "listening":
            pytest.skip("MONGODB_URL is a replica set: change streams are offered")
        assert feed.state == "unsupported" and "replica set" in feed.detail
        assert _wait(lambda: not feed._thread.is_alive(), 5)  # nothing left running
    finally:
        feed.stop()


def test_change_feed_names_a_stopped_server_and_comes_back(sample: SampleData, tmp_path: Path) -> None:
    """The server goes away: the feed says it is reconnecting and why, and listens again once
    the server is back on the same port and storage."""
    import subprocess
    import sys

    from _mongo_server import _answers_ping, free_port

    from shopper_tui.analytics.watch import ChangeFeed

    port, storage = free_port(), tmp_path / "store"

    def server() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
                                 "--storage-path", str(storage)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert _wait(lambda: _answers_ping(f"mongodb://127.0.0.1:{port}"), 20)
        return proc

    proc = server()
    client = MongoClient(f"mongodb://127.0.0.1:{port}")
    _store(client["shop"], to_documents(sample.tables))
    client.close()
    feed = ChangeFeed(f"mongodb://127.0.0.1:{port}/shop", on_change=lambda: None, retry=0.5, timeout_ms=500)
    try:
        feed.start()
        assert _wait(lambda: feed.state == "listening", 15), (feed.state, feed.detail)
        stop(proc)
        assert _wait(lambda: feed.state == "reconnecting", 15), feed.state
        assert feed.detail and f"127.0.0.1:{port}" in feed.detail
        proc = server()
        assert _wait(lambda: feed.state == "listening", 20), (feed.state, feed.detail)
    finally:
        feed.stop()
        stop(proc)


def test_doctor_says_whether_the_server_offers_change_streams(mongo_url: str, mongo_replset_url: str) -> None:
    from shopper_tui.doctor import ping_mongo

    if mongo_url == mongo_replset_url:
        pytest.skip("MONGODB_URL serves both: one server cannot be standalone and a replica set")
    ok, line = ping_mongo(url_with_database(mongo_url, "shop"))
    assert ok and "change streams: no (a standalone server; watch mode polls)" in line
    ok, line = ping_mongo(url_with_database(mongo_replset_url, "shop"))
    assert ok and line.endswith("change streams: yes")


def test_appended_guest_orders_and_charges_follow_the_purchase_rules(tmp_path: Path) -> None:
    """Rows appended in watch mode are classified as an import classifies them: a guest order is
    a purchase without a customer, a line with a charge code from the settings is a charge (in
    the order's value, never an item), a negative line an adjustment."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text("order_id,customer_id,ts,status\no1,c1,2026-07-01 10:00,completed\n")
    (folder / "order_items.csv").write_text("order_id,product_id,quantity,unit_price\no1,p1,2,5.0\n")
    imported = import_source(folder, data_dir=tmp_path / "data", charge_codes=("SHIP",))
    ws = Workspace(imported.path, read_only=False)
    try:
        assert ws.charge_codes == ("SHIP",)
        with (folder / "orders.csv").open("a") as fh:
            fh.write("o2,,2026-07-02 11:00,completed\n")  # a guest checkout
        with (folder / "order_items.csv").open("a") as fh:
            fh.write("o2,p1,1,5.0\no2,SHIP,1,3.95\no2,p2,-1,5.0\n")
        got = poll(ws, folder)
        assert got.appended == {"orders": 1, "order_items": 3, "products": 1}  # p2 bare; SHIP is no product
        kinds = ws.sql("SELECT product_id, kind FROM order_items WHERE order_id = 'o2' ORDER BY product_id").rows()
        assert kinds == [("SHIP", "charge"), ("p1", "product"), ("p2", "product")]
        bought = ws.sql("SELECT order_id, customer_id, value, charge_value FROM purchases ORDER BY order_id").rows()
        assert bought == [("o1", "c1", 10.0, 0.0), ("o2", None, 8.95, 3.95)]
        items = ws.sql("SELECT DISTINCT product_id FROM item_lines ORDER BY 1").get_column("product_id").to_list()
        assert items == ["p1"]
    finally:
        ws.close()


def test_loosely_named_files_are_followed_as_the_import_read_them(tmp_path: Path) -> None:
    """Watch mode follows the files the import read, also when they were matched by the words of
    their name (Olist's olist_orders_dataset.csv), and not a file the import ignored."""
    folder = tmp_path / "olist"
    folder.mkdir()
    (folder / "olist_orders_dataset.csv").write_text(
        "order_id,customer_id,order_status,order_purchase_timestamp\no1,c1,delivered,2018-01-02 10:00:00\n")
    (folder / "olist_order_items_dataset.csv").write_text(
        "order_id,order_item_id,product_id,seller_id,price,freight_value\no1,1,p1,s1,10.0,2.5\n")
    (folder / "olist_order_payments_dataset.csv").write_text("order_id,payment_value\no1,12.5\n")
    imported = import_source(folder, data_dir=tmp_path / "data")
    ws = Workspace(imported.path, read_only=False)
    try:
        with (folder / "olist_orders_dataset.csv").open("a") as fh:
            fh.write("o2,c2,delivered,2018-01-03 11:00:00\n")
        with (folder / "olist_order_items_dataset.csv").open("a") as fh:
            fh.write("o2,1,p1,s1,20.0,0\n")
        got = poll(ws, folder)
        assert got.appended["orders"] == 1 and got.appended["order_items"] == 1  # no freight: no charge line
        assert ws.sql("SELECT sum(value) AS v FROM purchases").item() == 10.0 + 2.5 + 20.0
    finally:
        ws.close()
