"""Cohort retention: a hand-worked four-customer shop and a plain Polars computation on
generated data."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from test_funnels import make_workspace

from shopper_tui.analytics.cohorts import cohorts
from shopper_tui.analytics.errors import ShopperError

# A: Jan 5 (10), Jan 20 (20), Mar 3 (30).  B: Jan 10 (50), Feb 2 cancelled (999), Apr 1 (5).
# C: Feb 14 (100), Feb 20 (1).  D: only a cancelled order in January (never a buyer).
ORDERS = [
    ("o1", "A", datetime(2025, 1, 5), "completed", 10.0), ("o2", "A", datetime(2025, 1, 20), "completed", 20.0),
    ("o3", "A", datetime(2025, 3, 3), "completed", 30.0), ("o4", "B", datetime(2025, 1, 10), "completed", 50.0),
    ("o5", "B", datetime(2025, 2, 2), "cancelled", 999.0), ("o6", "B", datetime(2025, 4, 1), "completed", 5.0),
    ("o7", "C", datetime(2025, 2, 14), "completed", 100.0), ("o8", "C", datetime(2025, 2, 20), "completed", 1.0),
    ("o9", "D", datetime(2025, 1, 15), "cancelled", 7.0),
]
SIGNUPS = {"A": datetime(2024, 12, 20), "B": datetime(2025, 1, 3), "C": datetime(2025, 1, 30), "D": datetime(2025, 1, 15)}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    orders = pl.DataFrame([o[:4] for o in ORDERS], schema=["order_id", "customer_id", "ts", "status"], orient="row")
    items = pl.DataFrame({"order_id": [o[0] for o in ORDERS], "product_id": "P1", "quantity": 2,
                          "unit_price": [o[4] / 2 for o in ORDERS]})
    customers = pl.DataFrame({"customer_id": list(SIGNUPS), "signup_ts": list(SIGNUPS.values())})
    products = pl.DataFrame({"product_id": ["P1"], "category": ["Misc"]})
    ws = make_workspace(tmp_path_factory.mktemp("cohorts") / "shop.duckdb",
                        {"orders": orders, "order_items": items, "customers": customers, "products": products})
    yield ws
    ws.close()


def cells(frame: pl.DataFrame, cohort: date, column: str = "value") -> list[float]:
    return frame.filter(pl.col("cohort") == cohort).sort("period")[column].to_list()


JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)


def test_customer_retention_by_hand(shop) -> None:
    on = cohorts(shop)
    assert on.columns == ["cohort", "size", "period", "value", "rate"]
    assert on.filter(pl.col("period") == 0)["size"].to_list() == [2, 1]  # Jan: A, B; Feb: C
    assert cells(on, JAN) == [2, 0, 1, 1]  # Feb: B's order was cancelled; Mar: A; Apr: B
    assert cells(on, JAN, "rate") == [1.0, 0.0, 0.5, 0.5]
    assert cells(on, FEB) == [1, 0, 0]  # the triangle stops at April, the last month with orders
    after = cohorts(shop, mode="on_or_after")
    assert cells(after, JAN) == [2, 2, 2, 1]
    assert cells(after, FEB) == [1, 0, 0]


def test_revenue_retention_by_hand(shop) -> None:
    on = cohorts(shop, measure="revenue")
    assert cells(on, JAN) == [80.0, 0.0, 30.0, 5.0]
    assert cells(on, JAN, "rate") == pytest.approx([1.0, 0.0, 0.375, 0.0625])
    assert cells(on, FEB) == [101.0, 0.0, 0.0]
    after = cohorts(shop, measure="revenue", mode="on_or_after")
    assert cells(after, JAN) == [115.0, 35.0, 35.0, 5.0]
    assert cells(after, JAN, "rate") == pytest.approx([1.0, 35 / 115, 35 / 115, 5 / 115])


def test_signup_cohorts_and_other_periods(shop) -> None:
    signup = cohorts(shop, by="signup")
    assert cells(signup, date(2024, 12, 1)) == [0, 1, 0, 1, 0]  # A signed up in December
    assert cells(signup, JAN) == [1, 1, 0, 1]  # B, C, D: B in Jan and Apr, C in Feb; D never buys
    assert cells(signup, JAN, "size") == [3, 3, 3, 3]
    quarters = cohorts(shop, period="quarter")
    assert cells(quarters, date(2025, 1, 1)) == [3, 1]  # Q1: A, B, C; Q2: B
    weeks = cohorts(shop, period="week")
    # week of Mon 2024-12-30 holds A's first order (Jan 5); Jan 20 is 3 weeks later
    first = weeks.filter(pl.col("cohort") == date(2024, 12, 30))
    assert first["size"][0] == 1 and cells(weeks, date(2024, 12, 30))[:4] == [1, 0, 0, 1]


def test_segment_filter(shop) -> None:
    labels = pl.DataFrame({"customer_id": ["A", "B", "C"], "segment_id": [1, 2, 1], "segment": ["Big", "Small", "Big"]})
    big = cohorts(shop, labels=labels, segment="big")
    assert big.filter(pl.col("period") == 0)["size"].to_list() == [1, 1]
    assert cells(big, JAN) == [1, 0, 1, 0]
    assert cells(cohorts(shop, labels=labels, segment=2), JAN) == [1, 0, 0, 1]
    with pytest.raises(ShopperError, match="not in the segment labels"):
        cohorts(shop, labels=labels, segment="Huge")
    with pytest.raises(ShopperError):
        cohorts(shop, segment="Big")
    with pytest.raises(ShopperError):
        cohorts(shop, period="fortnight")


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.sample_data.generator import generate

    sample = generate(customers=800, seed=9)
    ws = make_workspace(tmp_path_factory.mktemp("gen") / "gen.duckdb", sample.tables)
    yield ws, sample
    ws.close()


@pytest.mark.parametrize(("measure", "mode"), [("customers", "on"), ("customers", "on_or_after"),
                                               ("revenue", "on"), ("revenue", "on_or_after")])
def test_sql_cohorts_equal_polars(gen, measure: str, mode: str) -> None:
    ws, sample = gen
    t = sample.tables
    buys = (t["orders"].filter(pl.col("status") == "completed")
            .join(t["order_items"].group_by("order_id").agg(revenue=(pl.col("quantity") * pl.col("unit_price")).sum()),
                  on="order_id", how="left")
            .with_columns(pl.col("revenue").fill_null(0.0), month=pl.col("ts").dt.truncate("1mo").dt.date()))
    first = buys.group_by("customer_id").agg(cohort=pl.col("month").min())
    act = buys.join(first, on="customer_id").with_columns(
        period=(pl.col("month").dt.year() - pl.col("cohort").dt.year()) * 12
        + pl.col("month").dt.month().cast(pl.Int64) - pl.col("cohort").dt.month().cast(pl.Int64))
    last = t["orders"]["ts"].max()
    last_month = date(last.year, last.month, 1)
    sizes = first.group_by("cohort").agg(size=pl.len())
    grid = sizes.with_columns(period=pl.int_ranges(
        0, (last_month.year - pl.col("cohort").dt.year()) * 12 + last_month.month
        - pl.col("cohort").dt.month().cast(pl.Int64) + 1)).explode("period")
    if measure == "customers" and mode == "on":
        cell = act.group_by("cohort", "period").agg(v=pl.col("customer_id").n_unique())
    elif measure == "customers":
        cell = act.group_by("customer_id", "cohort").agg(period=pl.col("period").max()).group_by("cohort", "period").agg(
            v=pl.len())
    else:
        cell = act.group_by("cohort", "period").agg(v=pl.col("revenue").sum())
    expected = grid.join(cell, on=["cohort", "period"], how="left").with_columns(pl.col("v").fill_null(0).cast(pl.Float64))
    expected = expected.sort("cohort", "period")
    if mode == "on_or_after":
        expected = expected.with_columns(pl.col("v").reverse().cum_sum().reverse().over("cohort"))
    denominator = pl.col("size") if measure == "customers" else pl.col("v").first().over("cohort")
    expected = expected.with_columns(rate=pl.col("v") / denominator)
    got = cohorts(ws, measure=measure, mode=mode)
    assert got.height == expected.height > 100
    assert got["cohort"].to_list() == expected["cohort"].to_list()
    assert got["size"].to_list() == expected["size"].cast(pl.Int64).to_list()
    assert got["value"].to_list() == pytest.approx(expected["v"].to_list(), rel=1e-9)
    assert got["rate"].to_list() == pytest.approx(expected["rate"].to_list(), rel=1e-9)


def test_cohorts_command(shop, monkeypatch, capsys) -> None:
    import json

    from test_funnels import run_command

    table = run_command(["cohorts"], shop.path, monkeypatch, capsys)
    lines = table.splitlines()  # the triangle: one row per cohort, rates in %
    assert lines[2].split() == ["cohort", "size", "0", "1", "2", "3"]
    assert lines[3].split() == ["2025-01", "2", "100", "0", "50", "50"]
    assert lines[4].split() == ["2025-02", "1", "100", "0", "0"]
    rows = json.loads(run_command(["cohorts", "--measure", "revenue", "--mode", "on_or_after", "--format", "json"],
                                  shop.path, monkeypatch, capsys))
    assert [r["value"] for r in rows if r["cohort"] == "2025-01-01"] == [115.0, 35.0, 35.0, 5.0]
