"""`shopper-tui reviews` and `shopper-tui score-reviews`: the Reviews screen's numbers, headless."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from . import DEFAULT_METHOD, add_format_options, emit, labels_for, open_for

__all__ = ["register"]

_MODELS = ("auto", "vader", "learned", "transformer")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=_MODELS, default=None,
                   help="sentiment model (default: the sentiment_model setting, else auto): auto (learned when ≥ 200 rated reviews per side, else vader), vader, "
                        "learned (TF-IDF + logistic regression on the data's own ratings), transformer (nlp extra)")
    p.add_argument("--hf-model", type=Path, default=None,
                   help="local Hugging Face sentiment-classification folder for --model transformer "
                        "(default: the hf_model_dir setting, env SHOPPER_TUI_HF_MODEL_DIR)")
    p.add_argument("--aspect", action="append", default=[], metavar="NAME=WORD,WORD",
                   help="an extra aspect and its keywords, e.g. --aspect colour=colour,color,shade (repeatable)")


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("reviews", help="review sentiment by aspect, topic or segment")
    p.add_argument("--product", help="only this product's reviews (product_id)")
    p.add_argument("--by", choices=("aspect", "topic", "segment"), default="aspect",
                   help="aspect table (default), LDA topics, or segment × aspect")
    p.add_argument("--method", choices=("rfm", "kmeans", "hdbscan", "gmm"), default=DEFAULT_METHOD,
                   help="segmentation for --by segment")
    _model_options(p)
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_reviews)

    p = sub.add_parser("score-reviews",
                       help="per-review sentiment scores (review_id, rating, sentiment, score, aspects)")
    _model_options(p)
    add_format_options(p)
    p.set_defaults(format="csv")
    common(p)
    p.set_defaults(handler=_score_reviews)


def _score(ws, args: argparse.Namespace, *, quiet: bool = False):
    from ..analytics.cache import ArtifactCache
    from ..analytics.reviews import score_reviews
    from ..config import Settings

    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    hf = args.hf_model or settings.hf_model_dir
    cache = ArtifactCache(settings.cache_dir, ws.name, ws.fingerprint)
    aspects = {name: list(words) for name, words in settings.aspects.items()}
    for name, words in (_aspects(args.aspect) or {}).items():
        aspects.setdefault(name, []).extend(words)
    rs = score_reviews(ws, model=args.model or settings.sentiment_model, aspects=aspects or None, cache=cache,
                       hf_model_dir=Path(hf).expanduser() if hf else None)
    if not quiet:
        print(f"model: {rs.choice.model} — {rs.choice.reason}" + (" (cached)" if rs.cached else ""), file=sys.stderr)
    return rs, cache


def _aspects(specs: list[str]) -> dict[str, list[str]] | None:
    from ..analytics.errors import ShopperError

    out: dict[str, list[str]] = {}
    for spec in specs:
        name, _, words = spec.partition("=")
        keywords = [w.strip() for w in words.split(",") if w.strip()]
        if not name.strip() or not keywords:
            raise ShopperError(f"--aspect '{spec}' is not NAME=WORD,WORD (e.g. colour=colour,color,shade).")
        out.setdefault(name.strip().lower(), []).extend(keywords)
    return out or None


def _reviews(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.errors import ShopperError
    from ..analytics.reviews import (
        aspect_table,
        filter_scores,
        segment_aspects,
        sentiment_mix,
    )

    with open_for(args) as ws:
        rs, cache = _score(ws, args)
        if args.product:
            rs = filter_scores(rs, product=args.product)
            if rs.scores.is_empty():
                raise ShopperError(f"No reviews for product '{args.product}'.")
        mix = sentiment_mix(rs)
        avg = f", average rating {mix.average_rating:.2f}" if mix.average_rating is not None else ""
        print(f"{mix.reviews:,} review{'' if mix.reviews == 1 else 's'}: {mix.share_positive:.0%} positive, {mix.share_neutral:.0%} neutral, "
              f"{mix.share_negative:.0%} negative{avg}", file=sys.stderr)
        if args.by == "aspect":
            emit(aspect_table(rs), args)
        elif args.by == "topic":
            from ..analytics.topics import review_topics

            topics = review_topics(rs, cache=cache).topics
            out = topics.with_columns(pl.col("top_words").list.join(", "))
            emit(out, args, json_records=topics.to_dicts() if args.format == "json" else None)
        else:
            table = segment_aspects(rs, labels_for(ws, args, args.method))
            if args.format == "table":
                wide = (table.pivot(on="aspect", index=["segment_id", "segment"], values="share_negative")
                        .sort("segment_id").drop("segment_id"))
                print("share of each segment's aspect mentions that are negative:", file=sys.stderr)
                emit(wide, args)
            else:
                emit(table, args)
    return 0


def _score_reviews(args: argparse.Namespace) -> int:
    with open_for(args) as ws:
        rs, _ = _score(ws, args)
    emit(rs.export(), args, json_records=rs.export_records() if args.format == "json" else None)
    return 0
