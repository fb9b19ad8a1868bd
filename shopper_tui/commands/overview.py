"""`shopper-tui overview`: the Overview screen's figures and the reconciliation, headless.

``--format json`` prints one object (:func:`shopper_tui.analytics.overview.overview_dict`):
orders, revenue, net_revenue, guest_orders, guest_revenue, charge_revenue, customers,
average_order_value, first_day, last_day, … and ``reconciliation``, a list of
``{kind, lines, value}`` whose lines add up to the lines read and whose value adds up to the
file's Σ quantity × unit price. ``table`` and ``csv`` print the figures as figure, value rows,
then the reconciliation.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import add_format_options, emit, emit_more, open_for

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("overview", help="the Overview's figures (revenue, orders, guests, charges) and the "
                                        "reconciliation with the source")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_overview)


def _overview(args: argparse.Namespace) -> int:
    import polars as pl

    from ..analytics.overview import kpis, overview_dict

    with open_for(args) as ws:
        k = kpis(ws)
    figures = overview_dict(k)
    if args.format == "json":
        emit(k.reconciliation.rows, args, json_records=figures)
        return 0
    flat = pl.DataFrame(
        {"figure": [name for name in figures if name != "reconciliation"],
         "value": ["" if v is None else str(v) for name, v in figures.items() if name != "reconciliation"]})
    emit(flat, args)
    if args.format == "csv":
        return 0
    emit_more("\n" + "\n".join(k.reconciliation.lines()) + "\n", args)
    return 0
