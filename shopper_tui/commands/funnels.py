"""`shopper-tui funnel`, `cohorts` and `experiments`: the Funnels, Cohorts and Experiments
screens' numbers, headless."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import DEFAULT_METHOD, add_format_options, emit, labels_for, note_guests, open_for

__all__ = ["register", "parse_proportion", "parse_plan"]

_STEPS = "view,add_to_cart,checkout,purchase"
_METHODS = ("rfm", "kmeans", "hdbscan", "gmm")


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("funnel", help="conversion funnel: step counts, conversion, drop-off, time to next step")
    p.add_argument("--steps", default=_STEPS, help=f"comma-separated event types in order (default {_STEPS})")
    p.add_argument("--by", choices=("segment", "device", "channel", "variant"), help="break down by")
    p.add_argument("--unit", choices=("session", "customer"), default="session", help="count sessions or customers")
    p.add_argument("--window", help="conversion window, e.g. 30m, 12h, 1d, 2w (default 1d sessions, 14d customers)")
    p.add_argument("--mode", choices=("ordered", "strict", "any"), default="ordered",
                   help="ordered: other events allowed between steps; strict: none; any: any order")
    p.add_argument("--experiment", help="with --by variant: only this experiment")
    p.add_argument("--method", choices=_METHODS, default=DEFAULT_METHOD, help="segmentation used by --by segment")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_funnel)

    p = sub.add_parser("cohorts", help="cohort retention triangle (customers or revenue)")
    p.add_argument("--by", choices=("first_purchase", "signup"), default="first_purchase", help="cohort basis")
    p.add_argument("--period", choices=("week", "month", "quarter"), default="month")
    p.add_argument("--measure", choices=("customers", "revenue"), default="customers")
    p.add_argument("--mode", choices=("on", "on_or_after"), default="on",
                   help="active in period N, or in period N or later")
    p.add_argument("--segment", help="only this segment's customers (name or id, of --method)")
    p.add_argument("--method", choices=_METHODS, default=DEFAULT_METHOD, help="segmentation used by --segment")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_cohorts)

    p = sub.add_parser("experiments", help="A/B results per experiment variant: lift, 95%% CI, p-value")
    p.add_argument("--goal", default="purchase", help="event type counted as conversion (default purchase)")
    p.add_argument("--from-step", help="only units that reached this event type, e.g. checkout")
    p.add_argument("--unit", choices=("session", "customer"), default="session")
    p.add_argument("--plan", metavar="BASELINE,MDE",
                   help="sample-size calculator instead of results: baseline conversion and the absolute "
                        "minimum detectable effect, e.g. 0.28,0.02 or 28%%,2%% → units needed per arm")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of --plan (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power of --plan (default 0.8)")
    add_format_options(p)
    common(p)
    p.set_defaults(handler=_experiments)


def _funnel(args: argparse.Namespace) -> int:
    from ..analytics.funnels import funnel, parse_window

    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    window = parse_window(args.window) if args.window else None
    with open_for(args) as ws:
        labels = labels_for(ws, args, args.method) if args.by == "segment" else None
        result = funnel(ws, steps=steps, unit=args.unit, window=window, mode=args.mode, by=args.by,
                        labels=labels, experiment=args.experiment)
    frame = result.steps if args.by else result.steps.drop("group")
    emit(frame, args, json_records=result.to_json())
    return 0


def _cohorts(args: argparse.Namespace) -> int:
    from ..analytics.cohorts import cohorts

    with open_for(args) as ws:
        labels = labels_for(ws, args, args.method) if args.segment is not None else None
        table = cohorts(ws, by=args.by, period=args.period, measure=args.measure, mode=args.mode,
                        labels=labels, segment=args.segment)
        note_guests(ws)
    if args.format != "table":
        emit(table, args)
        return 0
    text = _triangle(table, args)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def _triangle(table, args: argparse.Namespace) -> str:
    """The retention triangle as plain text: one line per cohort, one % column per period."""
    import polars as pl

    label = "%Y-%m" if args.period == "month" else "%Y-%m-%d"
    what = "customers active" if args.measure == "customers" else "revenue (% of period 0)"
    when = "in" if args.mode == "on" else "in or after"
    periods = table["period"].unique().sort().to_list()
    lines = [f"{what} {when} {args.period} N, % of the cohort", "",
             f"{'cohort':<10} {'size':>7} " + "".join(f"{p:>5}" for p in periods)]
    wide = (table.with_columns(pl.col("cohort").dt.strftime(label), (pl.col("rate") * 100).round(0))
            .pivot(on="period", index=["cohort", "size"], values="rate", sort_columns=False))
    for row in wide.iter_rows():
        cells = "".join("" if v is None else f"{v:>5.0f}" for v in row[2:])
        lines.append(f"{row[0]:<10} {row[1]:>7,} {cells}")
    return "\n".join(lines) + "\n"


def parse_proportion(text: str, what: str) -> float:
    """``"0.28"`` or ``"28%"`` → 0.28 (a ShopperError naming ``what`` otherwise)."""
    from ..analytics.errors import ShopperError

    t = text.strip()
    try:
        return float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ShopperError(f"{what} '{text}' is not a proportion; write it like 0.28 or 28%.") from None


def parse_plan(text: str, *, alpha: float = 0.05, power: float = 0.8) -> dict[str, object]:
    """``"BASELINE,MDE"`` → the sample-size plan: baseline, mde_abs, target, alpha, power,
    n_per_arm, n_total (two arms)."""
    from ..analytics.errors import ShopperError
    from ..analytics.experiments import sample_size

    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise ShopperError(f"--plan '{text}' needs two values: BASELINE,MDE (e.g. 0.28,0.02).")
    baseline = parse_proportion(parts[0], "Baseline")
    mde = parse_proportion(parts[1], "Minimum detectable effect")
    n = sample_size(baseline, mde, alpha=alpha, power=power)
    return {"baseline": baseline, "mde_abs": mde, "target": baseline + mde, "alpha": alpha, "power": power,
            "n_per_arm": n, "n_total": 2 * n}


def _experiments(args: argparse.Namespace) -> int:
    from ..analytics.experiments import experiments

    if args.plan:
        import polars as pl

        plan = parse_plan(args.plan, alpha=args.alpha, power=args.power)
        emit(pl.DataFrame([plan]), args, json_records=plan)
        return 0

    with open_for(args) as ws:
        table = experiments(ws, goal=args.goal, from_step=args.from_step, unit=args.unit)
    if args.format != "table":
        emit(table, args)
        return 0
    import polars as pl
    import polars.selectors as cs

    emit(table.select("experiment", "variant", "users", "conversions", rate="conversion_rate", lift="abs_lift",
                      ci_low="abs_lift_ci_low", ci_high="abs_lift_ci_high", rel_lift="rel_lift",
                      power="power").with_columns(cs.float().round(4), p_value=table["p_value"]), args)
    notes = table.filter(pl.col("warning").is_not_null())
    text = "".join(f"{r['experiment']} / {r['variant']}: {r['warning']}\n" for r in notes.iter_rows(named=True))
    if text and not args.out:
        print(text, end="")
    return 0
