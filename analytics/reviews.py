"""Review intelligence on a workspace: scores, mix, trends, aspects, summaries, segments.

:func:`score_reviews` scores every review once per model (see :mod:`.sentiment` for the
models and :mod:`.aspects` for aspect mentions) and caches the result in the workspace's
:class:`~.cache.ArtifactCache` (keyed by data fingerprint, model, aspect configuration and
:data:`SCORES_VERSION`), so reopening is instant. Everything else here is a cheap Polars
view of the :class:`ReviewScores` it returns, built for the Reviews screen:

* :func:`sentiment_mix` — counts and shares, average rating and score, model and why;
* :func:`sentiment_trend` — the same per week or month;
* :func:`aspect_table` — per aspect: mentions, share positive / negative and a
  representative positive and negative sentence;
* :func:`summaries` — extractive "what customers say" per product / category / segment;
* :func:`segment_aspects` — segment × aspect table (how each segment feels about price …);
* :func:`review_detail` — one review with the sentences that drove each aspect;
* :func:`filter_scores` — product, category, segment, rating, dates, sentiment, aspect.

Topics live in :mod:`.topics`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from .aspects import NEUTRAL_BAND, AspectExtractor, clean_expr
from .errors import ShopperError
from .sentiment import (
    ModelChoice,
    analyse_documents,
    choose_model,
    labels_from_scores,
    learned_scores,
    transformer_scores,
)

if TYPE_CHECKING:
    from .cache import ArtifactCache
    from .workspace import Workspace

__all__ = [
    "SCORES_VERSION",
    "SENTIMENTS",
    "ReviewScores",
    "SentimentMix",
    "ReviewDetail",
    "load_reviews",
    "score_frame",
    "score_reviews",
    "sentiment_mix",
    "sentiment_trend",
    "aspect_table",
    "summaries",
    "segment_aspects",
    "review_detail",
    "filter_scores",
    "central_sentences",
]

#: Bump when scoring changes: cached scores of older versions are ignored.
SCORES_VERSION = 1
SENTIMENTS = ("positive", "neutral", "negative")
#: Relevance bonus in summaries for sentences that mention an aspect (they say something concrete).
ASPECT_BOOST = 0.1
ProgressFn = Callable[[str, float | None], None]
Aspects = Mapping[str, Iterable[str]] | None | Literal[False]

_MENTION_SCHEMA = {"review_id": pl.String, "aspect": pl.String, "sentiment": pl.String, "score": pl.Float64,
                   "sentence_index": pl.Int32, "start": pl.Int32, "end": pl.Int32, "keyword": pl.String}


@dataclass(frozen=True)
class ReviewScores:
    """Scored reviews.

    Attributes:
        scores: One row per review: review_id, product_id, product_name, category, customer_id, ts, rating,
            title, document (cleaned title line + body, what was analysed), sentiment,
            score (−1…1), aspects ("price:negative; quality:positive").
        mentions: One row per aspect mention: review_id, aspect, sentiment, score,
            sentence_index, start, end (character span of the sentence in ``document``),
            keyword, sentence.
        choice: The model used and why.
        aspects: Aspect names in display order.
        cached: True when both scores and mentions came from the cache.
    """

    scores: pl.DataFrame
    mentions: pl.DataFrame
    choice: ModelChoice
    aspects: tuple[str, ...]
    cached: bool = False

    def export(self) -> pl.DataFrame:
        """The ``review_scores`` table: review_id, rating, sentiment, score, aspects."""
        return self.scores.select("review_id", "rating", "sentiment", pl.col("score").round(4), "aspects")

    def export_records(self) -> list[dict[str, Any]]:
        """:meth:`export` as JSON-ready rows, aspects as {aspect: sentiment}."""
        per = (self.mentions.group_by("review_id", "aspect").agg(pl.col("score").mean())
               .with_columns(pl.col("score").map_batches(_labels, return_dtype=pl.String).alias("sentiment")))
        lookup: dict[str, dict[str, str]] = {}
        rows = per.select("review_id", "aspect", "sentiment").sort("review_id", "aspect").iter_rows()
        for rid, aspect, label in rows:
            lookup.setdefault(rid, {})[aspect] = label
        return [{**row, "aspects": lookup.get(row["review_id"], {})}
                for row in self.export().drop("aspects").to_dicts()]


def _labels(s: pl.Series, band: float = NEUTRAL_BAND) -> pl.Series:
    return pl.Series(labels_from_scores(s.fill_null(0.0).to_numpy(), band=band), dtype=pl.String)


# -- loading and scoring ------------------------------------------------------------------
def load_reviews(ws: Workspace) -> pl.DataFrame:
    """The reviews table with each product's category (and name).

    Raises:
        ShopperError: The workspace has no reviews.
    """
    if not ws.has_rows("reviews"):
        raise ShopperError(
            f"Workspace '{ws.name}' has no reviews.",
            hint="Add a reviews.csv / reviews.parquet (review_id, product_id, text; rating, ts, customer_id, title "
                 "optional) to the source folder, or a 'reviews' collection in MongoDB, and import again.",
        )
    return ws.sql(
        "SELECT r.review_id, r.product_id, p.category, p.name AS product_name, r.customer_id, r.ts, r.rating, "
        "r.title, r.text FROM reviews r LEFT JOIN products p USING (product_id) ORDER BY r.review_id")


def _prepare(reviews: pl.DataFrame) -> pl.DataFrame:
    if "review_id" not in reviews.columns or "text" not in reviews.columns:
        raise ShopperError("Reviews need at least the columns review_id and text.")
    cols = {"product_id": pl.String, "product_name": pl.String, "category": pl.String, "customer_id": pl.String,
            "ts": pl.Datetime("us"), "rating": pl.Int8, "title": pl.String}
    frame = reviews.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in cols.items() if c not in reviews.columns])
    title = clean_expr(pl.col("title"))
    return frame.select(
        pl.col("review_id").cast(pl.String), pl.col("product_id").cast(pl.String),
        pl.col("product_name").cast(pl.String), pl.col("category").cast(pl.String),
        pl.col("customer_id").cast(pl.String), pl.col("ts"), pl.col("rating").cast(pl.Int8, strict=False),
        pl.col("title").cast(pl.String),
        pl.when(title != "").then(pl.concat_str([title, clean_expr(pl.col("text"))], separator="\n"))
        .otherwise(clean_expr(pl.col("text"))).alias("document"),
    )


def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:10]


def score_frame(
    reviews: pl.DataFrame,
    *,
    model: str = "auto",
    aspects: Aspects = None,
    cache: ArtifactCache | None = None,
    hf_model_dir: Path | str | None = None,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> ReviewScores:
    """Score a reviews frame (canonical columns; ``category`` optional).

    Args:
        reviews: review_id and text required; title, rating, product_id, customer_id, ts,
            category used when present.
        model: "auto", "vader", "learned" or "transformer".
        aspects: Extra user aspects (aspect → keywords) merged with the defaults; ``False``
            skips aspect extraction.
        cache: Where to keep the learned model, scores and mentions (per data fingerprint).
        hf_model_dir: A local Hugging Face sequence-classification folder used by
            ``transformer`` instead of MiniLM embeddings + classifier.
        progress: ``progress(step, fraction)`` between chunks; may raise ``Cancelled``.
        workers: Processes for VADER / aspects (default: one per core on large sets).

    Raises:
        ShopperError: Unknown model, too few ratings to learn, transformer extra missing.
    """
    frame = _prepare(reviews)
    choice = choose_model(frame["rating"], model=model, hf_model_dir=hf_model_dir)
    extractor = None if aspects is False else AspectExtractor.with_defaults(aspects or None)
    docs = frame["document"].to_list()
    model_key = choice.model + (f"-{_digest(str(Path(hf_model_dir).resolve()))}" if hf_model_dir and
                                choice.model == "transformer" else "")
    data_key = _digest(frame.height, frame["review_id"].hash(seed=1).sum(), frame["rating"].hash(seed=1).sum())
    s_key = f"reviews-sentiment-{model_key}-{data_key}"
    m_key = f"reviews-aspects-{extractor.config_key if extractor else 'none'}-{data_key}"
    sent = cache.load_frame(s_key, version=SCORES_VERSION) if cache else None
    ment = cache.load_frame(m_key, version=SCORES_VERSION) if cache and extractor else None
    cached = sent is not None and (ment is not None or extractor is None)
    need_vader = sent is None and choice.model == "vader"
    compounds = None
    if need_vader or (ment is None and extractor is not None):
        compounds, raw = analyse_documents(docs, extractor=extractor if ment is None else None,
                                           with_vader=need_vader, progress=progress, workers=workers)
        if ment is None and extractor is not None:
            ids = frame["review_id"]
            ment = raw.with_columns(review_id=ids.gather(raw["doc"])).select(list(_MENTION_SCHEMA))
            if cache:
                cache.save_frame(m_key, ment, version=SCORES_VERSION)
    if sent is None:
        if choice.model == "vader":
            scores = compounds
        elif choice.model == "learned":
            scores = learned_scores(docs, frame["rating"], cache=cache, key=f"reviews-learned-model-{data_key}",
                                    version=SCORES_VERSION, progress=progress)
        else:
            scores = transformer_scores(docs, frame["rating"], hf_model_dir=hf_model_dir, progress=progress)
        blank = (frame["document"].str.strip_chars() == "").to_numpy()
        scores = np.where(blank, 0.0, np.round(np.asarray(scores, dtype=float), 4))  # nothing said: neutral
        sent = pl.DataFrame({"review_id": frame["review_id"], "score": scores})
        if cache:
            cache.save_frame(s_key, sent, version=SCORES_VERSION)
    if ment is None:
        ment = pl.DataFrame(schema=_MENTION_SCHEMA)
    return _assemble(frame, sent, ment, choice, extractor, cached=cached)


def _assemble(frame: pl.DataFrame, sent: pl.DataFrame, ment: pl.DataFrame, choice: ModelChoice,
              extractor: AspectExtractor | None, *, cached: bool) -> ReviewScores:
    per_review = (
        ment.group_by("review_id", "aspect").agg(pl.col("score").mean())
        .with_columns(pl.col("score").map_batches(_labels, return_dtype=pl.String).alias("label"))
        .sort("review_id", "aspect")
        .group_by("review_id", maintain_order=True)
        .agg(pl.concat_str(["aspect", "label"], separator=":").str.join("; ").alias("aspects"))
    )
    scores = (
        frame.join(sent, on="review_id", how="left")
        .with_columns(pl.col("score").fill_null(0.0))
        .with_columns(pl.col("score").map_batches(_labels, return_dtype=pl.String).alias("sentiment"))
        .join(per_review, on="review_id", how="left")
        .with_columns(pl.col("aspects").fill_null(""))
    )
    docs = scores.select("review_id", "document")
    ment = ment.join(docs, on="review_id", how="left").with_columns(
        sentence=pl.col("document").str.slice(pl.col("start"), pl.col("end") - pl.col("start"))).drop("document")
    names = tuple(extractor.aspects) if extractor else ()
    return ReviewScores(scores, ment, choice, names, cached)


def score_reviews(
    ws: Workspace,
    *,
    model: str = "auto",
    aspects: Aspects = None,
    cache: ArtifactCache | None = None,
    hf_model_dir: Path | str | None = None,
    progress: ProgressFn | None = None,
) -> ReviewScores:
    """Score every review of the workspace (see :func:`score_frame`), cached per fingerprint."""
    return score_frame(load_reviews(ws), model=model, aspects=aspects, cache=cache, hf_model_dir=hf_model_dir,
                       progress=progress)


# -- views -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentimentMix:
    """Overall sentiment: counts, shares (0–1), averages, and the model that scored it."""

    reviews: int
    rated: int
    average_rating: float | None
    positive: int
    neutral: int
    negative: int
    share_positive: float
    share_neutral: float
    share_negative: float
    average_score: float
    model: str
    reason: str


def sentiment_mix(rs: ReviewScores) -> SentimentMix:
    s = rs.scores
    n = s.height
    counts = {k: int((s["sentiment"] == k).sum()) for k in SENTIMENTS}
    avg_rating = s["rating"].cast(pl.Float64).mean()
    return SentimentMix(
        reviews=n, rated=int(s["rating"].is_not_null().sum()),
        average_rating=round(float(avg_rating), 3) if avg_rating is not None else None,
        **counts, **{f"share_{k}": (counts[k] / n if n else 0.0) for k in SENTIMENTS},
        average_score=round(float(s["score"].mean() or 0.0), 4), model=rs.choice.model, reason=rs.choice.reason)


def _share_columns() -> list[pl.Expr]:
    return [
        pl.len().alias("reviews"),
        *[(pl.col("sentiment") == k).sum().alias(k) for k in SENTIMENTS],
        *[(pl.col("sentiment") == k).mean().alias(f"share_{k}") for k in SENTIMENTS],
        pl.col("score").mean().round(4).alias("average_score"),
        pl.col("rating").cast(pl.Float64).mean().round(3).alias("average_rating"),
    ]


def sentiment_trend(rs: ReviewScores, *, freq: Literal["week", "month"] = "month",
                    by: str | None = None) -> pl.DataFrame:
    """Sentiment per week (starting Monday) or calendar month, optionally per ``by`` column.

    Returns:
        period, [by], reviews, positive, neutral, negative, share_positive, share_neutral,
        share_negative, net (share_positive − share_negative), average_score,
        average_rating; sorted by period. Reviews without a date are left out.
    """
    if freq not in ("week", "month"):
        raise ShopperError(f"Trend granularity '{freq}' is not supported; use week or month.")
    every = "1w" if freq == "week" else "1mo"
    keys = ["period", *([by] if by else [])]
    return (
        rs.scores.filter(pl.col("ts").is_not_null())
        .with_columns(period=pl.col("ts").dt.truncate(every).dt.date())
        .group_by(keys).agg(_share_columns())
        .with_columns(net=(pl.col("share_positive") - pl.col("share_negative")).round(4))
        .sort(keys)
    )


def central_sentences(sentences: list[str], k: int = 1, *, diversity: float = 0.3,
                      background: list[str] | None = None, contrast: float = 0.5,
                      boost: list[float] | None = None) -> list[int]:
    """Indices of the ``k`` most representative sentences.

    Relevance = TF-IDF cosine to the centroid of ``sentences`` − ``contrast`` × cosine to
    the centroid of ``background`` (sentences of all groups: what everyone says anyway
    ranks lower) + ``boost``; later picks are penalised for similarity to earlier ones
    (maximal marginal relevance with weight ``diversity``).
    """
    if not sentences or k <= 0:
        return []
    if len(sentences) == 1:
        return [0]
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    try:
        vec.fit(sentences + (background or []))
    except ValueError:  # only stop words / no tokens
        return list(range(min(k, len(sentences))))
    X = vec.transform(sentences)

    def cos_to_centroid(M) -> np.ndarray:
        c = np.asarray(M.mean(axis=0)).ravel()
        return np.asarray(X @ c).ravel() / (np.linalg.norm(c) or 1.0)

    relevance = cos_to_centroid(X)
    if background:
        relevance = relevance - contrast * cos_to_centroid(vec.transform(background))
    if boost is not None:
        relevance = relevance + np.asarray(boost, dtype=float)
    chosen: list[int] = []
    sim_to_chosen = np.zeros(len(sentences))
    for _ in range(min(k, len(sentences))):
        value = (1 - diversity) * relevance - diversity * sim_to_chosen
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        sim_to_chosen = np.maximum(sim_to_chosen, (X @ X[best].T).toarray().ravel())
    return chosen


def _pick(candidates: pl.DataFrame, column: str, k: int = 1, cap: int = 400, seed: int = 0,
          background: list[str] | None = None, boost: str | None = None) -> list[str]:
    if candidates.is_empty() or k <= 0:
        return []
    if candidates.height > cap:
        candidates = candidates.sample(cap, seed=seed)
    short = candidates.filter(pl.col(column).str.len_chars().is_between(12, 240))
    pool = short if not short.is_empty() else candidates
    texts = pool[column].to_list()
    weights = pool[boost].cast(pl.Float64).to_list() if boost else None
    return [texts[i] for i in central_sentences(texts, k, background=background, boost=weights)]


def aspect_table(rs: ReviewScores, *, examples: bool = True) -> pl.DataFrame:
    """Per aspect: mentions, reviews mentioning it, sentiment shares and example sentences.

    Returns:
        aspect, mentions, reviews, mention_rate (reviews mentioning / all reviews),
        positive, neutral, negative, share_positive, share_negative, net, average_score,
        positive_example, negative_example (representative sentences, "" when none);
        every configured aspect, in configuration order.
    """
    n = max(rs.scores.height, 1)
    m = rs.mentions
    stats = m.group_by("aspect").agg(
        pl.len().alias("mentions"), pl.col("review_id").n_unique().alias("reviews"),
        *[(pl.col("sentiment") == k).sum().alias(k) for k in SENTIMENTS],
        *[(pl.col("sentiment") == k).mean().round(4).alias(f"share_{k}") for k in ("positive", "negative")],
        pl.col("score").mean().round(4).alias("average_score"),
    )
    names = list(rs.aspects) + sorted(set(stats["aspect"].to_list()) - set(rs.aspects))
    table = (pl.DataFrame({"aspect": names, "_order": list(range(len(names)))}, schema={"aspect": pl.String,
             "_order": pl.Int64}).join(stats, on="aspect", how="left").sort("_order").drop("_order")
             .with_columns(pl.col("mentions", "reviews", *SENTIMENTS).fill_null(0))
             .with_columns(mention_rate=(pl.col("reviews") / n).round(4),
                           net=(pl.col("share_positive") - pl.col("share_negative")).round(4)))
    if examples:
        pos, neg = [], []
        for aspect in names:
            sub = m.filter(pl.col("aspect") == aspect)
            pos.append(next(iter(_pick(sub.filter(pl.col("sentiment") == "positive"), "sentence")), ""))
            neg.append(next(iter(_pick(sub.filter(pl.col("sentiment") == "negative"), "sentence")), ""))
        table = table.with_columns(positive_example=pl.Series(pos, dtype=pl.String),
                                   negative_example=pl.Series(neg, dtype=pl.String))
    return table.select("aspect", "mentions", "reviews", "mention_rate", *SENTIMENTS, "share_positive",
                        "share_negative", "net", "average_score",
                        *(["positive_example", "negative_example"] if examples else []))


def _with_segments(scores: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    if "customer_id" not in labels.columns or "segment_id" not in labels.columns:
        raise ShopperError("Segment labels need the columns customer_id and segment_id (segment optional).")
    lab = labels.select(
        pl.col("customer_id").cast(pl.String), pl.col("segment_id"),
        (pl.col("segment") if "segment" in labels.columns else pl.col("segment_id")).cast(pl.String).alias("segment"))
    return scores.join(lab, on="customer_id", how="inner")


def summaries(rs: ReviewScores, *, by: Literal["product", "category", "segment", "all"] = "product",
              labels: pl.DataFrame | None = None, sentences: int = 3, min_reviews: int = 1,
              limit: int | None = 200, seed: int = 0) -> pl.DataFrame:
    """Extractive "what customers say" per product, category, segment or overall.

    Definition: candidate sentences (≥ 3 words) come from the group's reviews; each is
    labelled with its aspect mention's sentiment when it has one, else with its review's.
    The summary takes ``sentences`` of them in proportion to the group's positive and
    negative shares (at least one negative when ≥ 20 % of reviews are negative), each the
    most representative among up to 300 sampled candidates (:func:`central_sentences`:
    close to the group's sentences, far from what all groups say, a bonus for sentences
    that mention an aspect, MMR for variety). Only the ``limit`` groups with the most
    reviews are summarised (``None``: all).

    Returns:
        group, reviews, average_rating, share_positive, share_negative, summary (joined
        text), sentences (list); sorted by reviews descending.
    """
    key = {"product": "product_id", "category": "category", "segment": "segment", "all": None}.get(by, "?")
    if key == "?":
        raise ShopperError(f"Summaries by '{by}' are not supported; use product, category, segment or all.")
    scores = rs.scores
    if by == "segment":
        if labels is None:
            raise ShopperError("Summaries by segment need segment labels (customer_id → segment_id).")
        scores = _with_segments(scores, labels)
    scores = scores.with_columns(group=pl.col(key).cast(pl.String) if key else pl.lit("all"))
    scores = scores.filter(pl.col("group").is_not_null())
    stats = (scores.group_by("group").agg(_share_columns()).filter(pl.col("reviews") >= min_reviews)
             .sort(["reviews", "group"], descending=[True, False]))
    mention_label = rs.mentions.group_by("review_id", "sentence").agg(pl.col("sentiment").first().alias("m_label"))
    cand = (
        scores.select("group", "review_id", "sentiment", "document")
        .with_columns(sentence=pl.col("document").str.extract_all(r"[^.!?\n]+[.!?]*")).drop("document")
        .explode("sentence").with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").str.count_matches(r"\b\w+\b") >= 3)
        .join(mention_label, on=["review_id", "sentence"], how="left")
        .with_columns(label=pl.coalesce("m_label", "sentiment"),
                      boost=pl.when(pl.col("m_label").is_not_null()).then(ASPECT_BOOST).otherwise(0.0))
    )
    stats = stats.head(limit) if limit else stats
    background = (None if key is None or cand.height == 0 else
                  cand.sample(min(cand.height, 400), seed=seed)["sentence"].to_list())
    by_group = cand.partition_by("group", as_dict=True)
    out_sentences: list[list[str]] = []
    for group, share_neg in stats.select("group", "share_negative").iter_rows():
        c = by_group.get((group,), pl.DataFrame(schema=cand.schema))
        n_neg = min(sentences, round(sentences * share_neg) or (1 if share_neg >= 0.2 and sentences > 1 else 0))
        pick = lambda frame, k: _pick(frame, "sentence", k, 300, seed, background, "boost")  # noqa: E731
        picked = (pick(c.filter(pl.col("label") == "positive"), sentences - n_neg)
                  + pick(c.filter(pl.col("label") == "negative"), n_neg))
        if len(picked) < sentences:
            picked += [s for s in pick(c, sentences) if s not in picked][:sentences - len(picked)]
        out_sentences.append(picked)
    return stats.select(
        "group", "reviews", "average_rating", pl.col("share_positive").round(4), pl.col("share_negative").round(4),
    ).with_columns(summary=pl.Series([" ".join(s) for s in out_sentences], dtype=pl.String),
                   sentences=pl.Series(out_sentences, dtype=pl.List(pl.String)))


def segment_aspects(rs: ReviewScores, labels: pl.DataFrame) -> pl.DataFrame:
    """How each segment feels about each aspect.

    Args:
        labels: customer_id → segment_id (and optionally ``segment``, its name).

    Returns:
        segment_id, segment, aspect, segment_reviews, mentions, positive, negative,
        share_positive, share_negative (of the segment's mentions of the aspect),
        negative_rate (negative mentions per review of the segment),
        negative_index (100 × negative_rate / the rate among all labelled reviewers);
        every segment × aspect, sorted by segment_id then aspect order.
    """
    scored = _with_segments(rs.scores.select("review_id", "customer_id"), labels)
    seg_reviews = scored.group_by("segment_id", "segment").agg(pl.len().alias("segment_reviews"))
    m = rs.mentions.join(scored.select("review_id", "segment_id"), on="review_id", how="inner")
    per = m.group_by("segment_id", "aspect").agg(
        pl.len().alias("mentions"), (pl.col("sentiment") == "positive").sum().alias("positive"),
        (pl.col("sentiment") == "negative").sum().alias("negative"))
    overall = (m.filter(pl.col("sentiment") == "negative").group_by("aspect").len("all_negative")
               .with_columns(all_rate=pl.col("all_negative") / max(scored.height, 1)))
    names = list(rs.aspects) + sorted(set(m["aspect"].unique().to_list()) - set(rs.aspects))
    grid = seg_reviews.join(pl.DataFrame({"aspect": names, "_order": list(range(len(names)))},
                                         schema={"aspect": pl.String, "_order": pl.Int64}), how="cross")
    return (
        grid.join(per, on=["segment_id", "aspect"], how="left").join(overall, on="aspect", how="left")
        .with_columns(pl.col("mentions", "positive", "negative").fill_null(0))
        .with_columns(
            share_positive=pl.when(pl.col("mentions") > 0).then(pl.col("positive") / pl.col("mentions")).round(4),
            share_negative=pl.when(pl.col("mentions") > 0).then(pl.col("negative") / pl.col("mentions")).round(4),
            negative_rate=(pl.col("negative") / pl.col("segment_reviews")).round(4))
        .with_columns(negative_index=pl.when(pl.col("all_rate") > 0)
                      .then(100 * pl.col("negative") / pl.col("segment_reviews") / pl.col("all_rate")).round(1))
        .sort("segment_id", "_order")
        .select("segment_id", "segment", "aspect", "segment_reviews", "mentions", "positive", "negative",
                "share_positive", "share_negative", "negative_rate", "negative_index")
    )


@dataclass(frozen=True)
class ReviewDetail:
    """One review for the detail view.

    Attributes:
        document: The analysed text (title line, then body); mention spans index into it.
        mentions: aspect, sentiment, score, start, end, sentence, keyword — the sentences
            that drove each aspect, in order.
    """

    review_id: str
    product_id: str | None
    customer_id: str | None
    ts: datetime | None
    rating: int | None
    title: str | None
    document: str
    sentiment: str
    score: float
    model: str
    mentions: list[dict[str, Any]]


def review_detail(rs: ReviewScores, review_id: str) -> ReviewDetail:
    """The review ``review_id`` with its aspect mentions.

    Raises:
        ShopperError: No such review.
    """
    row = rs.scores.filter(pl.col("review_id") == str(review_id))
    if row.is_empty():
        raise ShopperError(f"No review with id '{review_id}'.")
    r = row.row(0, named=True)
    mentions = (rs.mentions.filter(pl.col("review_id") == str(review_id)).sort("start", "aspect")
                .select("aspect", "sentiment", "score", "start", "end", "sentence", "keyword").to_dicts())
    return ReviewDetail(r["review_id"], r["product_id"], r["customer_id"], r["ts"], r["rating"], r["title"],
                        r["document"], r["sentiment"], float(r["score"]), rs.choice.model, mentions)


def filter_scores(
    rs: ReviewScores,
    *,
    product: str | Iterable[str] | None = None,
    category: str | Iterable[str] | None = None,
    segment: object | None = None,
    labels: pl.DataFrame | None = None,
    rating: int | tuple[int, int] | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    sentiment: str | None = None,
    aspect: str | None = None,
    aspect_sentiment: str | None = None,
) -> ReviewScores:
    """The subset of reviews matching every filter given (mentions filtered alike).

    ``rating`` is one star value or an inclusive (low, high) range; ``until`` is inclusive
    (a date means up to the end of that day); ``segment`` matches segment_id or segment
    name in ``labels``; ``aspect`` keeps reviews mentioning it (with ``aspect_sentiment``:
    only mentions of that sentiment).
    """
    s = rs.scores
    as_list = lambda v: [v] if isinstance(v, str) else list(v)  # noqa: E731
    if product is not None:
        s = s.filter(pl.col("product_id").is_in(as_list(product)))
    if category is not None:
        s = s.filter(pl.col("category").is_in(as_list(category)))
    if segment is not None:
        if labels is None:
            raise ShopperError("Filtering by segment needs segment labels.")
        seg = _with_segments(s.select("review_id", "customer_id"), labels).filter(
            (pl.col("segment_id").cast(pl.String) == str(segment)) | (pl.col("segment") == str(segment)))
        s = s.filter(pl.col("review_id").is_in(seg["review_id"].implode()))
    if rating is not None:
        lo, hi = (rating, rating) if isinstance(rating, int) else rating
        s = s.filter(pl.col("rating").is_between(lo, hi))
    if since is not None:
        s = s.filter(pl.col("ts") >= _as_datetime(since))
    if until is not None:
        # a date includes its whole day
        s = s.filter(pl.col("ts") < _as_datetime(until) + timedelta(days=1) if type(until) is date
                     else pl.col("ts") <= until)
    if sentiment is not None:
        s = s.filter(pl.col("sentiment") == sentiment)
    m = rs.mentions
    if aspect is not None:
        hits = m.filter(pl.col("aspect") == aspect)
        if aspect_sentiment is not None:
            hits = hits.filter(pl.col("sentiment") == aspect_sentiment)
        s = s.filter(pl.col("review_id").is_in(hits["review_id"].unique().implode()))
    m = m.filter(pl.col("review_id").is_in(s["review_id"].implode()))
    return replace(rs, scores=s, mentions=m)


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
