"""Review topics: LDA (scikit-learn) with top words, share, sentiment and trend.

Definition used: bag of words (English stop words, review boilerplate and words in more
than half of the reviews removed; words in fewer than 3 reviews dropped) → Latent Dirichlet
Allocation with ``n_topics`` topics (online variational Bayes, 5 passes), fitted on at most
``max_fit`` reviews (a seeded sample) and applied to all. A review's topic is its highest-weight topic; a topic's
*share* is the fraction of reviews whose topic it is; its *label* is its three top words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from .errors import ShopperError

if TYPE_CHECKING:
    from .cache import ArtifactCache
    from .reviews import ReviewScores

__all__ = ["Topics", "review_topics", "TOPICS_VERSION"]

TOPICS_VERSION = 1
ProgressFn = Callable[[str, float | None], None]
# Review boilerplate that says nothing about a topic.
_EXTRA_STOP = ("just", "really", "bit", "little", "did", "does", "got", "ve", "im", "don", "didn", "doesn",
               "ll", "wasn", "isn", "way", "thing", "things", "lot", "bought", "buy", "purchase", "product",
               "item", "retailer")


@dataclass(frozen=True)
class Topics:
    """LDA topics of a set of reviews.

    Attributes:
        topics: topic_id, label (top three words), top_words (list), reviews, share,
            share_positive, share_negative, average_score, average_rating; by share.
        assignments: review_id, topic_id, weight (the review's top topic and its weight).
        trend: period, topic_id, reviews, share (of the period's reviews); by period.
        freq: "week" or "month", the trend's granularity.
    """

    topics: pl.DataFrame
    assignments: pl.DataFrame
    trend: pl.DataFrame
    freq: str


def review_topics(
    rs: ReviewScores,
    *,
    n_topics: int = 8,
    top_words: int = 10,
    freq: Literal["week", "month"] = "month",
    max_fit: int = 4000,
    seed: int = 0,
    cache: ArtifactCache | None = None,
    progress: ProgressFn | None = None,
) -> Topics:
    """Fit LDA topics on the scored reviews (see module docstring).

    Args:
        rs: Scored reviews (:func:`.reviews.score_reviews`), possibly filtered.
        n_topics: Number of topics (fewer when there are few reviews).
        top_words: Words listed per topic.
        freq: Trend granularity, "week" or "month".
        max_fit: Reviews sampled to fit the model.
        cache: Caches the fitted assignments per (review set, parameters).
        progress: ``progress(step, fraction)``; may raise ``Cancelled``.

    Raises:
        ShopperError: Fewer than 20 reviews with words, or an unknown ``freq``.
    """
    if freq not in ("week", "month"):
        raise ShopperError(f"Trend granularity '{freq}' is not supported; use week or month.")
    scores = rs.scores.filter(pl.col("document").str.contains(r"[A-Za-z]{3}"))
    if scores.height < 20:
        raise ShopperError(f"Topics need at least 20 reviews with text; there are {scores.height}.")
    report = progress or (lambda step, fraction=None: None)
    import hashlib

    key = "reviews-topics-" + hashlib.sha1(
        repr((scores["review_id"].hash().sum(), scores.height, n_topics, top_words, max_fit, seed)).encode()
    ).hexdigest()[:12]
    hit = cache.load_object(key, version=TOPICS_VERSION) if cache else None
    if hit is None:
        hit = _fit(scores, n_topics=n_topics, top_words=top_words, max_fit=max_fit, seed=seed, report=report)
        if cache:
            cache.save_object(key, hit, version=TOPICS_VERSION)
    words, assign = hit
    assignments = pl.DataFrame({"review_id": scores["review_id"], "topic_id": assign[0], "weight": assign[1]},
                               schema={"review_id": pl.String, "topic_id": pl.Int32, "weight": pl.Float64})
    joined = scores.select("review_id", "ts", "sentiment", "score", "rating").join(assignments, on="review_id")
    k = len(words)
    meta = pl.DataFrame({"topic_id": list(range(k)), "label": [" · ".join(w[:3]) for w in words],
                         "top_words": words},
                        schema={"topic_id": pl.Int32, "label": pl.String, "top_words": pl.List(pl.String)})
    stats = joined.group_by("topic_id").agg(
        pl.len().alias("reviews"),
        (pl.col("sentiment") == "positive").mean().round(4).alias("share_positive"),
        (pl.col("sentiment") == "negative").mean().round(4).alias("share_negative"),
        pl.col("score").mean().round(4).alias("average_score"),
        pl.col("rating").cast(pl.Float64).mean().round(3).alias("average_rating"),
    )
    topics = (meta.join(stats, on="topic_id", how="left").with_columns(pl.col("reviews").fill_null(0))
              .with_columns(share=(pl.col("reviews") / joined.height).round(4))
              .select("topic_id", "label", "top_words", "reviews", "share", "share_positive", "share_negative",
                      "average_score", "average_rating")
              .sort(["share", "topic_id"], descending=[True, False]))
    every = "1w" if freq == "week" else "1mo"
    dated = joined.filter(pl.col("ts").is_not_null()).with_columns(period=pl.col("ts").dt.truncate(every).dt.date())
    periods = dated.select("period").unique()
    trend = (
        periods.join(meta.select("topic_id"), how="cross")
        .join(dated.group_by("period", "topic_id").agg(pl.len().alias("reviews")), on=["period", "topic_id"],
              how="left")
        .with_columns(pl.col("reviews").fill_null(0))
        .with_columns(share=(pl.col("reviews") / pl.col("reviews").sum().over("period")).round(4))
        .sort("period", "topic_id")
    )
    return Topics(topics, assignments, trend, freq)


def _fit(scores: pl.DataFrame, *, n_topics: int, top_words: int, max_fit: int, seed: int,
         report: ProgressFn) -> tuple[list[list[str]], tuple[np.ndarray, np.ndarray]]:
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    docs = scores["document"].to_list()
    n = len(docs)
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, size=min(n, max_fit), replace=False))
    report("finding topics", 0.1)
    vec = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS.union(_EXTRA_STOP)), max_df=0.5,
                          min_df=3 if n >= 200 else 1, max_features=5000, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b")
    try:
        X_fit = vec.fit_transform([docs[i] for i in fit_idx])
    except ValueError as exc:
        raise ShopperError("The reviews have too few distinct words to find topics.") from exc
    k = max(2, min(n_topics, X_fit.shape[1] // 3, n // 10))
    lda = LatentDirichletAllocation(n_components=k, learning_method="online", max_iter=5, batch_size=512,
                                    learning_offset=10.0, random_state=seed, n_jobs=1)
    lda.fit(X_fit)
    report("finding topics", 0.7)
    vocab = np.asarray(vec.get_feature_names_out())
    words = [vocab[np.argsort(-row)[:top_words]].tolist() for row in lda.components_]
    doc_topic = lda.transform(vec.transform(docs))
    report("finding topics", 1.0)
    return words, (doc_topic.argmax(axis=1).astype(np.int32), doc_topic.max(axis=1).round(4))
