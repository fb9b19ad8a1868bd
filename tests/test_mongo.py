"""MongoDB source against a real MongoDB-protocol server (``mongo_url`` fixture).

The generated sample is written to the server the way an application would store it —
transactions with embedded ``items``, sessions with embedded ``events``, field names that
differ from the canonical ones (``user_id``, ``timestamp``, ``type``, ``created_at``, ``_id``
as the user id) — and the import must give the same numbers as importing the same sample
written as parquet files, and as computing them on the generated frames directly.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus

import polars as pl
import pytest
from _mongo_server import free_port
from pymongo import monitoring
from pymongo.database import Database

from shopper_tui.analytics.errors import Cancelled, ShopperError
from shopper_tui.analytics.sources import mask_uri
from shopper_tui.analytics.sources.mongo import database_name, fingerprint, load_mongo
from shopper_tui.analytics.validate import validate
from shopper_tui.analytics.workspace import import_source, open_workspace
from shopper_tui.sample_data.generator import SampleData, generate, write

pytestmark = pytest.mark.mongo

SESSION_ATTRS = ("customer_id", "device", "channel", "experiment", "variant")


# -- data -----------------------------------------------------------------------------------

def _clean(value: object) -> object:
    """Drop null fields, as an application writing MongoDB documents would."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _docs(frame: pl.DataFrame) -> list[dict]:
    return [_clean(row) for row in frame.iter_rows(named=True)]


def to_documents(tables: dict[str, pl.DataFrame]) -> dict[str, list[dict]]:
    """The canonical tables as the seed collections (users, products, transactions,
    sessions, reviews), with embedded arrays and non-canonical field names."""
    items = tables["order_items"].group_by("order_id", maintain_order=True).agg(
        pl.struct("product_id", "quantity", "unit_price").alias("items"))
    transactions = (tables["orders"].join(items, on="order_id", how="left", maintain_order="left")
                    .rename({"customer_id": "user_id", "ts": "timestamp"}))
    events = tables["events"]
    per_session = events.group_by("session_id").agg([pl.col(c).n_unique() for c in SESSION_ATTRS])
    constant = [c for c in SESSION_ATTRS if per_session.get_column(c).max() <= 1]
    varying = [c for c in SESSION_ATTRS if c not in constant]
    sessions = events.group_by("session_id", maintain_order=True).agg(
        *[pl.col(c).first() for c in constant],
        pl.struct("ts", pl.col("event_type").alias("type"), "product_id", *varying).alias("events"),
    )
    return {
        "users": _docs(tables["customers"].rename({"customer_id": "_id", "signup_ts": "created_at"})),
        "products": _docs(tables["products"]),
        "transactions": _docs(transactions),
        "sessions": _docs(sessions),
        "reviews": _docs(tables["reviews"].rename({"ts": "created_at"})),
    }


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=300, seed=11, orders_per_customer=3.0)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return generate(customers=50, seed=5, orders_per_customer=2.0, reviews_per_customer=1.0)




def _store(db: Database, documents: dict[str, list[dict]], rename: dict[str, str] | None = None) -> None:
    for collection, docs in documents.items():
        if docs:
            db[(rename or {}).get(collection, collection)].insert_many(docs, ordered=False)


def _numbers(ws_path: Path) -> dict[str, object]:
    """The figures compared across sources, computed in the workspace (DuckDB)."""
    with open_workspace(ws_path) as ws:
        revenue = ws.sql("SELECT sum(i.quantity * i.unit_price) AS r FROM order_items i "
                         "JOIN orders o USING (order_id) WHERE o.status = 'completed'").item()
        return {
            "rows": ws.row_counts(),
            "revenue": round(float(revenue), 2),
            "buyers": ws.sql("SELECT count(DISTINCT customer_id) AS n FROM orders").item(),
            "event_types": dict(ws.sql("SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1").iter_rows()),
            "rejected": ws.report.rows_rejected,
        }


def _expected(tables: dict[str, pl.DataFrame]) -> dict[str, object]:
    """The same figures computed on the generated frames directly (Polars)."""
    items = tables["order_items"].join(tables["orders"], on="order_id")
    revenue = items.filter(pl.col("status") == "completed").select((pl.col("quantity") * pl.col("unit_price")).sum()).item()
    types = tables["events"].group_by("event_type").len().sort("event_type")
    return {
        "rows": {name: frame.height for name, frame in tables.items()},
        "revenue": round(float(revenue), 2),
        "buyers": tables["orders"].get_column("customer_id").n_unique(),
        "event_types": dict(types.iter_rows()),
        "rejected": 0,
    }


# -- equivalence ---------------------------------------------------------------------------

def test_mongo_import_equals_file_import_and_the_generated_data(
    sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path
) -> None:
    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    steps: dict[str, list[float | None]] = {}
    from_mongo = import_source(uri, data_dir=tmp_path / "data",
                               progress=lambda step, f=None: steps.setdefault(step, []).append(f))
    folder = tmp_path / "files"
    write(sample, folder)
    from_files = import_source(folder, data_dir=tmp_path / "data", name="files")

    mongo_numbers = _numbers(from_mongo.path)
    assert mongo_numbers == _numbers(from_files.path)
    assert mongo_numbers == _expected(sample.tables)
    # the canonical values themselves survive the trip (ids, typed columns, nullable fields)
    with open_workspace(from_mongo.path) as ws:
        customers = ws.table("customers").sort("customer_id")
        events = ws.table("events").sort("session_id", "ts", "event_type", "product_id", nulls_last=True)
    assert customers.equals(sample.tables["customers"].sort("customer_id"))
    expected_events = sample.tables["events"].sort("session_id", "ts", "event_type", "product_id", nulls_last=True)
    assert events.select(pl.exclude("ts")).equals(expected_events.select(pl.exclude("ts")))
    # progress: every collection reported, each reaching 1.0
    reading = {s: fs for s, fs in steps.items() if s.startswith("reading")}
    assert "reading collection 'users'" in reading and "reading items of collection 'transactions'" in reading
    assert all(fs[-1] == 1.0 for fs in reading.values()), reading
    assert all(0.0 <= f <= 1.0 for fs in reading.values() for f in fs if f is not None)


def test_unchanged_database_is_not_read_again(small: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    _store(db, to_documents(small.tables))
    first = import_source(uri, data_dir=tmp_path)
    again = import_source(uri, data_dir=tmp_path)
    assert (first.reused, again.reused) == (False, True)
    db.reviews.insert_one({"review_id": "R-new", "product_id": "P00001", "text": "Late addition."})
    changed = import_source(uri, data_dir=tmp_path)
    assert not changed.reused
    assert changed.row_counts["reviews"] == first.row_counts["reviews"] + 1


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []
        self.replies: list[tuple[str, dict]] = []
        self.active = False
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active:
            with self.lock:
                self.seen.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.active:
            with self.lock:
                self.replies.append((event.command_name, dict(event.reply)))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_LISTENER = _Commands()
monitoring.register(_LISTENER)  # applies to clients created afterwards; inert unless active


def test_fingerprint_transfers_no_documents_and_tracks_changes(
    small: SampleData, mongo_db: tuple[str, Database]
) -> None:
    uri, db = mongo_db
    _store(db, to_documents(small.tables))
    _LISTENER.active = True
    try:
        first = fingerprint(uri)
    finally:
        _LISTENER.active = False
    assert fingerprint(uri) == first
    finds = [cmd for name, cmd in _LISTENER.seen if name in ("find", "aggregate", "getMore")]
    assert finds, _LISTENER.seen
    assert all(cmd.get("projection") == {"_id": 1} and cmd.get("limit") == 1 for cmd in finds), finds
    returned = [doc for name, reply in _LISTENER.replies if name in ("find", "aggregate", "getMore")
                for doc in reply["cursor"].get("firstBatch", reply["cursor"].get("nextBatch", []))]
    assert returned and all(set(doc) == {"_id"} for doc in returned)

    db.transactions.insert_one({"order_id": "O-late", "user_id": "C000001", "timestamp": "2026-07-01", "status": "completed"})
    after_insert = fingerprint(uri)
    assert after_insert != first
    db.transactions.delete_one({"order_id": "O-late"})
    db.users.delete_one({})
    assert fingerprint(uri) not in (first, after_insert)
    assert fingerprint(uri, collections={"orders": "transactions"}) != fingerprint(uri)


def test_cancelling_stops_the_read(small: SampleData, mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    _store(db, to_documents(small.tables))
    seen: list[str] = []

    def progress(step: str, fraction: float | None = None) -> None:
        seen.append(step)
        if step.startswith("reading collection 'transactions'"):
            raise Cancelled

    with pytest.raises(Cancelled):
        load_mongo(uri, progress=progress)
    assert seen[-1] == "reading collection 'transactions'"


# -- errors and credentials -----------------------------------------------------------------

def test_unreachable_server_fails_fast_and_hides_the_password(tmp_path: Path) -> None:
    uri = f"mongodb://analyst:Pa55-w0rd@127.0.0.1:{free_port()}/shop"
    started = time.monotonic()
    with pytest.raises(ShopperError) as caught:
        import_source(uri, data_dir=tmp_path)
    assert time.monotonic() - started < 8  # 3 s server selection by default
    text = str(caught.value)
    assert "not reachable" in text and "Pa55-w0rd" not in text and "analyst:***@" in text
    assert not list((tmp_path / "workspaces").glob("*.duckdb"))


def test_timeout_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/shop"
    monkeypatch.setenv("SHOPPER_TUI_MONGO_TIMEOUT_MS", "300")
    started = time.monotonic()
    with pytest.raises(ShopperError, match="not reachable") as caught:
        load_mongo(uri)
    assert time.monotonic() - started < 2.5
    assert "Waited 300 ms" in str(caught.value)
    started = time.monotonic()
    with pytest.raises(ShopperError, match="not reachable"):
        load_mongo(uri + "?serverSelectionTimeoutMS=200", timeout_ms=10_000)  # the URI wins
    assert time.monotonic() - started < 2.5


def test_uri_without_database_is_refused(tmp_path: Path) -> None:
    for uri in ("mongodb://127.0.0.1:27017", "mongodb://u:secret@127.0.0.1:27017/", "mongodb://h/?authSource=admin"):
        with pytest.raises(ShopperError, match="the URI names no database: add /dbname") as caught:
            database_name(uri)
        assert "secret" not in str(caught.value)
    with pytest.raises(ShopperError, match="names no database"):
        import_source("mongodb://u:secret@127.0.0.1:27017", data_dir=tmp_path)
    assert database_name("mongodb://u:p@h1:1,h2:2/shop%2Dtest?replicaSet=rs") == "shop-test"


def _create_user(db: Database, user: str, password: str) -> None:
    try:
        db.command("createUser", user, pwd=password, roles=[{"role": "read", "db": db.name}])
    except Exception as exc:  # a real mongod without the rights to create users
        pytest.skip(f"cannot create a MongoDB user on this server: {exc}")


def test_credentials_in_the_uri_are_masked_everywhere(small: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    _store(db, to_documents(small.tables))
    password = "s3cr3t:p@ss/wörd"
    user = f"analyst_{uuid.uuid4().hex[:6]}"
    _create_user(db, user, password)
    secret_uri = uri.replace("mongodb://", f"mongodb://{user}:{quote_plus(password)}@")
    forms = (password, quote_plus(password))

    raw = load_mongo(secret_uri)
    assert raw.description == mask_uri(secret_uri) and f"{user}:***@" in raw.description
    result = import_source(secret_uri, data_dir=tmp_path)
    assert result.row_counts["orders"] == small.tables["orders"].height
    with open_workspace(result.path) as ws:
        stored = " ".join(ws.meta.values()) + " ".join(ws.report.lines())
    for text in (raw.description, *raw.notes, stored):
        assert not any(f in text for f in forms), text

    wrong = secret_uri.replace(quote_plus(password), "not-the-Password")
    with pytest.raises(ShopperError, match="authentication failed") as caught:
        import_source(wrong, data_dir=tmp_path)
    assert "not-the-Password" not in str(caught.value) and f"{user}:***@" in str(caught.value)


def test_credentials_from_the_environment(
    small: SampleData, mongo_db: tuple[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, db = mongo_db
    _store(db, {"transactions": to_documents(small.tables)["transactions"]})
    user = f"env_{uuid.uuid4().hex[:6]}"
    _create_user(db, user, "from-the-env")
    monkeypatch.setenv("SHOPPER_TUI_MONGO_USER", user)
    monkeypatch.setenv("SHOPPER_TUI_MONGO_PASSWORD", "from-the-env")
    raw = load_mongo(uri)
    assert raw.tables["orders"].frame.height == small.tables["orders"].height
    monkeypatch.setenv("SHOPPER_TUI_MONGO_PASSWORD", "wrong-env-password")
    with pytest.raises(ShopperError, match="authentication failed") as caught:
        load_mongo(uri)
    assert "wrong-env-password" not in str(caught.value) and "SHOPPER_TUI_MONGO_USER" in str(caught.value)


def test_database_without_the_expected_collections_lists_what_it_has(mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    db.clients.insert_one({"name": "x"})
    db.purchases.insert_one({"total": 1})
    with pytest.raises(ShopperError, match="none of the expected collections") as caught:
        load_mongo(uri)
    assert "found: clients, purchases" in str(caught.value)
    with pytest.raises(ShopperError, match="no collections at all"):
        load_mongo(uri.replace(db.name, db.name + "_empty"))


# -- shapes ----------------------------------------------------------------------------------

def test_missing_optional_collections_become_notes(small: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    docs = to_documents(small.tables)
    _store(db, {"transactions": docs["transactions"], "products": docs["products"]})
    raw = load_mongo(uri)
    assert set(raw.tables) == {"orders", "order_items", "products"}
    notes = " | ".join(raw.notes)
    assert "no 'reviews' collection: reviews not imported" in notes
    assert "no 'events' collection, no 'sessions' collection: events not imported" in notes
    assert "no 'users' or 'customers' collection: customers taken from orders/events" in notes
    result = import_source(uri, data_dir=tmp_path)
    assert result.row_counts["reviews"] == 0 and result.row_counts["orders"] == small.tables["orders"].height
    assert any("no 'reviews' collection" in n for n in result.report.notes)


def test_empty_collections_and_session_summaries_are_notes(small: SampleData, mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    docs = to_documents(small.tables)
    _store(db, {"transactions": docs["transactions"]})
    db.create_collection("reviews")
    db.sessions.insert_many([{"_id": "S1", "user_id": "C000001", "device": "mobile", "pages": 4}])  # no events
    raw = load_mongo(uri)
    assert set(raw.tables) == {"orders", "order_items"}
    notes = " | ".join(raw.notes)
    assert "collection 'reviews' is empty: reviews not imported" in notes
    assert "documents of collection 'sessions' have no 'events' array nor an event type" in notes
    db.transactions.delete_many({})
    with pytest.raises(ShopperError, match="every expected collection is empty"):
        db.sessions.delete_many({})
        load_mongo(uri)


def test_renamed_collections(small: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    names = {"users": "clients", "products": "catalog", "transactions": "purchases", "sessions": "visits",
             "reviews": "feedback"}
    _store(db, to_documents(small.tables), rename=names)
    result = import_source(uri, data_dir=tmp_path, collections=names)
    assert result.row_counts == {t: f.height for t, f in small.tables.items()}
    assert "clients → customers" in result.report.notes[0]

    with pytest.raises(ShopperError, match="Collection 'client' .* found: catalog, clients, feedback"):
        load_mongo(uri, collections={"users": "client"})
    with pytest.raises(ShopperError, match="Unknown MongoDB collection role 'shoppers'"):
        load_mongo(uri, collections={"shoppers": "clients"})
    raw = load_mongo(uri, collections={"customers": "clients", "orders": "purchases"})  # table names as roles
    assert raw.tables["orders"].origin == "collection 'purchases'"


def test_flat_events_take_their_session_attributes(small: SampleData, mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    events = small.tables["events"]
    sessions = events.group_by("session_id", maintain_order=True).agg(pl.col(c).first() for c in ("customer_id", "device"))
    db.events.insert_many(_docs(events.drop("customer_id", "device").rename({"event_type": "type", "ts": "timestamp"})))
    db.sessions.insert_many(_docs(sessions.rename({"session_id": "_id", "customer_id": "user_id"})))
    raw = load_mongo(uri)
    got = validate(raw).tables["events"]
    assert got.height == events.height
    key = ["session_id", "ts", "event_type", "product_id"]
    expected = events.select(*key, "customer_id", "device").sort(key, nulls_last=True)
    assert got.select(*key, "customer_id", "device").sort(key, nulls_last=True).equals(expected)


def test_documents_of_unexpected_shape_are_rejected_and_counted(mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    ts = datetime(2026, 1, 5, 10)
    item = {"product_id": "P1", "quantity": 1, "unit_price": 2.5}
    db.transactions.insert_many([
        {"order_id": "O1", "user_id": "C1", "timestamp": ts, "status": "completed",
         "items": [{"product_id": "P1", "quantity": 2, "unit_price": 5.0}, item]},
        {"order_id": "O2", "user_id": "C1", "timestamp": ts, "items": [item]},  # no status
        {"order_id": "O3", "user_id": "C2", "timestamp": True, "status": "completed", "items": [item]},  # wrong type
        {"order_id": "O4", "user_id": {"id": "C3"}, "timestamp": ts, "status": "completed", "items": [item]},  # nested
        {"order_id": "O5", "user_id": "C2", "timestamp": "2026-01-06 09:30", "status": "completed",
         "items": [{"product_id": "P2", "quantity": "three", "unit_price": 1.0},  # not a number
                   {"product_id": ["P1", "P2"], "quantity": 1, "unit_price": 2.0},  # array where flat expected
                   "just a string",  # not a document at all
                   {"product_id": "P2", "qty": 3, "price": 2.5}]},  # synonyms
        {"orderId": "O6", "customerId": "C1", "createdAt": ts, "state": "delivered", "items": {"product_id": "P1",
         "quantity": 1, "unit_price": 9.0}},  # camelCase; items as a single document
        {"order_id": "O7", "user_id": "C3", "timestamp": ts, "status": "completed", "items": []},
    ])
    db.users.insert_many([{"_id": "C1", "age": 31}, {"_id": "C2", "age": "forty"}, {"customer_id": "C3", "country": ["DE"]}])

    checked = validate(load_mongo(uri))
    report = checked.report.tables
    nested = "nested document or array where a single value was expected"
    assert (report["orders"].rows_read, report["orders"].rows_kept) == (7, 4)
    assert report["orders"].rejected == {"missing status": 1, "unparseable ts": 1, nested: 1}
    assert (report["order_items"].rows_read, report["order_items"].rows_kept) == (10, 4)
    assert report["order_items"].rejected == {
        "unparseable quantity": 1, nested: 1, "missing quantity": 1, "order_id not in orders": 3}
    assert (report["customers"].rows_read, report["customers"].rows_kept) == (3, 1)
    assert report["customers"].rejected == {"unparseable age": 1, nested: 1}

    rejects = checked.rejects
    where = {(r["table"], r["column"], r["reason"]): (r["origin"], r["line"], r["value"]) for r in rejects.iter_rows(named=True)}
    assert where[("orders", "customer_id", nested)] == ("collection 'transactions'", 4, '{"id": "C3"}')
    assert where[("orders", "ts", "unparseable ts")] == ("collection 'transactions'", 3, "true")
    assert where[("order_items", "product_id", nested)] == ("collection 'transactions' (items)", 5, '["P1", "P2"]')
    # "just a string" as an item: no product (optional) and no quantity (required)
    assert where[("order_items", "quantity", "missing quantity")][:2] == ("collection 'transactions' (items)", 5)
    assert where[("order_items", "quantity", "unparseable quantity")] == ("collection 'transactions' (items)", 5, "three")
    assert where[("customers", "country", nested)] == ("collection 'users'", 3, '["DE"]')

    assert sorted(checked.tables["order_items"].rows()) == [
        ("O1", "P1", 1, 2.5, "product"), ("O1", "P1", 2, 5.0, "product"), ("O5", "P2", 3, 2.5, "product"),
        ("O6", "P1", 1, 9.0, "product")]
    result = import_source(uri, data_dir=tmp_path)  # the whole import survives it too
    assert result.row_counts["orders"] == 4 and result.report.rows_rejected == checked.report.rows_rejected
