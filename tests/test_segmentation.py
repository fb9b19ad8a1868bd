"""Segmentation on generated data with five planted shopper types (plus three awkward customers).

The adjusted Rand index (ARI) against the planted types is printed; run with ``-s`` to see it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import polars as pl
import pytest

from shopper_tui.analytics.errors import Cancelled
from shopper_tui.analytics.features import customer_features
from shopper_tui.analytics.personas import insights
from shopper_tui.analytics.rfm import RFM_GRID_NAMES, rfm_marketing
from shopper_tui.analytics.segmentation import NOISE_ID, assign, segment
from shopper_tui.analytics.workspace import import_source, open_workspace

ARI_BAR = 0.6
# X1: one completed order, no events; X2: only a cancelled order; X3: browsed, never ordered.
ODD = ("X1", "X2", "X3")


def _with_odd_customers(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    t = dict(tables)
    end = t["orders"]["ts"].max()
    product = t["products"]["product_id"][0]
    t["customers"] = pl.concat([t["customers"], pl.DataFrame({"customer_id": list(ODD)}, schema_overrides={
        "customer_id": pl.String})], how="diagonal_relaxed")
    t["orders"] = pl.concat([t["orders"], pl.DataFrame({
        "order_id": ["XO1", "XO2"], "customer_id": ["X1", "X2"], "ts": [end - timedelta(days=40)] * 2,
        "channel": ["web", "web"], "status": ["completed", "cancelled"]}, schema=t["orders"].schema)])
    t["order_items"] = pl.concat([t["order_items"], pl.DataFrame({
        "order_id": ["XO1", "XO2"], "product_id": [product] * 2, "quantity": [1, 3], "unit_price": [25.0, 25.0],
        "kind": ["product"] * 2}, schema=t["order_items"].schema)])
    events = t["events"]
    t["events"] = pl.concat([events, pl.DataFrame({
        "session_id": ["XS1"] * 3, "customer_id": ["X3"] * 3,
        "ts": [end - timedelta(days=3, minutes=m) for m in (3, 2, 1)],
        "event_type": ["view", "view", "add_to_cart"], "product_id": [product] * 3, "device": ["mobile"] * 3,
        "channel": ["web"] * 3, "experiment": [None] * 3, "variant": [None] * 3}, schema=events.schema)])
    return t


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.sample_data.generator import generate

    root = tmp_path_factory.mktemp("segments")
    sample = generate(customers=2500, seed=3)
    folder = root / "shop"
    folder.mkdir()
    for name, frame in {**_with_odd_customers(sample.tables), **sample.truth}.items():
        frame.write_parquet(folder / f"{name}.parquet")
    w = open_workspace(import_source(folder, data_dir=root / "data").path)
    yield w
    w.close()


@pytest.fixture(scope="module")
def truth(ws) -> pl.DataFrame:
    return ws.table("truth_customers").select("customer_id", "latent_type")


@pytest.fixture(scope="module")
def kmeans(ws):
    return segment(ws, method="kmeans", features="both", seed=0)


@pytest.fixture(scope="module")
def gmm(ws):
    return segment(ws, method="gmm", features="both", seed=0)


@pytest.fixture(scope="module")
def hdb(ws, kmeans):
    return segment(ws, method="hdbscan", features="both", seed=0, feature_frame=kmeans.features_frame)


def _ari(result, truth: pl.DataFrame) -> float:
    from sklearn.metrics import adjusted_rand_score

    j = result.labels.join(truth, on="customer_id")
    return float(adjusted_rand_score(j["latent_type"], j["segment_id"]))


def _segment_of(result, truth: pl.DataFrame, latent: str) -> dict:
    """The segment holding most customers of a planted type."""
    j = result.labels.join(truth.filter(pl.col("latent_type") == latent), on="customer_id")
    sid = j.group_by("segment_id").len().sort("len", descending=True)["segment_id"][0]
    return result.segments.filter(pl.col("segment_id") == sid).row(0, named=True)


def test_importing_the_engine_does_not_import_sklearn_or_hdbscan() -> None:
    code = (
        "import sys\n"
        "import shopper_tui.analytics.segmentation, shopper_tui.analytics.personas\n"
        "import shopper_tui.analytics.features, shopper_tui.analytics.rfm\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'hdbscan', 'lifetimes', 'textual'))\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kmeans_recovers_planted_types(kmeans, truth) -> None:
    ari = _ari(kmeans, truth)
    print(f"\nK-Means: k = {kmeans.k} chosen by silhouette {kmeans.silhouette}; ARI = {ari:.3f}")
    assert ari >= ARI_BAR
    ks = [k for k, _ in kmeans.silhouette]
    assert ks == list(range(2, 11))
    best = max(score for _, score in kmeans.silhouette)
    assert kmeans.k == min(k for k, score in kmeans.silhouette if score >= best - 0.01)
    assert any("silhouette" in n for n in kmeans.notes)


def test_gmm_recovers_planted_types_with_soft_membership(gmm, truth) -> None:
    ari = _ari(gmm, truth)
    print(f"\nGMM: k = {gmm.k}; ARI = {ari:.3f}")
    assert ari >= ARI_BAR
    p = gmm.labels["probability"]
    assert p.min() > 0 and p.max() <= 1.0 + 1e-12
    assert p.mean() > 0.8
    assert p.n_unique() > 100  # soft: not a constant 1


def test_hdbscan_noise_is_small_and_its_own_segment(hdb, truth) -> None:
    noise = float((hdb.labels["segment_id"] == NOISE_ID).mean())
    print(f"\nHDBSCAN: {hdb.k} clusters, noise {noise:.1%}, ARI = {_ari(hdb, truth):.3f}")
    assert noise <= 0.20
    assert hdb.k >= 3
    if noise:
        row = hdb.segments.filter(pl.col("segment_id") == NOISE_ID).row(0, named=True)
        assert row["name"] == "Unclustered"
        assert row["size"] == int((hdb.labels["segment_id"] == NOISE_ID).sum())
        assert hdb.segments["segment_id"][-1] == NOISE_ID  # listed last
    assert any("principal components" in n for n in hdb.notes)


def test_rfm_grid_matches_marketing_rfm(ws) -> None:
    res = segment(ws, method="rfm")
    names = set(res.segments["name"])
    assert names <= set(RFM_GRID_NAMES) and len(names) >= 8
    # the grid segment of every buyer is the one rfm_marketing gives
    j = res.labels.join(res.segments.select("segment_id", "name"), on="segment_id").join(
        rfm_marketing(ws).select("customer_id", "segment"), on="customer_id")
    assert j.height == res.labels.height == rfm_marketing(ws).height
    assert (j["name"] == j["segment"]).all()
    assert set(res.labels["customer_id"]).isdisjoint({"X2", "X3"})  # no completed purchase
    assert "X1" in set(res.labels["customer_id"])
    assert (assign(res.model, res.features_frame)["segment_id"] == res.labels["segment_id"]).all()


def test_segments_frame(kmeans) -> None:
    s = kmeans.segments
    assert s.columns == ["segment_id", "name", "persona", "size", "share", "buyers", "mean_recency_days",
                         "mean_orders", "mean_spend", "revenue_share", "top_categories"]
    assert s["size"].sum() == kmeans.labels.height
    assert abs(s["share"].sum() - 1) < 1e-9 and abs(s["revenue_share"].sum() - 1) < 1e-9
    assert s["size"].to_list() == sorted(s["size"].to_list(), reverse=True)  # ids by decreasing size
    assert all(1 <= len(c) <= 3 for c in s["top_categories"])
    assert set(kmeans.profile["segment_id"]) == set(s["segment_id"])


def test_personas_come_from_the_data(kmeans, truth) -> None:
    s = kmeans.segments
    assert s["name"].n_unique() == s.height
    assert s["persona"].n_unique() == s.height
    for p in s["persona"]:
        print(" ", p)
    lapsed = _segment_of(kmeans, truth, "lapsed_big_spenders")
    assert "Lapsed" in lapsed["name"] or "nothing for" in lapsed["persona"], lapsed
    assert lapsed["mean_recency_days"] > 150
    bargain = _segment_of(kmeans, truth, "bargain_hunters")
    assert "discount" in bargain["persona"] or "bargain" in bargain["persona"].lower(), bargain
    new = _segment_of(kmeans, truth, "new_browsers")
    assert any(w in new["persona"] for w in ("New", "first bought", "not bought yet", "browsers")), new
    champions = _segment_of(kmeans, truth, "champions")
    assert champions["revenue_share"] == s["revenue_share"].max()


def test_insights_have_numbers_and_actions(kmeans, ws, truth) -> None:
    ins = insights(kmeans, ws)
    assert set(ins["segment_id"]) == set(kmeans.segments["segment_id"])
    assert all(any(ch.isdigit() for ch in t) for t in ins["text"])
    assert all("% of revenue" in t for t in ins.filter(pl.col("rank") == 1)["text"])
    lapsed = _segment_of(kmeans, truth, "lapsed_big_spenders")
    first = ins.filter(pl.col("segment_id") == lapsed["segment_id"], pl.col("rank") == 1)["text"].item()
    print("\n" + first)
    assert f"{lapsed['size']:,} customers" in first and "win-back" in first


def test_assign_reproduces_training_labels(ws, kmeans, gmm) -> None:
    fresh = customer_features(ws, which="both", observation_end=kmeans.model.observation_end, include_non_buyers=True)
    for res, bar in ((kmeans, 0.99), (gmm, 0.97)):
        got = assign(res.model, fresh).join(res.labels, on="customer_id", suffix="_train")
        agree = float((got["segment_id"] == got["segment_id_train"]).mean())
        print(f"\n{res.method}: assign agrees with training labels for {agree:.2%}")
        assert got.height == res.labels.height and agree >= bar


def test_assign_places_new_and_changed_customers(ws, kmeans, truth) -> None:
    res = segment(ws, method="kmeans", features="rfm", k=5, seed=0)
    feats = res.features_frame
    lapsed_sid = _segment_of(res, truth, "lapsed_big_spenders")["segment_id"]
    champ_sid = _segment_of(res, truth, "champions")["segment_id"]
    assert lapsed_sid != champ_sid
    champs = feats.join(res.labels.filter(pl.col("segment_id") == champ_sid), on="customer_id").head(20)
    # the same champions, had they stopped buying ten months ago: they move to the lapsed segment
    lapsed_now = champs.drop("segment_id", "probability").with_columns(
        recency_days=pl.lit(300.0), customer_id="new-" + pl.col("customer_id"))
    moved = assign(res.model, lapsed_now)
    assert moved.height == 20 and moved["customer_id"][0].startswith("new-")
    print(f"\nchampions lapsed for 300 days: {(moved['segment_id'] == lapsed_sid).mean():.0%} now in the lapsed segment")
    assert (moved["segment_id"] == lapsed_sid).mean() >= 0.8
    # a frame lacking a category column (a category the new data never saw) is still placed
    cat_col = next(c for c in kmeans.features_frame.columns if c.startswith("buy_share:"))
    assert assign(kmeans.model, kmeans.features_frame.head(5).drop(cat_col)).height == 5


def test_odd_customers_are_handled(ws, kmeans) -> None:
    feats = kmeans.features_frame.filter(pl.col("customer_id").is_in(list(ODD))).sort("customer_id")
    assert feats["customer_id"].to_list() == ["X1", "X3"]  # X2 only cancelled, no events: not segmented
    x1, x3 = feats.row(0, named=True), feats.row(1, named=True)
    assert (x1["has_purchase"], x1["has_events"], x1["orders"], x1["spend"]) == (1, 0, 1.0, 25.0)
    assert x1["sessions"] == 0.0 and x1["conversion"] == 0.0
    assert x1["days_since_visit"] > 365  # never visited: the span of the data (24 months)
    assert (x3["has_purchase"], x3["has_events"], x3["orders"], x3["spend"]) == (0, 1, 0.0, 0.0)
    assert x3["recency_days"] == x3["tenure_days"] == 3.0  # days since first seen
    assert x3["cart_rate"] == 1.0 and x3["views_per_session"] == 2.0
    labelled = set(kmeans.labels["customer_id"])
    assert {"X1", "X3"} <= labelled and "X2" not in labelled
    assert any("not segmented" in n for n in kmeans.notes)
    rfm_only = customer_features(ws, which="rfm")
    assert "X3" not in set(rfm_only["customer_id"]) and "sessions" not in rfm_only.columns


def test_progress_is_reported_and_can_cancel(ws) -> None:
    steps: list[str] = []

    def progress(step: str, fraction: float | None) -> None:
        steps.append(step)
        if step.startswith("trying k"):
            raise Cancelled

    with pytest.raises(Cancelled):
        segment(ws, method="kmeans", progress=progress)
    assert steps[0] == "building features" and steps[-1].startswith("trying k")


def test_bad_arguments_raise_a_clear_error(ws) -> None:
    from shopper_tui.analytics.errors import ShopperError

    with pytest.raises(ShopperError, match="method"):
        segment(ws, method="dbscan")
    with pytest.raises(ShopperError, match="feature set"):
        segment(ws, method="kmeans", features="clicks")


def test_new_members_recompute_every_statistic(kmeans) -> None:
    """After customers are placed by the trained model on newer data (watch mode, re-import),
    a segment's numbers are those of its current members with their latest features, checked
    against a plain Polars computation; a segment left empty keeps its row with zero counts."""
    from shopper_tui.analytics.segmentation import with_members
    from shopper_tui.watching import apply_assignments

    frame = kmeans.features_frame
    biggest = kmeans.segments.sort("size", descending=True)["segment_id"][0]
    movers = kmeans.labels.filter(pl.col("segment_id") == biggest)["customer_id"].head(40)
    # the movers' newer features: 30 more orders and 10x the spend each
    newer = frame.filter(pl.col("customer_id").is_in(movers.implode())).with_columns(
        pl.col("orders") + 30, pl.col("spend") * 10)
    target = int(kmeans.segments.filter(pl.col("segment_id") != biggest)["segment_id"][0])
    assigned = pl.DataFrame({"customer_id": movers, "segment_id": [target] * movers.len(),
                             "probability": [1.0] * movers.len()})
    updated, moved = apply_assignments(kmeans, assigned, newer)

    assert moved.height == movers.len() and set(moved["to_segment_id"]) == {target}
    assert updated.model is kmeans.model  # no retraining
    current = frame.join(newer.select("customer_id"), on="customer_id", how="anti").vstack(newer.select(frame.columns))
    expected = (current.join(updated.labels, on="customer_id").group_by("segment_id")
                .agg(size=pl.len(), mean_orders=pl.col("orders").mean(), spend=pl.col("spend").sum()))
    total = float(expected["spend"].sum())
    got = updated.segments.join(expected, on="segment_id", suffix="_expected")
    assert got.height == kmeans.segments.height
    assert got["size"].to_list() == got["size_expected"].to_list()
    assert (got["mean_orders"] - got["mean_orders_expected"]).abs().max() < 1e-9
    assert (got["revenue_share"] - got["spend"] / total).abs().max() < 1e-9
    assert got.filter(pl.col("segment_id") == target)["mean_orders"][0] > kmeans.segments.filter(
        pl.col("segment_id") == target)["mean_orders"][0]  # the movers raised it
    assert updated.segments["name"].to_list() == kmeans.segments["name"].to_list()  # names are the model's

    emptied = kmeans.labels.with_columns(
        pl.when(pl.col("segment_id") == biggest).then(target).otherwise(pl.col("segment_id")).cast(pl.Int32)
        .alias("segment_id"))
    gone = with_members(kmeans, emptied).segments.filter(pl.col("segment_id") == biggest).row(0, named=True)
    assert (gone["size"], gone["share"], gone["buyers"], gone["mean_orders"]) == (0, 0.0, 0, None)
