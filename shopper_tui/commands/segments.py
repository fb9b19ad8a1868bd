"""`shopper-tui segments` and `shopper-tui rfm`: the Segments screen's numbers, headless.

``segments`` uses the same cached segmentation as the app (:func:`shopper_tui.models.cached_segmentation`),
so a run after the app (or the app after a run) does not train again.
``rfm --definition lifetimes --format csv`` writes exactly customer_id, frequency, recency,
T, monetary_value — the columns of ``lifetimes.utils.summary_data_from_transaction_data``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import DEFAULT_METHOD, add_format_options, emit, note_guests, open_for

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("segments", help="segment customers (RFM grid, K-Means, HDBSCAN, GMM) with personas")
    p.add_argument("--method", choices=("rfm", "kmeans", "hdbscan", "gmm"), default=DEFAULT_METHOD)
    p.add_argument("--features", choices=("both", "rfm", "behavioural"), default="both",
                   help="what the clustering sees (ignored by the RFM grid)")
    p.add_argument("--k", type=int, default=None, help="number of segments (K-Means, GMM); default: by silhouette")
    p.add_argument("--customers", action="store_true",
                   help="one row per customer (customer_id, segment_id, segment, probability) instead")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_segments)

    p = sub.add_parser("rfm", help="per-customer recency, frequency, monetary value")
    p.add_argument("--definition", choices=("lifetimes", "marketing"), default="marketing",
                   help="lifetimes: frequency, recency, T, monetary_value (= lifetimes' summary_data_from_"
                        "transaction_data, freq D); marketing: days since last purchase, orders, spend, scores, grid")
    p.add_argument("--observation-end", help="reference date YYYY-MM-DD (default: the latest purchase)")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_rfm)


def _segments(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.errors import ShopperError
    from ..analytics.personas import insights
    from ..config import Settings
    from ..models import SegmentChoice, cached_segmentation, segment_labels

    if args.k is not None and args.method in ("rfm", "hdbscan"):
        raise ShopperError(f"--k applies to kmeans and gmm, not {args.method}.")
    if args.k is not None and args.k < 2:
        raise ShopperError("--k must be at least 2.")
    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    choice = SegmentChoice(args.method, "rfm" if args.method == "rfm" else args.features, args.k)
    with open_for(args) as ws:
        result = cached_segmentation(ws, settings, choice)
        if args.customers:
            emit(segment_labels(result), args)
            return 0
        notes = insights(result, ws)
    said = notes.group_by("segment_id", maintain_order=True).agg(pl.col("text").alias("insights"))
    frame = (
        result.segments.join(said, on="segment_id", how="left")
        .with_columns(pl.col("insights").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    )
    if args.format == "json":
        records = {
            "method": result.method, "features": result.features, "k": result.k,
            "silhouette": [{"k": k, "silhouette": s} for k, s in result.silhouette],
            "notes": result.notes, "segments": frame.to_dicts(),
        }
        emit(frame, args, json_records=records)
        return 0
    flat = frame.with_columns(
        pl.col("top_categories").list.join(", "), pl.col("insights").list.join(" | "),
        pl.col("share").round(4), pl.col("revenue_share").round(4), pl.col("mean_recency_days").round(1),
        pl.col("mean_orders").round(2), pl.col("mean_spend").round(2),
    )
    if args.format == "table":
        flat = flat.drop("insights", "persona")
    emit(flat, args)
    return 0


def _rfm(args: argparse.Namespace) -> int:
    from ..analytics.rfm import purchases, rfm_lifetimes, rfm_marketing

    with open_for(args) as ws:
        bought = purchases(ws)
        note_guests(ws)
    if args.definition == "lifetimes":
        frame = rfm_lifetimes(bought, observation_end=args.observation_end)
    else:
        frame = rfm_marketing(bought, observation_end=args.observation_end)
    emit(frame, args)
    return 0
