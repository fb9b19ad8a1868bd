"""Review intelligence on a generated workspace: planted shipping complaints recovered,
views for the Reviews screen, topics, caching through the workspace, headless commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.cache import ArtifactCache
from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.reviews import (
    aspect_table,
    filter_scores,
    review_detail,
    score_reviews,
    segment_aspects,
    sentiment_mix,
    sentiment_trend,
    summaries,
)
from shopper_tui.analytics.topics import review_topics
from shopper_tui.analytics.workspace import import_source, open_workspace

ASPECTS = ["price", "quality", "service", "shipping", "size/fit"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    from shopper_tui.sample_data.generator import generate, write

    root = tmp_path_factory.mktemp("reviews")
    sample = generate(customers=1500, seed=5)
    write(sample, root / "shop")
    res = import_source(root / "shop", data_dir=root / "data")
    ws = open_workspace(res.path)
    cache = ArtifactCache(root / "cache", ws.name, ws.fingerprint)
    rs = score_reviews(ws, cache=cache)
    yield ws, sample, rs, cache, root
    ws.close()


@pytest.fixture(scope="module")
def latent_labels(shop) -> pl.DataFrame:
    _, sample, *_ = shop
    truth = sample.truth["truth_customers"].select("customer_id", segment="latent_type")
    ids = truth.select("segment").unique().sort("segment").with_row_index("segment_id")
    return truth.join(ids, on="segment")


def test_scores_cover_every_review(shop) -> None:
    ws, sample, rs, *_ = shop
    n = sample.tables["reviews"].height
    assert rs.scores.height == n and rs.scores["review_id"].n_unique() == n
    assert rs.choice.model == "learned" and "≥ 200" in rs.choice.reason
    out = rs.export()
    assert out.columns == ["review_id", "rating", "sentiment", "score", "aspects"]
    assert out["score"].is_between(-1, 1).all()
    assert set(out["sentiment"].unique()) <= {"positive", "neutral", "negative"}
    assert out["aspects"].str.contains(r"^(?:[a-z/]+:(?:positive|neutral|negative)(?:; )?)*$").all()
    assert rs.scores.filter(pl.col("category").is_null()).is_empty()


def test_planted_shipping_complaints_show_in_segment_table(shop, latent_labels: pl.DataFrame) -> None:
    _, _, rs, *_ = shop
    table = segment_aspects(rs, latent_labels)
    assert table.height == latent_labels["segment"].n_unique() * len(ASPECTS)
    ship = (table.filter((pl.col("aspect") == "shipping") & (pl.col("segment_reviews") >= 50))
            .sort("negative_rate", descending=True))
    print("\n", ship.select("segment", "segment_reviews", "mentions", "share_negative", "negative_rate",
                            "negative_index"))
    top, second = ship.row(0, named=True), ship.row(1, named=True)
    assert top["segment"] == "lapsed_big_spenders"
    assert top["share_negative"] > second["share_negative"] + 0.1
    assert top["negative_index"] > 150 and second["negative_index"] < 110
    # the plant is about shipping and service, not price
    price = table.filter((pl.col("aspect") == "price") & (pl.col("segment") == "lapsed_big_spenders"))
    assert price["negative_index"].item() < top["negative_index"] - 50


def test_aspect_sentiment_follows_the_generators_sentences(shop) -> None:
    from shopper_tui.sample_data.generator import ASPECT_SENTENCES

    _, _, rs, *_ = shop
    known = {s: (("size/fit" if a == "fit" else a), pol)
             for a, d in ASPECT_SENTENCES.items() for pol, ss in d.items() for s in ss}
    m = rs.mentions.filter(pl.col("sentence").is_in(list(known)))
    expected = m["sentence"].replace_strict({s: f"{a}:{p}" for s, (a, p) in known.items()})
    agree = (m.select(pl.concat_str("aspect", "sentiment", separator=":"))
             .to_series() == expected).mean()
    print(f"\naspect + polarity agree with the planted sentence on {agree:.1%} of {m.height:,} mentions")
    assert m.height > 1000 and agree >= 0.9


def test_mix_trend_and_aspect_table(shop) -> None:
    _, sample, rs, *_ = shop
    mix = sentiment_mix(rs)
    assert mix.positive + mix.neutral + mix.negative == mix.reviews == rs.scores.height
    ratings = sample.tables["reviews"]["rating"].cast(pl.Float64)
    assert mix.average_rating == pytest.approx(ratings.mean(), abs=1e-3)
    assert mix.model == "learned"
    for freq in ("week", "month"):
        trend = sentiment_trend(rs, freq=freq)
        assert trend["reviews"].sum() == rs.scores.filter(pl.col("ts").is_not_null()).height
        assert trend["period"].is_sorted() and trend["period"].n_unique() == trend.height
    assert sentiment_trend(rs, freq="month", by="category").columns[:2] == ["period", "category"]
    with pytest.raises(ShopperError):
        sentiment_trend(rs, freq="day")  # type: ignore[arg-type]
    table = aspect_table(rs)
    assert table["aspect"].to_list() == ASPECTS
    for row in table.iter_rows(named=True):
        assert row["positive"] + row["neutral"] + row["negative"] == row["mentions"] > 0
        assert row["positive_example"] and row["negative_example"]
    examples = dict(zip(table["aspect"], table["negative_example"]))
    assert rs.mentions.filter((pl.col("aspect") == "shipping") & (pl.col("sentence") == examples["shipping"])
                              & (pl.col("sentiment") == "negative")).height > 0


def test_summaries_and_detail(shop, latent_labels: pl.DataFrame) -> None:
    _, _, rs, *_ = shop
    by_cat = summaries(rs, by="category")
    assert by_cat["reviews"].sum() == rs.scores.height
    assert by_cat["sentences"].list.len().min() == 3
    docs = " ".join(rs.scores["document"].to_list())
    assert all(s in docs for s in by_cat["sentences"].explode().to_list())
    by_product = summaries(rs, by="product", limit=5)
    assert by_product.height == 5 and by_product["reviews"].is_sorted(descending=True)
    assert summaries(rs, by="segment", labels=latent_labels).height == latent_labels["segment"].n_unique()
    with pytest.raises(ShopperError):
        summaries(rs, by="segment")

    rid = rs.mentions.group_by("review_id").len().sort("len", "review_id", descending=[True, False])["review_id"][0]
    detail = review_detail(rs, rid)
    assert detail.mentions and detail.model == "learned"
    for m in detail.mentions:
        assert detail.document[m["start"]:m["end"]] == m["sentence"]
    with pytest.raises(ShopperError, match="No review"):
        review_detail(rs, "nope")


def test_filters(shop, latent_labels: pl.DataFrame) -> None:
    _, _, rs, *_ = shop
    s = rs.scores
    product = s["product_id"].mode()[0]
    only = filter_scores(rs, product=product)
    assert only.scores.height == (s["product_id"] == product).sum()
    assert set(only.mentions["review_id"]) <= set(only.scores["review_id"])
    assert filter_scores(rs, rating=(1, 2)).scores["rating"].max() <= 2
    assert filter_scores(rs, sentiment="negative").scores["sentiment"].unique().to_list() == ["negative"]
    ship_neg = filter_scores(rs, aspect="shipping", aspect_sentiment="negative")
    assert ship_neg.scores["aspects"].str.contains("shipping:").all()
    day = s["ts"].min().date()
    assert filter_scores(rs, since=day, until=day).scores["ts"].dt.date().unique().to_list() == [day]
    assert filter_scores(rs, until=date(2000, 1, 1)).scores.is_empty()
    seg = filter_scores(rs, segment="lapsed_big_spenders", labels=latent_labels)
    lapsed = latent_labels.filter(pl.col("segment") == "lapsed_big_spenders")["customer_id"]
    assert seg.scores["customer_id"].is_in(lapsed.implode()).all() and seg.scores.height > 100
    assert filter_scores(rs, category=s["category"][0]).scores["category"].n_unique() == 1


def test_topics(shop) -> None:
    _, _, rs, cache, _ = shop
    topics = review_topics(rs, n_topics=6, cache=cache)
    t = topics.topics
    assert t.height == 6 and t["share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert t["top_words"].list.len().min() == 10
    assert topics.assignments.height == rs.scores.height
    assert topics.trend.group_by("period").agg(pl.col("share").sum())["share"].is_between(0.999, 1.001).all()
    words = set(t["top_words"].explode())
    assert {"shipping", "quality"} & words
    print("\n", t.select("label", "share", "share_negative"))
    again = review_topics(rs, n_topics=6, cache=cache)
    assert again.topics.equals(topics.topics)


def test_second_open_uses_the_cache(shop, monkeypatch) -> None:
    ws, _, first, cache, _ = shop
    import shopper_tui.analytics.sentiment as sentiment

    monkeypatch.setattr(sentiment, "train_learned", lambda *a, **k: pytest.fail("retrained"))
    again = score_reviews(ws, cache=cache)
    assert again.cached and again.scores.equals(first.scores)
    vader = score_reviews(ws, model="vader", cache=cache)
    assert not vader.cached and vader.choice.model == "vader"
    assert vader.mentions.equals(first.mentions)  # aspects are shared between models


def test_reviews_only_data_set(tmp_path: Path) -> None:
    """A review export with products and reviews only (no orders, no events) works."""
    folder = tmp_path / "export"
    folder.mkdir()
    pl.DataFrame({"product_id": ["A", "B"], "category": ["Shoes", "Bags"]}).write_csv(folder / "products.csv")
    pl.DataFrame({"review_id": [f"r{i}" for i in range(6)], "product_id": ["A", "B"] * 3,
                  "text": ["Great fit!", "Strap broke fast.", "Shipping was slow.", "Love the colour.", "",
                           "Too tight."],
                  }).write_csv(folder / "reviews.csv")
    result = import_source(folder, data_dir=tmp_path / "data")
    ws = open_workspace(result.path)
    try:
        rs = score_reviews(ws)
        assert rs.choice.model == "vader" and "0 positive" in rs.choice.reason
        assert dict(zip(rs.scores["review_id"], rs.scores["sentiment"]))["r0"] == "positive"
        assert aspect_table(rs).filter(pl.col("aspect") == "size/fit")["mentions"].item() == 2
    finally:
        ws.close()


# -- headless commands -------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch):
    """The CLI with the reviews commands registered (the lead adds them to COMMAND_MODULES)."""
    import shopper_tui.commands as commands
    from shopper_tui.cli import main

    if "reviews" not in commands.COMMAND_MODULES:
        monkeypatch.setattr(commands, "COMMAND_MODULES", (*commands.COMMAND_MODULES, "reviews"))
    return main


def test_score_reviews_command(cli, shop, capsys, tmp_path: Path) -> None:
    *_, root = shop
    src = ["--source", str(root / "shop"), "--data-dir", str(root / "data"), "--cache-dir", str(root / "cache")]
    out = tmp_path / "scores.csv"
    assert cli(["score-reviews", *src, "--model", "vader", "--out", str(out)]) == 0
    frame = pl.read_csv(out)
    assert frame.columns == ["review_id", "rating", "sentiment", "score", "aspects"]
    assert "model: vader" in capsys.readouterr().err
    assert cli(["score-reviews", *src, "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == frame.height and isinstance(records[0]["aspects"], dict)
    assert set(records[0]) == {"review_id", "rating", "sentiment", "score", "aspects"}


def test_reviews_command(cli, shop, capsys) -> None:
    ws, _, rs, _, root = shop
    src = ["--source", str(root / "shop"), "--data-dir", str(root / "data"), "--cache-dir", str(root / "cache")]
    assert cli(["reviews", *src, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "model: learned" in captured.err and "(cached)" in captured.err
    assert pl.read_csv(captured.out.encode())["aspect"].to_list() == ASPECTS
    assert cli(["reviews", *src, "--format", "csv", "--aspect", "packaging=packaging,packaged,box"]) == 0
    table = pl.read_csv(capsys.readouterr().out.encode())
    assert table["aspect"].to_list() == [*ASPECTS, "packaging"] and table["mentions"][-1] > 0
    assert cli(["reviews", *src, "--aspect", "oops"]) == 2
    product = rs.scores["product_id"].mode()[0]
    assert cli(["reviews", *src, "--product", product, "--by", "topic", "--format", "json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out)[0]["top_words"], list)
    assert cli(["reviews", *src, "--by", "segment"]) == 0
    assert "shipping" in capsys.readouterr().out
    assert cli(["reviews", *src, "--product", "no-such-product"]) == 2
    assert "No reviews for product" in capsys.readouterr().err
