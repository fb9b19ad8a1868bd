"""The sample-data generator: canonical schemas, determinism, and the planted structure
recovered with plain Polars computations (independent of the engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.schema import TABLES
from shopper_tui.sample_data.generator import (
    ASPECT_SENTENCES,
    EXPERIMENT,
    EXPERIMENT_UPLIFT,
    LATENT_TYPES,
    SampleData,
    generate,
    generate_to,
    main,
    write,
)

END = datetime(2026, 6, 30)
N = 1500


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate(customers=N, seed=7)


@pytest.fixture(scope="module")
def profile(sample: SampleData) -> pl.DataFrame:
    """Marketing RFM per customer on completed orders, with the planted type."""
    t = sample.tables
    completed = t["orders"].filter(pl.col("status") == "completed")
    spend = (t["order_items"].join(completed, on="order_id")
             .group_by("customer_id").agg(spend=(pl.col("quantity") * pl.col("unit_price")).sum()))
    per = completed.group_by("customer_id").agg(orders=pl.len(), last=pl.col("ts").max())
    return (sample.truth["truth_customers"].join(per, on="customer_id", how="left")
            .join(spend, on="customer_id", how="left")
            .with_columns(recency=(pl.lit(END) - pl.col("last")).dt.total_days(),
                          orders=pl.col("orders").fill_null(0), spend=pl.col("spend").fill_null(0.0)))


def _by_type(profile: pl.DataFrame) -> dict[str, dict[str, float]]:
    agg = profile.group_by("latent_type").agg(
        recency=pl.col("recency").mean(), orders=pl.col("orders").mean(),
        spend=pl.col("spend").mean(), aov=pl.col("spend").sum() / pl.col("orders").sum())
    return {row["latent_type"]: row for row in agg.iter_rows(named=True)}


# -- contract -------------------------------------------------------------------------------


def test_tables_have_the_canonical_schemas(sample: SampleData) -> None:
    assert list(sample.tables) == list(TABLES)
    for name, frame in sample.tables.items():
        assert list(frame.schema.items()) == list(TABLES[name].schema.items()), name
        for column in TABLES[name].required:
            assert frame[column].null_count() == 0, (name, column)
        if TABLES[name].key:
            assert frame.select(TABLES[name].key).is_unique().all(), name


def test_truth_frames(sample: SampleData) -> None:
    tc = sample.truth["truth_customers"]
    assert tc["customer_id"].equals(sample.tables["customers"]["customer_id"])
    assert set(tc["latent_type"]) == {lt.name for lt in LATENT_TYPES}
    counts = dict(tc["latent_type"].value_counts().iter_rows())
    for lt in LATENT_TYPES:  # exact shares (largest remainder)
        assert abs(counts[lt.name] - lt.share * N) <= 1
    te = sample.truth["truth_experiment"]
    assert te.columns[:4] == ["experiment", "variant", "true_checkout_conversion", "true_effect_abs"]
    assert te["experiment"].to_list() == [EXPERIMENT] * 2
    effect = te.filter(pl.col("variant") == "treatment")["true_effect_abs"].item()
    assert abs(effect - EXPERIMENT_UPLIFT) < 0.01
    facts = sample.truth_json()
    assert [t["name"] for t in facts["latent_types"]] == [lt.name for lt in LATENT_TYPES]
    assert facts["experiment"]["true_effect_abs"] == pytest.approx(effect)
    assert facts["counts"] == sample.counts()
    json.dumps(facts)  # serialisable


def test_same_seed_same_frames_other_seed_differs() -> None:
    a, b, c = generate(customers=300, seed=3), generate(customers=300, seed=3), generate(customers=300, seed=4)
    for name in TABLES:
        assert a.tables[name].equals(b.tables[name]), name
        assert not a.tables[name].equals(c.tables[name]), name
    for name in a.truth:
        assert a.truth[name].equals(b.truth[name]), name
    assert a.truth_json() == b.truth_json()


def test_write_round_trips_and_is_byte_identical(sample: SampleData, tmp_path: Path) -> None:
    write(sample, tmp_path / "a")
    write(sample, tmp_path / "b")
    for name in [*TABLES, *sample.truth]:
        path = tmp_path / "a" / f"{name}.parquet"
        back = pl.read_parquet(path)
        assert back.equals({**sample.tables, **sample.truth}[name]), name
        assert list(back.schema.items()) == list({**sample.tables, **sample.truth}[name].schema.items())
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), name
    assert json.loads((tmp_path / "a" / "truth.json").read_text()) == sample.truth_json()
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_generate_to_reports_progress_and_main_writes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seen: list[tuple[str, float | None]] = []
    out = generate_to(tmp_path / "p", customers=120, seed=1, progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen if f is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {p.name for p in (tmp_path / "p").iterdir()} >= {f"{t}.parquet" for t in TABLES} | {"truth.json"}
    assert out.counts()["customers"] == 120
    assert main(["--customers", "120", "--seed", "1", "--out", str(tmp_path / "m")]) == 0
    assert "customers 120" in capsys.readouterr().out
    assert pl.read_parquet(tmp_path / "m" / "orders.parquet").equals(out.tables["orders"])


def test_bad_arguments_raise_the_project_error() -> None:
    with pytest.raises(ShopperError, match="customers"):
        generate(customers=10)
    with pytest.raises(ShopperError, match="months"):
        generate(customers=100, months=6)


def test_package_import_does_not_load_numpy() -> None:
    code = "import sys, shopper_tui.sample_data; assert 'numpy' not in sys.modules and 'polars' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- sizes and shapes of the data ----------------------------------------------------------


def test_volumes_and_mixes_are_near_their_targets(sample: SampleData) -> None:
    t = sample.tables
    n_orders = t["orders"].height
    assert 7.3 * N < n_orders < 8.7 * N  # orders_per_customer defaults to 8 at this size
    assert 2.3 < t["order_items"].height / n_orders < 3.3
    assert 1.3 * N < t["reviews"].height < 1.9 * N
    status = dict(t["orders"]["status"].value_counts(normalize=True).iter_rows())
    assert status["completed"] == pytest.approx(0.93, abs=0.015)
    assert status["cancelled"] == pytest.approx(0.03, abs=0.01)
    assert status["returned"] == pytest.approx(0.04, abs=0.01)
    assert set(t["orders"]["channel"]) == {"web", "app", "store"}
    sessions = t["events"].group_by("session_id").agg(anon=pl.col("customer_id").null_count() > 0)
    assert sessions["anon"].mean() == pytest.approx(0.15, abs=0.01)
    assert set(t["events"]["event_type"]) == {"view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase"}
    assert t["products"]["category"].n_unique() == 8
    q = t["order_items"]["quantity"]
    assert q.min() >= 1 and (q <= 3).mean() > 0.9
    ratings = dict(t["reviews"]["rating"].value_counts(normalize=True).iter_rows())
    assert ratings[5] > ratings[4] > ratings[3] and ratings[5] > 0.4 and ratings[1] + ratings[2] < 0.25


def test_prices_are_plausible_per_category(sample: SampleData) -> None:
    med = dict(sample.tables["products"].group_by("category").agg(pl.col("price").median()).iter_rows())
    assert med["Grocery"] < med["Beauty"] < med["Fashion"] < med["Electronics"]
    items = sample.tables["order_items"].join(sample.tables["products"], on="product_id")
    assert (items["unit_price"] <= items["price"] + 1e-9).all()
    assert 0.05 < (items["unit_price"] < items["price"] - 1e-9).mean() < 0.4  # occasional discounts


# -- planted structure ----------------------------------------------------------------------


def test_rfm_profiles_follow_the_planted_types(profile: pl.DataFrame) -> None:
    m = _by_type(profile)
    assert m["lapsed_big_spenders"]["recency"] > 150
    assert m["champions"]["recency"] < 30
    assert m["new_browsers"]["recency"] < 60
    assert m["lapsed_big_spenders"]["recency"] > m["occasional"]["recency"] > m["bargain_hunters"]["recency"]
    orders = {k: v["orders"] for k, v in m.items()}
    assert orders["champions"] > orders["bargain_hunters"] > orders["occasional"] > orders["new_browsers"]
    assert orders["lapsed_big_spenders"] > 2 * orders["occasional"]
    assert orders["new_browsers"] < 1.2
    spend = sorted(m, key=lambda k: m[k]["spend"], reverse=True)
    assert spend[:2] == ["champions", "lapsed_big_spenders"]
    assert spend[-1] == "new_browsers"
    assert m["lapsed_big_spenders"]["aov"] > m["champions"]["aov"] > 3 * m["bargain_hunters"]["aov"]
    # New browsers signed up in the last 60 days and buy at most twice.
    new = profile.filter(pl.col("latent_type") == "new_browsers")
    assert new["orders"].max() <= 2


def test_each_type_prefers_its_planted_category(sample: SampleData) -> None:
    t = sample.tables
    lines = (t["order_items"].join(t["orders"].filter(pl.col("status") == "completed"), on="order_id")
             .join(t["products"], on="product_id").join(sample.truth["truth_customers"], on="customer_id"))
    ranked = lines.group_by("latent_type", "category").len().sort("len", "category", descending=True)
    top = dict(ranked.group_by("latent_type", maintain_order=True).first().select("latent_type", "category").iter_rows())
    assert top == {lt.name: lt.favourites[0] for lt in LATENT_TYPES}
    # Views agree: the favourite also leads the viewed products.
    views = (t["events"].filter(pl.col("event_type") == "view").join(t["products"], on="product_id")
             .join(sample.truth["truth_customers"], on="customer_id"))
    vtop = dict(views.group_by("latent_type", "category").len().sort("len", "category", descending=True)
                .group_by("latent_type", maintain_order=True).first().select("latent_type", "category").iter_rows())
    assert vtop == top


def test_device_mix_and_browsing_follow_the_types(sample: SampleData) -> None:
    ev = sample.tables["events"].join(sample.truth["truth_customers"], on="customer_id")
    sessions = ev.group_by("session_id").agg(pl.col("latent_type", "device").first())
    mobile = dict(sessions.group_by("latent_type").agg((pl.col("device") == "mobile").mean()).iter_rows())
    assert mobile["new_browsers"] > 0.7 and mobile["lapsed_big_spenders"] < 0.35
    per_customer = dict(sessions.group_by("latent_type").len().iter_rows())
    shares = {lt.name: lt.share for lt in LATENT_TYPES}
    sessions_per = {k: v / (shares[k] * N) for k, v in per_customer.items()}
    orders = dict(sample.tables["orders"].join(sample.truth["truth_customers"], on="customer_id")
                  .group_by("latent_type").len().iter_rows())
    # New browsers: many sessions for almost no orders.
    assert sessions_per["new_browsers"] > 5
    assert sessions_per["new_browsers"] / (orders["new_browsers"] / (0.2 * N)) > 5 * (
        sessions_per["champions"] / (orders["champions"] / (0.15 * N)))


def test_experiment_effect_is_recovered(sample: SampleData) -> None:
    ev = sample.tables["events"]
    assert ev.filter(pl.col("customer_id").is_null())["variant"].null_count() == ev.filter(
        pl.col("customer_id").is_null()).height
    start = datetime.fromisoformat(sample.truth_json()["experiment"]["start"])
    exposed = ev.filter(pl.col("experiment") == EXPERIMENT)
    assert exposed["ts"].min() >= start
    # One variant per customer, the one in the truth.
    per_customer = exposed.group_by("customer_id").agg(pl.col("variant").unique())
    assert per_customer["variant"].list.len().max() == 1
    truth_v = sample.truth["truth_customers"].select("customer_id", assigned="variant")
    joined = per_customer.with_columns(pl.col("variant").list.first()).join(truth_v, on="customer_id")
    assert (joined["variant"] == joined["assigned"]).all()

    sessions = exposed.group_by("session_id", "variant").agg(
        checkout=(pl.col("event_type") == "checkout").any(), purchase=(pl.col("event_type") == "purchase").any())
    conv = dict(sessions.filter("checkout").group_by("variant").agg(pl.col("purchase").mean()).iter_rows())
    truth = dict(sample.truth["truth_experiment"].select("variant", "true_checkout_conversion").iter_rows())
    assert 0.5 < truth["control"] < 0.62
    for arm in ("control", "treatment"):
        assert conv[arm] == pytest.approx(truth[arm], abs=0.03)
    observed = conv["treatment"] - conv["control"]
    assert observed == pytest.approx(truth["treatment"] - truth["control"], abs=0.035)
    assert observed > 0.02


def test_reviews_agree_with_ratings_and_plant_shipping_complaints(sample: SampleData) -> None:
    r = sample.tables["reviews"]

    def mentions(aspect: str, polarity: str) -> pl.Expr:
        return pl.any_horizontal([pl.col("text").str.contains(s, literal=True)
                                  for s in ASPECT_SENTENCES[aspect][polarity]])

    neg = r.filter(mentions("shipping", "negative"))["rating"].cast(pl.Float64).mean()
    pos = r.filter(mentions("shipping", "positive"))["rating"].cast(pl.Float64).mean()
    assert neg < pos - 1.0
    for aspect in ("price", "quality", "service"):
        assert (r.filter(mentions(aspect, "negative"))["rating"].cast(pl.Float64).mean()
                < r.filter(mentions(aspect, "positive"))["rating"].cast(pl.Float64).mean() - 1.0)
    # A title always belongs to one rating; 1–2 star texts lean negative, 5 star positive.
    assert r.group_by("title").agg(pl.col("rating").n_unique())["rating"].max() == 1
    neg_any = pl.any_horizontal([mentions(a, "negative") for a in ASPECT_SENTENCES])
    pos_any = pl.any_horizontal([mentions(a, "positive") for a in ASPECT_SENTENCES])
    low, high = r.filter(pl.col("rating") <= 2), r.filter(pl.col("rating") == 5)
    assert low.select(neg_any.mean()).item() > 0.8 and high.select(pos_any.mean()).item() > 0.8
    # Planted: lapsed big spenders complain about shipping far more often.
    typed = r.join(sample.truth["truth_customers"], on="customer_id")
    share = dict(typed.group_by("latent_type").agg(mentions("shipping", "negative").mean()).iter_rows())
    others = max(v for k, v in share.items() if k != "lapsed_big_spenders")
    assert share["lapsed_big_spenders"] > 2 * others


def test_reviews_come_after_purchases_by_the_reviewer(sample: SampleData) -> None:
    t = sample.tables
    r = t["reviews"]
    assert r["customer_id"].null_count() / r.height < 0.06
    bought = (t["order_items"].join(t["orders"], on="order_id")
              .group_by("customer_id", "product_id").agg(first=pl.col("ts").min()))
    known = r.filter(pl.col("customer_id").is_not_null()).join(bought, on=["customer_id", "product_id"], how="left")
    assert known["first"].null_count() == 0
    assert (known["ts"] > known["first"]).all()
    assert r["ts"].max() <= END


# -- consistency of the event log --------------------------------------------------------


def test_every_order_ends_a_purchase_session_of_its_customer(sample: SampleData) -> None:
    t = sample.tables
    ev = t["events"]
    purchases = ev.filter(pl.col("event_type") == "purchase").select("session_id", "customer_id", "ts")
    assert purchases.height == t["orders"].height
    matched = t["orders"].join(purchases, on=["customer_id", "ts"], how="left")
    assert matched.height == t["orders"].height and matched["session_id"].null_count() == 0
    session_channel = ev.group_by("session_id").agg(session_channel=pl.col("channel").first())
    channels = matched.join(session_channel, on="session_id")
    assert (channels["channel"] == channels["session_channel"]).all()
    # The products added (and not removed) in the session are exactly the order's items.
    kept = (ev.filter(pl.col("event_type").is_in(["add_to_cart", "remove_from_cart"]))
            .with_columns(sign=pl.when(pl.col("event_type") == "add_to_cart").then(1).otherwise(-1))
            .group_by("session_id", "product_id").agg(pl.col("sign").sum())
            .filter(pl.col("sign") > 0)
            .group_by("session_id").agg(pl.col("product_id").sort()))
    items = (t["order_items"].group_by("order_id").agg(pl.col("product_id").sort())
             .join(matched.select("order_id", "session_id"), on="order_id"))
    both = items.join(kept, on="session_id", suffix="_cart")
    assert both.height == t["orders"].height
    assert (both["product_id"] == both["product_id_cart"]).all()
    # Every purchase session starts the funnel with a view.
    viewed = ev.filter(pl.col("event_type") == "view")["session_id"].unique()
    assert matched["session_id"].is_in(viewed.implode()).all()


def test_sessions_are_well_formed(sample: SampleData) -> None:
    ev = sample.tables["events"].with_row_index("row")
    per = ev.group_by("session_id").agg(
        sorted=pl.col("ts").is_sorted(),
        customers=pl.col("customer_id").n_unique(),
        devices=pl.col("device").n_unique(),
        last=pl.col("event_type").last(),
        has_purchase=(pl.col("event_type") == "purchase").any(),
        checkout_before=(pl.col("event_type") == "checkout").arg_max() < (pl.col("event_type") == "purchase").arg_max(),
        contiguous=(pl.col("row").max() - pl.col("row").min() + 1) == pl.len(),
        first_ts=pl.col("ts").min(),
        customer_id=pl.col("customer_id").first(),
    )
    assert per["sorted"].all() and per["contiguous"].all()
    new = sample.truth["truth_customers"].filter(pl.col("latent_type") == "new_browsers")
    signups = sample.tables["customers"].join(new, on="customer_id")["signup_ts"]
    assert signups.min() >= datetime(2026, 5, 1)
    assert per["customers"].max() == 1 and per["devices"].max() == 1
    purchased = per.filter("has_purchase")
    assert (purchased["last"] == "purchase").all() and purchased["checkout_before"].all()
    # Sessions are numbered in order of their start.
    assert per.sort("session_id")["first_ts"].is_sorted()
    # Nothing before the customer signed up.
    signup = per.join(sample.tables["customers"], on="customer_id")
    assert (signup["first_ts"] >= signup["signup_ts"]).all()
    orders = sample.tables["orders"].join(sample.tables["customers"], on="customer_id")
    assert (orders["ts"] > orders["signup_ts"]).all() and orders["ts"].max() <= END


def test_referential_integrity(sample: SampleData) -> None:
    t = sample.tables
    for table, spec in TABLES.items():
        for column, (ref_table, ref_column) in spec.references.items():
            values = t[table][column].drop_nulls()
            assert values.is_in(t[ref_table][ref_column].implode()).all(), (table, column)
    assert t["events"]["customer_id"].drop_nulls().is_in(t["customers"]["customer_id"].implode()).all()
    assert t["events"]["product_id"].drop_nulls().is_in(t["products"]["product_id"].implode()).all()
    assert t["reviews"]["customer_id"].drop_nulls().is_in(t["customers"]["customer_id"].implode()).all()
    assert t["order_items"]["order_id"].n_unique() == t["orders"].height  # every order has lines
    assert t["order_items"].select("order_id", "product_id").is_unique().all()
