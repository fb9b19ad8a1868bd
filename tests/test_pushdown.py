"""Aggregation pushdown against a real MongoDB-protocol server: the numbers computed from the
server-side aggregates must equal those of a full import of the same database — RFM in both
definitions, segment × category affinity and funnel step counts — while only aggregates
travel."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pymongo.database import Database
from test_mongo import _docs, _store, to_documents

from shopper_tui.analytics.affinity import segment_affinity
from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.funnels import funnel
from shopper_tui.analytics.rfm import rfm_lifetimes, rfm_marketing
from shopper_tui.analytics.sources.pushdown import aggregate_mongo, choose_mode
from shopper_tui.analytics.workspace import import_source, open_workspace
from shopper_tui.sample_data.generator import SampleData, generate

pytestmark = pytest.mark.mongo

STEPS = ("view", "add_to_cart", "checkout", "purchase")


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=200, seed=23, orders_per_customer=3.0, reviews_per_customer=0.2)




def _awkward(db: Database) -> None:
    """Documents in the shapes real databases have, each a rule the import applies."""
    ts = datetime(2026, 6, 29, 15, 0)
    db.products.insert_many([
        {"product_id": "PX-blank", "category": "   ", "price": 3.0},  # blank category → (unknown)
        {"product_id": "PX-neg", "category": "Outdoor", "price": -1.0},  # rejected → (unknown)
        {"product_id": "PX-pad", "category": " Outdoor ", "price": 2.0},  # stripped → Outdoor
    ])
    db.transactions.insert_many([
        {"orderId": "OX1", "userId": " C000001 ", "createdAt": ts, "state": " Delivered ",  # camelCase, synonyms
         "items": [{"sku": "PX-pad", "qty": "2", "price": 4.5}, {"product_id": "PX-blank", "quantity": 1, "unit_price": 0}]},
        {"order_id": "OX2", "user_id": 17850.0, "timestamp": "2026-06-28 10:30", "status": "paid",  # float id, text ts
         "items": [{"product_id": "PX-neg", "quantity": 1, "unit_price": 7.0},
                   {"product_id": "PX-missing", "quantity": 3, "unit_price": 1.25},
                   {"product_id": "PX-blank", "quantity": 1, "unit_price": 2.0}]},
        {"order_id": "OX3", "user_id": "C000002", "timestamp": ts, "status": "canceled",
         "items": [{"product_id": "PX-pad", "quantity": 9, "unit_price": 99.0}]},
        {"order_id": "OX4", "user_id": "CX-free", "timestamp": ts, "status": "completed",
         "items": [{"product_id": "PX-pad", "quantity": 1, "unit_price": 0.0}]},  # a zero-priced line: a purchase worth 0
    ])


def _reached(ws_path: Path, steps: tuple[str, ...]) -> list[int]:
    """Sessions that did steps 1..k (any order, any time), counted independently in Polars
    (= funnels.funnel(mode="any") with an unbounded window)."""
    with open_workspace(ws_path) as ws:
        done = ws.table("events").group_by("session_id").agg(
            [(pl.col("event_type") == s).any().alias(s) for s in steps])
    return [done.filter(pl.all_horizontal(list(steps[: k + 1]))).height for k in range(len(steps))]


def _labels(ws_path: Path) -> pl.DataFrame:
    with open_workspace(ws_path) as ws:
        grid = rfm_marketing(ws)
    names = grid.select("segment").unique().sort("segment").with_row_index("segment_id")
    return grid.select("customer_id", "segment").join(names, on="segment").select("customer_id", "segment_id", "segment")


def test_pushdown_equals_full_import(sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    _awkward(db)
    full = import_source(uri, data_dir=tmp_path)
    steps: list[str] = []
    agg = aggregate_mongo(uri, progress=lambda step, f=None: steps.append(step))
    assert agg.mode == "pushdown" and len(steps) == 3

    with open_workspace(full.path) as ws:
        life, market = rfm_lifetimes(ws), rfm_marketing(ws)
        weekly = rfm_lifetimes(ws, freq="W", observation_end="2026-05-31")
        labels = _labels(full.path)
        affinity = segment_affinity(ws, labels)
        units = segment_affinity(ws, labels, measure="units")
    # the awkward documents count as the import counts them
    assert {"17850", "C000001", "CX-free"} <= set(market["customer_id"])
    assert market.filter(pl.col("customer_id") == "CX-free").select("orders", "spend").rows() == [(1, 0.0)]
    assert_frame_equal(agg.rfm_lifetimes(), life, check_exact=False, rel_tol=1e-9)
    assert_frame_equal(agg.rfm_lifetimes(freq="W", observation_end="2026-05-31"), weekly, check_exact=False, rel_tol=1e-9)
    assert_frame_equal(agg.rfm_marketing(), market, check_exact=False, rel_tol=1e-9)
    assert_frame_equal(agg.segment_affinity(labels), affinity, check_exact=False, rel_tol=1e-9)
    assert_frame_equal(agg.segment_affinity(labels, measure="units"), units, check_exact=False, rel_tol=1e-9)
    assert "(unknown)" in set(affinity["item"])
    assert agg.funnel_counts()["count"].to_list() == _reached(full.path, STEPS)
    with open_workspace(full.path) as ws:  # = the funnel engine's "any" mode with an unbounded window
        engine = funnel(ws, steps=STEPS, mode="any", window=timedelta(days=100_000))
    assert agg.funnel_counts()["count"].to_list() == engine.steps["count"].to_list()
    assert agg.funnel_counts(["view", "purchase"])["count"].to_list() == _reached(full.path, ("view", "purchase"))

    # only aggregates travelled: far fewer documents than the collections hold
    assert agg.documents_received["purchase_days"] <= agg.purchase_days.height + 5
    assert agg.documents_received["purchase_days"] < db.transactions.estimated_document_count()
    assert agg.documents_received["funnel_sessions"] <= 2 ** len(STEPS)
    assert any("lines from 'items' of collection 'transactions'" in n for n in agg.notes)


def test_flat_events_and_separate_order_items(sample: SampleData, mongo_db: tuple[str, Database], tmp_path: Path) -> None:
    uri, db = mongo_db
    t = sample.tables
    db.customers.insert_many(_docs(t["customers"]))
    db.products.insert_many(_docs(t["products"].rename({"product_id": "_id"})))  # catalogue keyed by _id
    db.orders.insert_many(_docs(t["orders"].rename({"customer_id": "customerId", "ts": "orderDate"})))
    db.order_items.insert_many(_docs(t["order_items"]))
    db.events.insert_many(_docs(t["events"].rename({"event_type": "type", "ts": "timestamp"})
                                .with_columns(pl.col("type").str.replace("add_to_cart", "AddToCart"))))
    full = import_source(uri, data_dir=tmp_path)
    agg = aggregate_mongo(uri, steps=("view", "add_to_cart", "purchase"))
    with open_workspace(full.path) as ws:
        assert_frame_equal(agg.rfm_marketing(), rfm_marketing(ws), check_exact=False, rel_tol=1e-9)
        labels = _labels(full.path)
        assert_frame_equal(agg.segment_affinity(labels), segment_affinity(ws, labels), check_exact=False, rel_tol=1e-9)
    assert "(unknown)" not in set(agg.category_spend["category"])
    assert agg.funnel_counts()["count"].to_list() == _reached(full.path, ("view", "add_to_cart", "purchase"))
    assert any("collection 'order_items' (joined on order_id)" in n for n in agg.notes)
    assert any("looked up in collection 'products' by '_id'" in n for n in agg.notes)


def test_mode_is_chosen_from_collection_sizes(sample: SampleData, mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    _store(db, to_documents(sample.tables))
    small = choose_mode(uri)
    assert small.mode == "import" and "copying" in small.reason
    big = choose_mode(uri, max_documents=100)
    assert big.mode == "pushdown" and "only aggregates" in big.reason
    assert set(big.documents) == {"transactions", "sessions"}


def test_errors_are_plain(mongo_db: tuple[str, Database]) -> None:
    uri, db = mongo_db
    db.reviews.insert_one({"review_id": "R1", "product_id": "P1", "text": "fine"})
    with pytest.raises(ShopperError, match="no purchases to aggregate"):
        aggregate_mongo(uri)
    with pytest.raises(ShopperError, match="Unknown funnel step 'browse'"):
        aggregate_mongo(uri, steps=("browse", "purchase"))
