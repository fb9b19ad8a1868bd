"""`shopper-tui affinity` and `shopper-tui crosssell`: the Affinity screen's numbers, headless."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import DEFAULT_METHOD, add_format_options, emit, labels_for, open_for

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("affinity", help="segment × category (subcategory, brand) affinity")
    p.add_argument("--by", choices=("category", "subcategory", "brand"), default="category")
    p.add_argument("--metric", choices=("share", "index", "lift"), default="index",
                   help="share of the segment's spend, index vs all customers (100 = average), or lift")
    p.add_argument("--basis", choices=("purchases", "views", "carts"), default="purchases")
    p.add_argument("--method", choices=("rfm", "kmeans", "hdbscan", "gmm"), default=DEFAULT_METHOD, help="segmentation")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_affinity)

    p = sub.add_parser("crosssell", help="category→category or product→product rules (support, confidence, lift)")
    p.add_argument("--level", choices=("category", "product"), default="category")
    p.add_argument("--segment", help="only this segment's baskets (name or id, of --method)")
    p.add_argument("--method", choices=("rfm", "kmeans", "hdbscan", "gmm"), default=DEFAULT_METHOD, help="segmentation")
    p.add_argument("--min-support", type=float, default=None,
                   help="minimum pair support (default 0.01 for categories, 0.002 for products)")
    p.add_argument("--min-lift", type=float, default=None)
    p.add_argument("--antecedent", help="only rules starting from this item ('what do they buy with X?')")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_crosssell)


def _affinity(args: argparse.Namespace) -> int:
    import polars.selectors as cs

    from ..analytics.affinity import segment_affinity

    with open_for(args) as ws:
        labels = labels_for(ws, args, args.method)
        long = segment_affinity(ws, labels, by=args.by, basis=args.basis)
        if long.is_empty():
            from ..analytics.errors import ShopperError

            named = args.basis != "purchases" or not int(ws.sql("SELECT count(*) FROM purchases").item())
            raise ShopperError(
                f"No {args.basis} of known products to measure affinity on." if named else
                "The purchases name no products (amounts only), so there are no categories to measure affinity on.",
                hint="Affinity needs a product (stock code, sku) on each order line, or view / add_to_cart events.")
    if args.format == "table":
        wide = (long.pivot(on="item", index=["segment_id", "segment"], values=args.metric)
                .sort("segment_id").drop("segment_id"))
        wide = wide.with_columns(cs.numeric().round(2))
        emit(wide, args)
    else:
        emit(long.select("segment", "item", "share", "index", "penetration", "lift", "amount", "customers",
                         "segment_customers"), args)
    return 0


def _crosssell(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.affinity import pair_rules
    from ..analytics.errors import ShopperError

    with open_for(args) as ws:
        customers = None
        if args.segment is not None:
            labels = labels_for(ws, args, args.method)
            chosen = labels.filter((pl.col("segment").str.to_lowercase() == args.segment.lower())
                                   | (pl.col("segment_id").cast(pl.String) == args.segment))
            if chosen.is_empty():
                known = ", ".join(labels.get_column("segment").unique(maintain_order=True).to_list())
                raise ShopperError(f"No segment '{args.segment}' in the {args.method} segmentation.",
                                   hint=f"Segments: {known}.")
            customers = chosen.get_column("customer_id")
        support = args.min_support if args.min_support is not None else (0.01 if args.level == "category" else 0.002)
        rules = pair_rules(ws, level=args.level, min_support=support, min_lift=args.min_lift,
                           customers=customers, antecedent=args.antecedent)
    # csv / json keep exactly the rule columns (ids as in the source); the table adds names
    names = [c for c in ("antecedent_name", "consequent_name") if c in rules.columns and args.format == "table"]
    emit(rules.select("antecedent", "consequent", "support", "confidence", "lift", "conviction", "baskets", *names),
         args)
    if rules.is_empty():
        print(f"No pair of {args.level}s reaches support {support:g}"
              f"{' with lift ≥ ' + format(args.min_lift, 'g') if args.min_lift is not None else ''}; "
              "try a lower --min-support.", file=sys.stderr)
    return 0
