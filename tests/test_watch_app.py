"""Watch mode in the app, against a real MongoDB-protocol server on loopback (and a folder):
new rows show up within two polls, the Data screen's Live tab shows them with the watermark,
a stopped server shows the error while the app keeps working and polling resumes when it is
back, with nothing duplicated; "Retrain now", "Export to MongoDB" and the PII toggle from
the palette; passwords never reach the screen."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from _mongo_server import _answers_ping, free_port, stop, url_with_database
from pymongo import MongoClient
from test_app import run_async, settle, wait_for
from test_mongo import _store, to_documents
from textual.widgets import Input, Static

from shopper_tui.analytics import audit
from shopper_tui.app import make_app
from shopper_tui.config import Settings, parse_interval
from shopper_tui.sample_data.generator import SampleData, generate, write
from shopper_tui.screens.data import DataScreen
from shopper_tui.watching import MongoUriDialog, segments_changed
from shopper_tui.widgets import FrameTable, KpiCard, ListTable

pytestmark = pytest.mark.mongo

SIZE = (120, 40)
INTERVAL = 0.5
PASSWORD = "s3cretPW-xyz"
T_NEW = datetime(2026, 7, 2, 9, 0)


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=120, seed=41, orders_per_customer=3.0, reviews_per_customer=0.3)


def _server(port: int, storage: Path) -> subprocess.Popen[bytes]:
    """A private secantus on a fixed port (so the app's URI stays valid across a restart)."""
    proc = subprocess.Popen([sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
                             "--storage-path", str(storage), "--standalone"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if _answers_ping(f"mongodb://127.0.0.1:{port}"):
            return proc
        time.sleep(0.1)
    stop(proc)
    pytest.fail(f"secantus did not come up on port {port}")


def _sessions(prefix: str, n: int, per: int, customer: str) -> list[dict]:
    return [{"session_id": f"{prefix}{i:04d}", "customer_id": customer, "device": "mobile",
             "events": [{"ts": T_NEW + timedelta(minutes=i, seconds=j), "type": "view", "product_id": "P00001"}
                        for j in range(per)]}
            for i in range(n)]


def _screen_text(app) -> str:  # noqa: ANN001
    parts = []
    for w in app.screen.query(Static):
        parts.append(str(w.render()))
    for t in app.screen.query(ListTable):
        parts += [str(c) for row in range(t.row_count) for c in t.get_row_at(row)]
    for i in app.screen.query(Input):
        parts.append(i.value)
    return "\n".join(parts)


def test_parse_interval() -> None:
    assert parse_interval("30s") == 30 and parse_interval("2m") == 120 and parse_interval("0.5") == 0.5
    assert parse_interval("1h") == 3600 and parse_interval("250ms") == 0.25
    with pytest.raises(Exception, match="not an interval"):
        parse_interval("soon")


def test_segments_changed_matches_relabelled_segments() -> None:
    old = pl.DataFrame({"customer_id": list("abcdef"), "segment_id": [0, 0, 1, 1, 2, 2]})
    new = pl.DataFrame({"customer_id": list("abcdefg"), "segment_id": [5, 5, 7, 6, 6, 6, 5]})  # ids permuted
    assert segments_changed(old, new) == (1, 6)  # only d moved (from the 1-group to the 2-group)


@run_async
async def test_watch_mongo_arrivals_stop_and_resume(sample: SampleData, tmp_path: Path) -> None:
    port, storage = free_port(), tmp_path / "secantus"
    proc = _server(port, storage)
    uri = url_with_database(f"mongodb://127.0.0.1:{port}", "shop")
    try:
        client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000)
        _store(client.shop, to_documents(sample.tables))
        client.close()
        settings = Settings.from_env(source=uri, data_dir=tmp_path / "data", watch=True, watch_interval=INTERVAL,
                                     mongo_uri=f"mongodb://analyst:{PASSWORD}@127.0.0.1:1/crm")
        app = make_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.workspace is not None and app.watch_status.polls >= 1)
            ws = app.workspace
            base = ws.row_counts()
            await pilot.press("9")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, DataScreen)
            await pilot.press("l")
            await settle(pilot)

            client = MongoClient(uri, serverSelectionTimeoutMS=5000)
            polls = app.watch_status.polls
            client.shop.sessions.insert_many(_sessions("SLIVE", 100, 5, "C000003"))  # 500 events
            client.close()
            await wait_for(pilot, lambda: app.watch_status.total_rows >= 500, timeout=20)
            assert app.watch_status.polls - polls <= 2  # within two intervals
            version = app.data_version
            assert version >= 1
            await settle(pilot)
            counts = ws.row_counts()
            assert counts["events"] == base["events"] + 500
            table = screen.query_one("#data-tables", ListTable)
            assert str(table.get_cell("events", "rows")) == f"{counts['events']:,}"  # reloaded in place
            live = str(screen.query_one("#live-status", Static).render())
            assert "events 500" in live and "watermark" in live and "sessions: _id" in live
            assert "polling only: the server offers no change streams" in live  # standalone secantus
            tail = screen.query_one("#live-tail", FrameTable).frame
            assert tail.height == 20 and set(tail["customer_id"]) == {"C000003"}
            health = str(screen.query_one("#live-health", Static).render())
            assert "reachable" in health and "memory" in health and "***" in health
            assert PASSWORD not in _screen_text(app)

            stop(proc)  # the server goes away
            await wait_for(pilot, lambda: app.watch_status.error is not None, timeout=20)
            assert "MongoDB" in app.watch_status.error
            await settle(pilot)
            assert "error" in str(screen.query_one("#live-status", Static).render())
            assert not any(s.__class__.__name__ == "ErrorModal" for s in app.screen_stack)  # no modal storm
            await pilot.press("1")  # the app keeps working on the data it has
            await settle(pilot)
            await pilot.press("9")
            await settle(pilot)
            assert ws.row_counts() == counts

            proc = _server(port, storage)  # back, same data, same port
            client = MongoClient(uri, serverSelectionTimeoutMS=5000)
            client.shop.sessions.insert_many(_sessions("SBACK", 40, 5, "C000004"))
            client.close()
            await wait_for(pilot, lambda: app.watch_status.error is None
                           and app.watch_status.total_rows >= 700, timeout=30)
            await settle(pilot)
            after = ws.row_counts()
            assert after["events"] == base["events"] + 700  # nothing lost, nothing twice
            dupes = ws.sql("SELECT count(*) AS n FROM (SELECT session_id, ts, event_type, product_id, count(*) c "
                           "FROM events GROUP BY ALL HAVING c > 1)").item()
            assert dupes == 0
            assert PASSWORD not in _screen_text(app)
    finally:
        stop(proc)


@run_async
async def test_watch_folder_reassigns_and_keeps_preview_filter(sample: SampleData, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    write(sample, folder)
    settings = Settings.from_env(source=str(folder), data_dir=tmp_path / "data", watch=True, watch_interval=INTERVAL)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        app.request_segmentation()
        await wait_for(pilot, lambda: app.segmentation is not None, timeout=60)
        await settle(pilot)
        overview = app.screen
        await settle(pilot)
        orders_before = int(overview.query_one("#kpi-orders", KpiCard).value_text.replace(",", ""))
        await pilot.press("9")
        await settle(pilot)
        preview = app.screen.query_one("#preview-table", FrameTable)
        preview.apply_filter("C000001")
        await settle(pilot)
        shown = preview.view.height
        model = app.segmentation.model
        version = app.data_version
        _append_order(folder, "OLIVE1", "CLIVE1", quantity=3)
        await wait_for(pilot, lambda: app.data_version > version and app.watch_status.total_rows >= 3, timeout=20)
        await settle(pilot)
        assert app.workspace.row_counts()["orders"] == sample.tables["orders"].height + 1
        assert app.segmentation.model is model  # placed with the trained model, not refitted
        assert "CLIVE1" in app.segmentation.labels["customer_id"].to_list()
        assert app.segmentation.segments["size"].sum() == app.segmentation.labels.height
        assert preview.view.height == shown and preview._filter == "C000001"  # filter kept across the reload
        # the new customer is listed as moved (new → its segment) on the Segments screen
        moves = app.moved_customers
        assert moves is not None and "CLIVE1" in moves["customer_id"].to_list()
        row = moves.filter(pl.col("customer_id") == "CLIVE1").row(0, named=True)
        placed = app.segmentation.labels.filter(pl.col("customer_id") == "CLIVE1")["segment_id"][0]
        assert row["from_segment_id"] is None and row["to_segment_id"] == placed
        await pilot.press("2")
        await settle(pilot)
        segments_screen = app.screen
        await pilot.press("v")
        await settle(pilot)
        assert segments_screen.level == "moved"
        shown_moves = segments_screen.query_one("#moved-table", FrameTable).frame
        assert shown_moves.filter(pl.col("customer_id") == "CLIVE1")["from_segment"].to_list() == ["(new customer)"]
        await pilot.press("escape")
        assert segments_screen.level == "segments"
        # a screen that was not showing catches up when shown again
        await pilot.press("1")
        await settle(pilot)
        assert app.screen is overview
        assert overview.query_one("#kpi-orders", KpiCard).value_text == f"{orders_before + 1:,}"


def _append_order(folder: Path, order_id: str, customer_id: str, *, quantity: int) -> None:
    """One completed web order at T_NEW with one line of P00002 at 25.0."""
    _append_rows(folder, "orders", pl.DataFrame({"order_id": [order_id], "customer_id": [customer_id], "ts": [T_NEW],
                                                 "channel": ["web"], "status": ["completed"]}))
    _append_rows(folder, "order_items", pl.DataFrame({"order_id": [order_id], "product_id": ["P00002"],
                                                      "quantity": [quantity], "unit_price": [25.0],
                                                      "kind": ["product"]}))


def _append_rows(folder: Path, table: str, frame: pl.DataFrame) -> None:
    """Append rows to the table's file in the folder (CSV appended; Parquet rewritten grown)."""
    csv, parquet = folder / f"{table}.csv", folder / f"{table}.parquet"
    if csv.exists():
        with csv.open("a") as fh:
            fh.write(frame.write_csv(include_header=False))
    else:
        old = pl.read_parquet(parquet)
        pl.concat([old, frame.cast(old.schema)], how="vertical").write_parquet(parquet)


@run_async
async def test_palette_retrain_export_and_pii(mongo_url: str, tmp_path: Path) -> None:
    from test_app import import_sample

    settings = import_sample(tmp_path / "data").with_(mongo_uri=f"mongodb://analyst:{PASSWORD}@127.0.0.1:1/crm")
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        app.request_segmentation()
        await wait_for(pilot, lambda: app.segmentation is not None, timeout=120)
        old = app.segmentation
        names = [n for n, _, _ in app.watch_commands()]
        assert names == ["Retrain now", "Export to MongoDB", "Show personal data (PII)"]
        app.action_retrain_now()
        await wait_for(pilot, lambda: app.segmentation is not old, timeout=120)
        await pilot.pause()
        changed, compared = segments_changed(old.labels, app.segmentation.labels)
        assert any(f"{changed:,} of {compared:,} customers changed segment" in n.message
                   for n in app._notifications)

        app.action_export_mongo()
        await wait_for(pilot, lambda: isinstance(app.screen, MongoUriDialog) and bool(app.screen.query(Input)))
        field = app.screen.query_one(Input)
        assert "***" in field.value and PASSWORD not in _screen_text(app)
        target = url_with_database(mongo_url, f"x_{uuid.uuid4().hex[:10]}")
        field.value = target
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.title == "Exported to MongoDB" for n in app._notifications), timeout=180)
        client: MongoClient = MongoClient(target, serverSelectionTimeoutMS=5000)
        try:
            db = client.get_default_database()
            assert db.user_features.count_documents({}) == app.segmentation.labels.height
            assert db.segments.count_documents({}) == app.segmentation.k + int((app.segmentation.labels["segment_id"] < 0).any())
            assert db.recommendations.count_documents({}) == app.segmentation.labels.height
        finally:
            client.drop_database(db.name)
            client.close()

        app.action_toggle_pii()
        assert app.settings.show_pii
        app.action_toggle_pii()
        assert not app.settings.show_pii
        log = audit.entries(settings.data_dir)
        pii = [e for e in log if e["event"] == "show_pii"]
        assert [e["enabled"] for e in pii] == [True, False]
        assert any(e["event"] == "write_back" for e in log)
        assert PASSWORD not in (settings.data_dir / audit.AUDIT_FILE).read_text()


def test_merge_moves_keeps_first_origin_and_latest_place() -> None:
    from shopper_tui.watching import merge_moves

    t1, t2 = datetime(2026, 7, 1, 9), datetime(2026, 7, 1, 10)
    first = pl.DataFrame({"customer_id": ["A", "B", "N"], "from_segment_id": [0, 1, None], "to_segment_id": [1, 2, 3]})
    second = pl.DataFrame({"customer_id": ["A", "B"], "from_segment_id": [1, 2], "to_segment_id": [0, 4]})
    merged = merge_moves(merge_moves(None, first, t1), second, t2)
    # A went 0 → 1 → 0: back where it started, so it is not listed; B 1 → 2 → 4 is 1 → 4
    assert sorted(merged.select("customer_id", "from_segment_id", "to_segment_id").rows()) == [
        ("B", 1, 4), ("N", None, 3)]
    assert dict(merged.select("customer_id", "moved_at").rows()) == {"B": t2, "N": t1}


@run_async
async def test_reimport_places_customers_with_the_trained_model(sample: SampleData, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    write(sample, folder)
    settings = Settings.from_env(source=str(folder), data_dir=tmp_path / "data")
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.segmentation is not None, timeout=60)
        await settle(pilot)
        model, before = app.segmentation.model, app.segmentation.labels
        _append_order(folder, "ORE1", "CRE1", quantity=3)
        old_ws = app.workspace
        app.action_reimport()
        await wait_for(pilot, lambda: app.workspace is not None and app.workspace is not old_ws, timeout=60)
        await wait_for(pilot, lambda: app.segmentation is not None, timeout=60)
        await settle(pilot)
        assert app.segmentation.model is model  # placed, not retrained
        labels = app.segmentation.labels
        assert "CRE1" in labels["customer_id"].to_list()
        assert labels.height == before.height + 1
        assert app.segmentation.segments["size"].sum() == labels.height
        moves = app.moved_customers
        assert moves is not None and moves.filter(pl.col("customer_id") == "CRE1")["from_segment_id"].to_list() == [None]
        # every listed move is real: the old and new labels differ for those customers
        joined = before.join(labels, on="customer_id", suffix="_new")
        changed = set(joined.filter(pl.col("segment_id") != pl.col("segment_id_new"))["customer_id"].to_list())
        assert set(moves.filter(pl.col("from_segment_id").is_not_null())["customer_id"].to_list()) == changed
        screen = app.screen
        assert "moved by new data (v)" in str(screen.query_one("#seg-header").render())


@run_async
async def test_reimport_falls_back_to_training_when_placing_fails(sample: SampleData, tmp_path: Path,
                                                                  monkeypatch) -> None:
    from shopper_tui.analytics import watch as watch_module
    from shopper_tui.analytics.errors import ShopperError
    from shopper_tui.widgets import ErrorModal

    def broken(*_args, **_kwargs):
        raise ShopperError("the new data has no usable features")

    folder = tmp_path / "shop"
    write(sample, folder)
    app = make_app(Settings.from_env(source=str(folder), data_dir=tmp_path / "data"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.segmentation is not None, timeout=60)
        model = app.segmentation.model
        monkeypatch.setattr(watch_module, "reassign_with_features", broken)
        _append_order(folder, "ORE2", "CRE2", quantity=1)
        old_ws = app.workspace
        app.action_reimport()
        await wait_for(pilot, lambda: app.workspace is not None and app.workspace is not old_ws, timeout=60)
        await wait_for(pilot, lambda: app.segmentation is not None and app.segmentation.model is not model, timeout=90)
        assert not any(isinstance(s, ErrorModal) for s in app.screen_stack)
        assert "CRE2" in app.segmentation.labels["customer_id"].to_list()


@run_async
async def test_watch_mongo_change_stream_brings_rows_before_the_interval(sample: SampleData, tmp_path: Path,
                                                                          mongo_replset_url: str) -> None:
    """On a replica set the change stream wakes the app: 500 new events are in the workspace
    within seconds although the polling interval is two minutes."""
    name = f"live_{uuid.uuid4().hex[:8]}"
    uri = url_with_database(mongo_replset_url, name)
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000)
    _store(client[name], to_documents(sample.tables))
    settings = Settings.from_env(source=uri, data_dir=tmp_path / "data", watch=True, watch_interval=120)
    app = make_app(settings)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.workspace is not None and app._feed is not None)
            await wait_for(pilot, lambda: app._feed.state in ("listening", "unsupported"), timeout=20)
            if app._feed.state == "unsupported":
                pytest.skip("MONGODB_URL is a standalone server: no change streams to test")
            base = app.workspace.row_counts()["events"]
            client[name].sessions.insert_many(_sessions("SFEED", 100, 5, "C000003"))  # 500 events
            # the polling interval alone would take 120 s: arriving within the wait means the
            # change stream brought them
            await wait_for(pilot, lambda: app.watch_status.total_rows >= 500, timeout=20)
            assert app.workspace.row_counts()["events"] == base + 500
            await pilot.press("9")
            await settle(pilot)
            await pilot.press("l")
            await settle(pilot)
            live = str(app.screen.query_one("#live-status", Static).render())
            assert "change stream: new rows read at once" in live
    finally:
        client.drop_database(name)
        client.close()
    deadline = time.monotonic() + 5  # the app stopped it on exit (it notices within half a second)
    while app._feed.state != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app._feed.state == "stopped"
