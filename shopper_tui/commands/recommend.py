"""`shopper-tui recommend` and `shopper-tui evaluate`: the Recommendations screen's numbers,
headless. Fitted models are cached (by data fingerprint) in the cache folder, so a second
run answers in well under a second."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import DEFAULT_METHOD, add_format_options, emit, emit_more, labels_for, open_for

__all__ = ["register"]

_SEGMENTS = ("none", "rfm", "kmeans", "hdbscan", "gmm")


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("recommend", help="top products for one customer, with the reasons and each signal's share")
    p.add_argument("customer_id", metavar="CUSTOMER_ID", help="customer id (an unknown id gets cold-start picks)")
    p.add_argument("--n", type=int, default=10, help="how many products (default 10)")
    p.add_argument("--explain", action="store_true", help="add each product's reasons and signal shares")
    p.add_argument("--session", help="comma-separated product ids viewed in a live session (re-scores, no retraining)")
    p.add_argument("--include-purchased", action="store_true", help="also recommend products already bought")
    p.add_argument("--segments", choices=_SEGMENTS, default=DEFAULT_METHOD,
                   help="segmentation for the 'popular in your segment' signal (default: the app's, "
                        f"{DEFAULT_METHOD}; none = overall popularity)")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_recommend)

    p = sub.add_parser("evaluate", help="offline precision/recall/NDCG/MAP@k, coverage and novelty per recommender")
    p.add_argument("--k", type=int, default=10, help="cut-off (default 10)")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of each customer's latest interactions held out (default 0.2)")
    p.add_argument("--days", type=int, help="hold out the last N days instead of a fraction per customer")
    p.add_argument("--segments", choices=_SEGMENTS, default=DEFAULT_METHOD,
                   help="segmentation for the segment signal (labels come from the full history; default the "
                        f"app's, {DEFAULT_METHOD}; none = overall popularity)")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_evaluate)


def _cache(args: argparse.Namespace, ws):
    from ..analytics.cache import ArtifactCache
    from ..config import Settings

    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    return ArtifactCache(settings.cache_dir, ws.name, ws.fingerprint)


def _recommend(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.recommend import fit_recommender, recommend

    session = [s.strip() for s in (args.session or "").split(",") if s.strip()]
    with open_for(args) as ws:
        model = fit_recommender(ws, labels=labels_for(ws, args, args.segments), cache=_cache(args, ws))
        recs = recommend(model, args.customer_id, n=args.n, session=session, include_purchased=args.include_purchased)
    print(f"{args.customer_id}: {recs.note}", file=sys.stderr)
    frame = recs.items.with_columns(pl.col("score").round(4))
    shares = [c for c in frame.columns if c.startswith("share_")]
    if args.format == "json":
        table = frame if args.explain else frame.drop("reasons", "why", *shares)
        emit(table, args, json_records={"customer_id": recs.customer_id, "cold_start": recs.cold_start,
                                        "signals": list(recs.signals), "note": recs.note, "items": table.to_dicts()})
    elif args.format == "csv":
        emit(frame.drop("reasons") if args.explain else frame.drop("reasons", "why", *shares), args)
    else:
        emit(frame.drop("reasons", "why", *shares), args)
        if args.explain:  # the table would cut long reasons: one full line per product instead
            lines = [f"{r['rank']:>3}. {r['name'] or r['product_id']}: {r['why']}" for r in frame.iter_rows(named=True)]
            emit_more("\nwhy:\n" + "\n".join(lines) + "\n", args)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.rec_eval import evaluate

    with open_for(args) as ws:
        frame = evaluate(ws, k=args.k, holdout=args.holdout, days=args.days, labels=labels_for(ws, args, args.segments),
                         cache=_cache(args, ws))
    if args.format == "table":
        frame = frame.with_columns(pl.col("precision", "recall", "ndcg", "map", "coverage", "novelty").round(4))
    emit(frame, args)
    return 0
