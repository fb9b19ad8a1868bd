"""`shopper-tui export-mongo`: write segments, per-customer features and recommendations back
to MongoDB (see :mod:`shopper_tui.analytics.writeback`), and record it in the audit log."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import DEFAULT_METHOD, open_for

__all__ = ["register"]

_METHODS = ("rfm", "kmeans", "hdbscan", "gmm")


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("export-mongo", help="write segments, user features and recommendations to MongoDB")
    p.add_argument("--uri", help="mongodb://…/dbname to write to (default: env SHOPPER_TUI_MONGODB_URI)")
    p.add_argument("--collections", default="segments,user_features,recommendations",
                   help="which collections to write (default: all three)")
    p.add_argument("--method", choices=_METHODS, default=DEFAULT_METHOD, help="segmentation whose results are written")
    p.add_argument("--top-n", type=int, default=10, help="recommendations per customer (default 10)")
    p.add_argument("--run-id", help="id stamped on every document (default: time + random suffix)")
    p.add_argument("--keep-stale", action="store_true",
                   help="keep documents of earlier runs that this run did not write")
    common(p)
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from ..analytics import audit
    from ..analytics.cache import ArtifactCache
    from ..analytics.errors import ShopperError
    from ..analytics.segmentation import segment
    from ..analytics.sources import mask_uri
    from ..analytics.writeback import (
        parse_collections,
        segment_frames,
        top_n_recommendations,
        write_back,
    )
    from ..config import Settings

    settings = Settings.from_env(data_dir=getattr(args, "data_dir", None), cache_dir=getattr(args, "cache_dir", None))
    uri = args.uri or settings.mongo_uri
    if not uri:
        raise ShopperError("export-mongo needs a MongoDB URI to write to.",
                           hint="Pass --uri mongodb://host/dbname or set SHOPPER_TUI_MONGODB_URI.")
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ShopperError(f"--uri must be a mongodb:// URI, not '{mask_uri(uri)}'.")
    wanted = parse_collections(args.collections)
    if args.top_n < 1:
        raise ShopperError(f"--top-n must be at least 1, not {args.top_n}.")
    tty = sys.stderr.isatty()

    def progress(step: str, fraction: float | None = None) -> None:
        if tty:
            print(f"\r  … {step}" + (f" {fraction:.0%}" if fraction is not None else "") + " " * 10,
                  end="", file=sys.stderr, flush=True)

    with open_for(args) as ws:
        print(f"Segmenting '{ws.name}' with {args.method} …", file=sys.stderr)
        result = segment(ws, method=args.method, progress=progress)
        segments, users = segment_frames(result)
        recs = None
        if "recommendations" in wanted:
            from ..analytics.recommend import fit_recommender

            labels = result.labels.join(result.segments.select("segment_id", segment="name"), on="segment_id")
            cache = ArtifactCache(settings.cache_dir, ws.name, ws.fingerprint)
            model = fit_recommender(ws, labels=labels, cache=cache, progress=progress)
            recs = top_n_recommendations(model, result.labels["customer_id"].to_list(), n=args.top_n, progress=progress)
        workspace, source = ws.name, ws.meta.get("source", "?")
    out = write_back(
        uri,
        segments=segments if "segments" in wanted else None,
        user_features=users if "user_features" in wanted else None,
        recommendations=recs,
        method=args.method,
        run_id=args.run_id,
        prune=not args.keep_stale,
        progress=progress,
    )
    if tty:
        print(file=sys.stderr)
    audit.record("write_back", data_dir=settings.data_dir, target=out.target, workspace=workspace, source=source,
                 method=args.method, run_id=out.run_id, rows=out.written, removed=out.removed)
    print(f"Wrote to {out.target} (run {out.run_id}) in {out.seconds:.1f} s")
    for collection, n in out.written.items():
        extra = f", {out.removed[collection]:,} stale removed" if out.removed.get(collection) else ""
        print(f"  {collection:<16} {n:>8,} documents{extra}; indexes: {', '.join(out.indexes.get(collection, []))}")
    return 0
