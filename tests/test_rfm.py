"""RFM in both definitions: a hand-worked five-customer shop, and lifetimes on generated data."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.rfm import (
    RFM_GRID_NAMES,
    purchases,
    quintile_scores,
    rfm_grid_segment,
    rfm_lifetimes,
    rfm_marketing,
)
from shopper_tui.analytics.workspace import import_source, open_workspace

D = datetime

# Hand-worked shop, under the purchase rules (analytics/purchases.py): a purchase's value is
# Σ quantity × unit_price over its sold lines (quantity > 0, price ≥ 0), charges included.
#   C1: Jan 1 10:00 (2×10) + Jan 1 15:00 (1×20) → one day worth 40; Jan 11 10 (+ a zero-price
#       line, worth 0); Jan 21 60 (+ a line of quantity −1: an adjustment, not sold);
#       Jan 25 cancelled 50 (ignored)
#   C2: one order, Jan 15, 10 + 5 postage (a charge: in the value) = 15
#   C3: Jan 5 40; Jan 30 returned (ignored); Jan 31 12.5
#   C4: Jan 10 only a zero-price line (a purchase worth 0); Jan 20 two orders 20 + 10 (one day, 30)
#   C5: Jan 2 40; Feb 1 08:00 20  ← latest purchase: observation end = 2024-02-01
#   C6: only a cancelled order → no purchase, absent from both RFM frames
#   O17: a guest order (no customer) on Mar 5 → a purchase, but in no customer's RFM and not
#        moving the observation end
ORDERS = [
    ("O1", "C1", D(2024, 1, 1, 10), "completed"),
    ("O2", "C1", D(2024, 1, 1, 15), "completed"),
    ("O3", "C1", D(2024, 1, 11, 9), "completed"),
    ("O4", "C1", D(2024, 1, 21, 12), "completed"),
    ("O5", "C1", D(2024, 1, 25, 12), "cancelled"),
    ("O6", "C2", D(2024, 1, 15, 18), "completed"),
    ("O7", "C3", D(2024, 1, 5, 11), "completed"),
    ("O8", "C3", D(2024, 1, 30, 11), "returned"),
    ("O9", "C3", D(2024, 1, 31, 23, 59), "completed"),
    ("O10", "C4", D(2024, 1, 10, 8), "completed"),
    ("O11", "C4", D(2024, 1, 20, 8), "completed"),
    ("O12", "C4", D(2024, 1, 20, 20), "completed"),
    ("O13", "C5", D(2024, 1, 2, 7), "completed"),
    ("O14", "C5", D(2024, 2, 1, 8), "completed"),
    ("O15", "C6", D(2024, 1, 3, 9), "cancelled"),
    ("O16", "C6", D(2024, 3, 3, 9), "returned"),  # later than every purchase: must not move the end
    ("O17", None, D(2024, 3, 5, 9), "completed"),  # a guest order
]
ITEMS = [
    ("O1", "P1", 2, 10.0), ("O2", "P2", 1, 20.0), ("O3", "P1", 1, 10.0), ("O3", "P2", 1, 0.0),
    ("O4", "P2", 3, 20.0), ("O5", "P1", 5, 10.0), ("O6", "P1", 1, 10.0), ("O7", "P2", 2, 20.0),
    ("O8", "P2", 1, 20.0), ("O9", "P1", 1, 12.5), ("O10", "P1", 1, 0.0), ("O11", "P2", 1, 20.0),
    ("O12", "P1", 1, 10.0), ("O13", "P1", 4, 10.0), ("O14", "P2", 1, 20.0), ("O15", "P1", 1, 10.0),
    ("O16", "P2", 9, 20.0), ("O4", "P1", -1, 20.0), ("O6", "POST", 1, 5.0), ("O17", "P1", 1, 10.0),
]

#: customer_id, frequency, recency, T, monetary_value — worked out by hand (end = Feb 1).
EXPECTED_LIFETIMES = [
    ("C1", 2.0, 20.0, 31.0, 35.0),  # days Jan 1 / 11 / 21; repeat days 10 and 60 → mean 35
    ("C2", 0.0, 0.0, 17.0, 0.0),
    ("C3", 1.0, 26.0, 27.0, 12.5),
    ("C4", 1.0, 10.0, 22.0, 30.0),  # Jan 10 (worth 0) and Jan 20 (two orders on one day = one period)
    ("C5", 1.0, 30.0, 30.0, 20.0),
]
#: customer_id, recency_days, orders, spend, R, F, M, grid name. Scores = 1 + (number of
#: customers strictly worse) with 5 customers; the two customers with 2 orders tie at F = 2.
EXPECTED_MARKETING = [
    ("C1", 11, 4, 110.0, 3, 5, 5, "Loyal"),
    ("C2", 17, 1, 15.0, 1, 1, 1, "Lost"),
    ("C3", 1, 2, 52.5, 4, 2, 3, "Potential loyalists"),
    ("C4", 12, 3, 30.0, 2, 4, 2, "At risk"),
    ("C5", 0, 2, 60.0, 5, 2, 4, "Potential loyalists"),
]


def _write_shop(folder: Path) -> None:
    folder.mkdir(parents=True)
    pl.DataFrame({"customer_id": [f"C{i}" for i in range(1, 7)]}).write_parquet(folder / "customers.parquet")
    pl.DataFrame({"product_id": ["P1", "P2"], "category": ["Home", "Toys"], "price": [10.0, 20.0]}).write_parquet(
        folder / "products.parquet")
    pl.DataFrame(ORDERS, schema=["order_id", "customer_id", "ts", "status"], orient="row").write_parquet(
        folder / "orders.parquet")
    pl.DataFrame(ITEMS, schema=["order_id", "product_id", "quantity", "unit_price"], orient="row").write_parquet(
        folder / "order_items.parquet")


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("rfm-shop")
    _write_shop(root / "shop")
    ws = open_workspace(import_source(root / "shop", data_dir=root / "data").path)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def generated_ws(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.sample_data.generator import generate, write

    root = tmp_path_factory.mktemp("rfm-gen")
    write(generate(customers=600, seed=11), root / "gen")
    ws = open_workspace(import_source(root / "gen", data_dir=root / "data").path)
    yield ws
    ws.close()


def test_lifetimes_definition_hand_worked(shop_ws) -> None:
    got = rfm_lifetimes(shop_ws)
    assert got.columns == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    assert got.rows() == EXPECTED_LIFETIMES


def test_marketing_definition_hand_worked(shop_ws) -> None:
    got = rfm_marketing(shop_ws).select(
        "customer_id", "recency_days", "orders", "spend", "r_score", "f_score", "m_score", "segment")
    assert got.rows() == EXPECTED_MARKETING
    assert rfm_marketing(shop_ws)["rfm_cell"].to_list() == ["355", "111", "423", "242", "524"]


def test_hand_worked_equals_lifetimes(shop_ws) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = summary_data_from_transaction_data(
            purchases(shop_ws).to_pandas(), "customer_id", "ts", monetary_value_col="value")
    assert [(i, *map(float, r)) for i, r in zip(ref.index, ref.to_numpy())] == EXPECTED_LIFETIMES


def test_exclusions(shop_ws) -> None:
    bought = set(purchases(shop_ws)["order_id"])
    # cancelled (O5, O15) and returned (O8, O16) orders are not purchases; a zero-price-only order
    # (O10) is; the guest order O17 is a purchase but no customer's
    assert bought == {"O1", "O2", "O3", "O4", "O6", "O7", "O9", "O10", "O11", "O12", "O13", "O14"}
    assert purchases(shop_ws).filter(pl.col("order_id") == "O3")["value"].item() == 10.0
    assert purchases(shop_ws).filter(pl.col("order_id") == "O4")["value"].item() == 60.0  # adjustment left out
    assert purchases(shop_ws).filter(pl.col("order_id") == "O6")["value"].item() == 15.0  # postage counted
    everything = shop_ws.sql("SELECT order_id, customer_id, value FROM purchases ORDER BY order_id")
    assert everything.filter(pl.col("customer_id").is_null()).rows() == [("O17", None, 10.0)]
    assert "C6" not in rfm_lifetimes(shop_ws)["customer_id"].to_list()
    assert "C6" not in rfm_marketing(shop_ws)["customer_id"].to_list()


def test_frame_input_drops_guests_and_matches_workspace(shop_ws) -> None:
    tx = purchases(shop_ws)
    guest = pl.DataFrame({"order_id": ["G1"], "customer_id": [None], "ts": [D(2024, 3, 1)], "value": [99.0]},
                         schema=tx.schema)
    with_guest = pl.concat([tx, guest])
    assert rfm_lifetimes(with_guest).rows() == EXPECTED_LIFETIMES  # end not moved to Mar 1 by the guest
    assert rfm_marketing(with_guest).equals(rfm_marketing(shop_ws))


def test_observation_end_truncates_and_floors(shop_ws) -> None:
    got = rfm_lifetimes(shop_ws, observation_end="2024-01-20 06:00")  # floored to Jan 20, same-day kept
    assert got.rows() == [
        ("C1", 1.0, 10.0, 19.0, 10.0),
        ("C2", 0.0, 0.0, 5.0, 0.0),
        ("C3", 0.0, 0.0, 15.0, 0.0),
        ("C4", 1.0, 10.0, 10.0, 30.0),  # Jan 20 purchases at 08:00 and 20:00 count: same period as the end
        ("C5", 0.0, 0.0, 18.0, 0.0),
    ]


@pytest.mark.parametrize(
    ("r", "f", "name"),
    [
        (5, 5, "Champions"), (5, 4, "Champions"), (4, 5, "Loyal"), (3, 4, "Loyal"),
        (5, 2, "Potential loyalists"), (4, 3, "Potential loyalists"), (5, 1, "New"), (4, 1, "Promising"),
        (3, 3, "Need attention"), (3, 1, "About to sleep"), (3, 2, "About to sleep"), (2, 3, "At risk"),
        (1, 4, "At risk"), (1, 5, "Can't lose"), (2, 5, "Can't lose"), (2, 2, "Hibernating"),
        (1, 2, "Hibernating"), (2, 1, "Hibernating"), (1, 1, "Lost"),
    ],
)
def test_grid_names(r: int, f: int, name: str) -> None:
    assert rfm_grid_segment(r, f) == name


def test_grid_covers_every_cell_and_rejects_bad_scores() -> None:
    names = {rfm_grid_segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(RFM_GRID_NAMES)
    with pytest.raises(ValueError):
        rfm_grid_segment(0, 3)


def test_quintile_ties_are_deterministic() -> None:
    frame = pl.DataFrame({"v": [1, 1, 1, 1, 2, 3, 3, 4, 5, 6]})
    scores = frame.select(quintile_scores(pl.col("v")))["v"].to_list()
    assert scores == [1, 1, 1, 1, 3, 3, 3, 4, 5, 5]
    assert frame.reverse().select(quintile_scores(pl.col("v")))["v"].to_list() == scores[::-1]


def _independent_purchases(ws) -> pl.DataFrame:
    """Completed purchases computed from the raw tables in Polars (not the engine's SQL)."""
    orders = ws.table("orders").filter(pl.col("status") == "completed", pl.col("customer_id").is_not_null())
    items = ws.table("order_items").filter(pl.col("unit_price") > 0, pl.col("quantity") > 0)
    return (orders.join(items, on="order_id")
            .group_by("order_id", "customer_id", "ts")
            .agg(value=(pl.col("quantity") * pl.col("unit_price")).sum()))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"observation_end": "2026-03-15 17:30"}, {"freq": "W"}],
    ids=["default-end", "explicit-end", "weekly"],
)
def test_equals_lifetimes_on_generated_data(generated_ws, kwargs) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    tx = _independent_purchases(generated_ws)
    assert generated_ws.sql("SELECT count(*) FROM orders WHERE status <> 'completed'").item() > 0
    lt_kwargs = {("observation_period_end" if k == "observation_end" else k): v for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = summary_data_from_transaction_data(tx.to_pandas(), "customer_id", "ts", monetary_value_col="value",
                                                 **lt_kwargs)
    ref = pl.from_pandas(ref.reset_index()).with_columns(pl.col("customer_id").cast(pl.String)).sort("customer_id")
    got = rfm_lifetimes(generated_ws, **kwargs)
    assert got["customer_id"].to_list() == ref["customer_id"].to_list()
    for col in ("frequency", "recency", "T"):
        assert got[col].to_list() == ref[col].to_list(), col
    assert (got["monetary_value"] - ref["monetary_value"]).abs().max() <= 1e-9
    assert got.height > 400


def test_one_purchase_day_gives_zero_frequency_and_monetary(generated_ws) -> None:
    got = rfm_lifetimes(generated_ws)
    days = (purchases(generated_ws).group_by("customer_id").agg(days=pl.col("ts").dt.date().n_unique()))
    single = got.join(days, on="customer_id").filter(pl.col("days") == 1)
    assert single.height > 0
    assert single["frequency"].unique().to_list() == [0.0]
    assert single["monetary_value"].unique().to_list() == [0.0]
    assert single["recency"].unique().to_list() == [0.0]


def test_marketing_on_generated_data(generated_ws) -> None:
    m = rfm_marketing(generated_ws)
    tx = _independent_purchases(generated_ws)
    ref = tx.group_by("customer_id").agg(orders=pl.len(), spend=pl.col("value").sum()).sort("customer_id")
    assert m["customer_id"].to_list() == ref["customer_id"].to_list()
    assert m["orders"].to_list() == ref["orders"].to_list()
    assert (m["spend"] - ref["spend"]).abs().max() <= 1e-6
    # equal values always share a score; scores are monotone in the value
    for col, score, sign in (("recency_days", "r_score", -1), ("orders", "f_score", 1), ("spend", "m_score", 1)):
        assert m.group_by(col).agg(pl.col(score).n_unique())[score].max() == 1
        ordered = m.sort(pl.col(col) * sign)[score]
        assert ordered.diff().drop_nulls().min() >= 0
    assert set(m["segment"].unique()) <= set(RFM_GRID_NAMES)
    assert m["segment"].n_unique() >= 8
