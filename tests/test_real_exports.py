"""Real public exports, end to end, against peer libraries and independent counts.

Reads ``../shared/real/`` beside the checkout (see its README: the UCI Online Retail II
2009-2010 sheet with a lifetimes reference, and the CDNOW 1/10 sample with the calibration
summary lifetimes ships); every test skips, saying why, when the folder is absent. The
expectations are computed here from the raw file with plain Polars under the purchase rules the
README states, never from the engine's own tables:

- an invoice starting with "C" is a cancellation, every other invoice a completed order;
- a sold line has quantity > 0 and price ≥ 0; a sold line whose (upper-cased) stock code is a
  charge code is a charge, otherwise a product line;
- a purchase is a completed order with a sold line, worth Σ quantity × price over its sold
  lines; guest orders (no customer id) are purchases without a customer.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.affinity import pair_rules
from shopper_tui.analytics.cohorts import cohorts
from shopper_tui.analytics.overview import kpis
from shopper_tui.analytics.rfm import rfm_lifetimes
from shopper_tui.analytics.workspace import import_source, open_workspace

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
RETAIL = REAL / "online_retail_ii_2009_2010.parquet"
RETAIL_REF = REAL / "ref_online_retail_ii_lifetimes_rfm.csv.gz"
CDNOW = REAL / "cdnow_sample.txt.gz"
CDNOW_REF = REAL / "ref_cdnow_sample_lifetimes_summary.csv.gz"
#: The README's charge codes, written out here rather than imported from the engine.
CHARGES = ["POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "B", "S", "ADJUST"]

needs_real = pytest.mark.skipif(not RETAIL.is_file(), reason=f"real exports not found at {REAL} (../shared/real)")


@pytest.fixture(scope="module")
def raw_lines() -> pl.DataFrame:
    """The file's lines with the README's classification, computed independently."""
    df = pl.read_parquet(RETAIL)
    return df.with_columns(
        code=pl.col("StockCode").str.to_uppercase(),
        customer=pl.col("Customer ID").cast(pl.Int64).cast(pl.String),
        value=pl.col("Quantity") * pl.col("Price"),
        ts=pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"),
    ).with_columns(
        completed=~pl.col("Invoice").str.starts_with("C"),
        sold=(pl.col("Quantity") > 0) & (pl.col("Price") >= 0),
        charge=pl.col("code").is_in(CHARGES),
    )


@pytest.fixture(scope="module")
def retail_ws(tmp_path_factory: pytest.TempPathFactory):
    if not RETAIL.is_file():
        pytest.skip(f"real exports not found at {REAL} (../shared/real)")
    root = tmp_path_factory.mktemp("real-retail")
    csv = root / "online_retail_ii.csv"
    pl.read_parquet(RETAIL).write_csv(csv)  # the CSV a user exports, float customer ids and all
    ws = open_workspace(import_source(csv, data_dir=root / "data").path)
    yield ws
    ws.close()


def _purchases(lines: pl.DataFrame) -> pl.DataFrame:
    return (lines.filter(pl.col("completed") & pl.col("sold"))
            .group_by("Invoice").agg(pl.col("customer").first(), pl.col("ts").min(), pl.col("value").sum()))


@needs_real
def test_lifetimes_rfm_equals_the_reference_for_every_customer(retail_ws) -> None:
    ref = pl.read_csv(RETAIL_REF, schema_overrides={"customer_id": pl.String})
    ours = rfm_lifetimes(retail_ws)
    joined = ref.join(ours, on="customer_id", how="full", suffix="_ours")
    missing = joined.filter(pl.col("customer_id").is_null() | pl.col("customer_id_ours").is_null())
    assert missing.height == 0, missing.head()
    assert ours.height == ref.height == 4314
    for column in ("frequency", "recency", "T", "monetary_value"):
        differing = joined.filter((pl.col(column) - pl.col(f"{column}_ours")).abs() > 1e-6)
        assert differing.height == 0, (column, differing.head())


@needs_real
def test_overview_counts_guests_and_charges_and_reconciles_to_the_cent(retail_ws, raw_lines) -> None:
    k = kpis(retail_ws)
    bought = _purchases(raw_lines)
    assert k.orders == bought.height == 22_100
    assert k.revenue == pytest.approx(bought["value"].sum(), abs=0.005)
    guests = bought.filter(pl.col("customer").is_null())
    assert (k.guest_orders, round(k.guest_revenue, 2)) == (guests.height, round(guests["value"].sum(), 2))
    sold_charges = raw_lines.filter(pl.col("completed") & pl.col("sold") & pl.col("charge"))
    assert k.charge_revenue == pytest.approx(sold_charges["value"].sum(), abs=0.005)
    assert k.buyers == bought["customer"].drop_nulls().n_unique() == 4314
    rec = {r["kind"]: (r["lines"], r["value"]) for r in k.reconciliation.rows.iter_rows(named=True)}
    c = raw_lines.filter(~pl.col("completed"))
    adjust = raw_lines.filter(pl.col("completed") & ~pl.col("sold"))
    product = raw_lines.filter(pl.col("completed") & pl.col("sold") & ~pl.col("charge"))
    assert rec["cancelled"] == (c.height, round(c["value"].sum(), 2))
    assert rec["adjustments"] == (adjust.height, round(adjust["value"].sum(), 2))
    assert rec["sold product lines"] == (product.height, round(product["value"].sum(), 2))
    assert rec["sold charge lines"] == (sold_charges.height, round(sold_charges["value"].sum(), 2))
    assert rec["rejected"] == (0, 0.0)
    assert k.reconciliation.lines_read == raw_lines.height == 525_461
    assert k.reconciliation.value_read == pytest.approx(raw_lines["value"].sum(), abs=0.005)


@needs_real
def test_product_cross_sell_equals_mlxtend_on_every_purchase(retail_ws, raw_lines) -> None:
    from mlxtend.frequent_patterns import apriori, association_rules
    from mlxtend.preprocessing import TransactionEncoder

    bought = raw_lines.filter(pl.col("completed") & pl.col("sold"))
    items = (bought.filter(~pl.col("charge")).group_by("Invoice").agg(pl.col("code").unique()))
    baskets = bought.select("Invoice").unique().join(items, on="Invoice", how="left")
    transactions = [list(b) if b is not None else [] for b in baskets["code"].to_list()]
    assert len(transactions) == 22_100  # every purchase is a basket, also one of charges only
    encoder = TransactionEncoder()
    onehot = encoder.fit(transactions).transform(transactions)
    import pandas as pd

    frame = pd.DataFrame(onehot, columns=encoder.columns_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frequent = apriori(frame, min_support=0.02, use_colnames=True, max_len=2)
        rules = association_rules(frequent, num_itemsets=len(frame), metric="lift", min_threshold=0.0)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    expected = pl.DataFrame({
        "antecedent": [next(iter(a)) for a in rules["antecedents"]],
        "consequent": [next(iter(c)) for c in rules["consequents"]],
        "support_ref": rules["support"].to_list(),
        "confidence_ref": rules["confidence"].to_list(),
        "lift_ref": rules["lift"].to_list(),
    })
    assert expected.height > 50
    ours = pair_rules(retail_ws, level="product", min_support=0.02)
    joined = expected.join(ours, on=["antecedent", "consequent"], how="full", coalesce=True)
    assert joined.height == expected.height == ours.height
    for metric in ("support", "confidence", "lift"):
        assert (joined[metric] - joined[f"{metric}_ref"]).abs().max() < 1e-9, metric


@needs_real
def test_cohort_sizes_equal_first_purchases(retail_ws, raw_lines) -> None:
    first = (_purchases(raw_lines).filter(pl.col("customer").is_not_null())
             .group_by("customer").agg(pl.col("ts").min().dt.truncate("1mo").dt.date().alias("cohort"))
             .group_by("cohort").len().sort("cohort"))
    table = cohorts(retail_ws, by="first_purchase", period="month", measure="customers")
    sizes = table.select("cohort", "size").unique().sort("cohort")
    assert sizes.rows() == first.rows()
    assert sizes["size"].sum() == 4314


@pytest.mark.skipif(not CDNOW.is_file(), reason=f"real exports not found at {REAL} (../shared/real)")
def test_cdnow_plain_transactions_equal_lifetimes_calibration_summary(tmp_path: Path) -> None:
    """The CDNOW sample as a plain transactions file (customer, date, quantity, amount; no order
    id, no product) gives lifetimes' calibration summary to 1997-09-30 for every customer."""
    text = gzip.decompress(CDNOW.read_bytes()).decode()
    rows = [line.split() for line in text.splitlines() if line.strip()]
    csv = tmp_path / "cdnow.csv"
    pl.DataFrame(rows, schema=["master_id", "customer_id", "date", "quantity", "amount"], orient="row").write_csv(csv)
    with open_workspace(import_source(csv, data_dir=tmp_path / "data").path) as ws:
        k = kpis(ws)
        ours = rfm_lifetimes(ws, observation_end="1997-09-30")
    assert k.orders == len(rows) == 6919  # zero-dollar rows are purchases too
    assert k.revenue == pytest.approx(sum(float(r[4]) for r in rows), abs=0.005)
    ref = pl.read_csv(CDNOW_REF).with_columns(pl.col("ID").cast(pl.String))
    ours = ours.with_columns(pl.col("customer_id").cast(pl.Int64).cast(pl.String),
                             (pl.col("recency") / 7).round(2), (pl.col("T") / 7).round(2))
    joined = ref.join(ours, left_on="ID", right_on="customer_id", how="full")
    assert joined.filter(pl.col("ID").is_null() | pl.col("customer_id").is_null()).height == 0
    assert ours.height == ref.height == 2357
    for column in ("frequency", "recency", "T"):
        assert (joined[column] - joined[f"{column}_right"]).abs().max() < 1e-9, column
