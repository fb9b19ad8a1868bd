"""Affinity and cross-sell numbers checked against mlxtend and a plain Polars computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shopper_tui.analytics.affinity import pair_rules, segment_affinity
from shopper_tui.analytics.workspace import import_source, open_workspace


def _basket_shop(folder: Path, *, seed: int = 3, orders: int = 1500, products: int = 120) -> None:
    """Random baskets with planted pairs: product k often comes with product k+1."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    pid = [f"P{k:03d}" for k in range(products)]
    cats = [f"Cat{k % 9}" for k in range(products)]
    pl.DataFrame({"product_id": pid, "category": cats, "price": rng.uniform(1, 50, products).round(2)}).write_parquet(
        folder / "products.parquet")
    cust = rng.integers(0, 300, orders)
    pl.DataFrame({
        "order_id": [f"O{k}" for k in range(orders)],
        "customer_id": [f"C{c}" for c in cust],
        "ts": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(hours=orders - 1),
                                "1h", eager=True),
        "status": np.where(rng.random(orders) < 0.05, "cancelled", "completed"),
    }).write_parquet(folder / "orders.parquet")
    sizes = rng.integers(1, 6, orders)
    order_idx = np.repeat(np.arange(orders), sizes)
    prod = rng.zipf(1.6, order_idx.size) % products
    pair_mask = rng.random(order_idx.size) < 0.3
    extra_prod = (prod[pair_mask] + 1) % products
    order_idx = np.concatenate([order_idx, order_idx[pair_mask]])
    prod = np.concatenate([prod, extra_prod])
    pl.DataFrame({
        "order_id": [f"O{k}" for k in order_idx],
        "product_id": [pid[k] for k in prod],
        "quantity": rng.integers(1, 4, order_idx.size),
        "unit_price": rng.uniform(1, 50, order_idx.size).round(2),
    }).write_parquet(folder / "order_items.parquet")


@pytest.fixture(scope="module")
def basket_ws(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("baskets")
    _basket_shop(root / "shop")
    res = import_source(root / "shop", data_dir=root / "data")
    ws = open_workspace(res.path)
    yield ws
    ws.close()


def _mlxtend_rules(ws, level: str, min_support: float):
    from mlxtend.frequent_patterns import apriori, association_rules

    item = "p.category" if level == "category" else "i.product_id"
    baskets = ws.sql(
        f"SELECT DISTINCT o.order_id AS basket, {item} AS item FROM orders o JOIN order_items i USING (order_id) "
        "JOIN products p USING (product_id) WHERE o.status = 'completed'"
    )
    onehot = (baskets.with_columns(v=pl.lit(True)).pivot(on="item", index="basket", values="v")
              .fill_null(False).drop("basket").to_pandas())
    freq = apriori(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = association_rules(freq, num_itemsets=len(onehot), metric="lift", min_threshold=0.0)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    return pl.DataFrame({
        "antecedent": [next(iter(a)) for a in rules["antecedents"]],
        "consequent": [next(iter(c)) for c in rules["consequents"]],
        "support": rules["support"].to_numpy(),
        "confidence": rules["confidence"].to_numpy(),
        "lift": rules["lift"].to_numpy(),
        "conviction": rules["conviction"].to_numpy(),
    }).sort("antecedent", "consequent")


@pytest.mark.parametrize(("level", "min_support"), [("product", 0.004), ("category", 0.01)])
def test_pair_rules_equal_mlxtend(basket_ws, level: str, min_support: float) -> None:
    ours = pair_rules(basket_ws, level=level, min_support=min_support).sort("antecedent", "consequent")
    theirs = _mlxtend_rules(basket_ws, level, min_support)
    assert ours.height == theirs.height > 50
    assert ours["antecedent"].to_list() == theirs["antecedent"].to_list()
    assert ours["consequent"].to_list() == theirs["consequent"].to_list()
    for col in ("support", "confidence", "lift", "conviction"):
        a, b = ours[col].to_numpy(), theirs[col].to_numpy()
        finite = np.isfinite(b)
        assert np.array_equal(np.isfinite(a), finite), col
        np.testing.assert_allclose(a[finite], b[finite], rtol=1e-12, err_msg=col)


def test_planted_pairs_have_top_lift(basket_ws) -> None:
    rules = pair_rules(basket_ws, level="product", min_support=0.004)
    top = rules.head(20)
    # the generator adds product k+1 to 30 % of lines with product k: those pairs dominate lift
    planted = sum(int(a[1:]) + 1 == int(c[1:]) or int(c[1:]) + 1 == int(a[1:])
                  for a, c in top.select("antecedent", "consequent").iter_rows())
    assert planted >= 16
    # product rules carry both products' names, joined by id
    names = dict(basket_ws.sql("SELECT product_id, name FROM products").iter_rows())
    for a, c, an, cn in top.select("antecedent", "consequent", "antecedent_name", "consequent_name").iter_rows():
        assert (an, cn) == (names[a], names[c])


def test_rules_for_one_segment_and_antecedent(basket_ws) -> None:
    customers = pl.Series("customer_id", [f"C{k}" for k in range(0, 300, 2)])
    rules = pair_rules(basket_ws, level="category", min_support=0.01, customers=customers, antecedent="Cat1")
    assert rules.height > 0 and set(rules["antecedent"]) == {"Cat1"}
    # hand computation over the even customers' completed orders
    b = basket_ws.sql("SELECT DISTINCT o.order_id AS basket, p.category AS item, o.customer_id FROM orders o "
                      "JOIN order_items i USING (order_id) JOIN products p USING (product_id) "
                      "WHERE o.status = 'completed'")
    b = b.filter(pl.col("customer_id").is_in(customers.implode()))
    n = b["basket"].n_unique()
    with_a = set(b.filter(pl.col("item") == "Cat1")["basket"])
    cons = rules.row(0, named=True)["consequent"]
    with_c = set(b.filter(pl.col("item") == cons)["basket"])
    row = rules.filter(pl.col("consequent") == cons).row(0, named=True)
    assert row["baskets"] == len(with_a & with_c)
    assert row["support"] == pytest.approx(len(with_a & with_c) / n)
    assert row["confidence"] == pytest.approx(len(with_a & with_c) / len(with_a))
    assert row["lift"] == pytest.approx(len(with_a & with_c) / len(with_a) / (len(with_c) / n))


def test_segment_affinity_matches_polars(basket_ws) -> None:
    customers = basket_ws.table("customers")
    labels = customers.select("customer_id", segment_id=(pl.col("customer_id").str.slice(1).cast(pl.Int64) % 3))
    aff = segment_affinity(basket_ws, labels, by="category")
    lines = basket_ws.sql("SELECT o.customer_id, p.category AS item, i.quantity * i.unit_price AS v FROM orders o "
                          "JOIN order_items i USING (order_id) JOIN products p USING (product_id) "
                          "WHERE o.status = 'completed'").join(labels, on="customer_id")
    seg_tot = lines.group_by("segment_id").agg(t=pl.col("v").sum())
    cell = lines.group_by("segment_id", "item").agg(a=pl.col("v").sum(), c=pl.col("customer_id").n_unique())
    allshare = lines.group_by("item").agg(s=pl.col("v").sum() / lines["v"].sum(),
                                          pen=pl.col("customer_id").n_unique() / labels.height)
    sizes = labels.group_by("segment_id").len()
    exp = (cell.join(seg_tot, on="segment_id").join(allshare, on="item").join(sizes, on="segment_id")
           .with_columns(share=pl.col("a") / pl.col("t"))
           .with_columns(index=100 * pl.col("share") / pl.col("s"),
                         lift=(pl.col("c") / pl.col("len")) / pl.col("pen"))
           .sort("segment_id", "item"))
    got = aff.filter(pl.col("amount").is_not_null()).sort("segment_id", "item")
    assert got.height == exp.height
    np.testing.assert_allclose(got["share"].to_numpy(), exp["share"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["index"].to_numpy(), exp["index"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["lift"].to_numpy(), exp["lift"].to_numpy(), rtol=1e-9)
    # every segment × category cell exists; shares of a segment sum to 1
    assert aff.height == 3 * aff["item"].n_unique()
    sums = aff.group_by("segment_id").agg(pl.col("share").sum())
    np.testing.assert_allclose(sums["share"].to_numpy(), 1.0)


def test_planted_favourite_categories_top_the_index(tmp_path: Path) -> None:
    """On the bundled sample, using the planted shopper types as segments, each type's
    planted favourite category is its highest-index cell (from purchases)."""
    res = import_source("sample", data_dir=tmp_path / "data")
    with open_workspace(res.path) as ws:
        truth = ws.table("truth_customers")
        types = sorted(truth["latent_type"].unique().to_list())
        labels = truth.select("customer_id", segment_id=pl.col("latent_type").replace_strict(
            {t: i for i, t in enumerate(types)}, return_dtype=pl.Int64), segment="latent_type")
        aff = segment_affinity(ws, labels, by="category")
    import json

    from shopper_tui.analytics.sample_data_location import bundled_dir

    planted = {t["name"]: t["favourite_categories"]
               for t in json.loads((bundled_dir() / "truth.json").read_text())["latent_types"]}
    top = aff.sort("index", descending=True, nulls_last=True).group_by("segment", maintain_order=True).first()
    assert top.height == 5
    for seg, item in top.select("segment", "item").iter_rows():
        assert item in planted[seg], (seg, item, planted[seg])
