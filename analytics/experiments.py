"""A/B experiments found in events: conversion per variant, lift, confidence interval, p-value.

Definitions:

* **Experiments and variants** are the distinct non-null ``experiment`` / ``variant`` pairs
  on events. A unit is *exposed* to the variant its events carry; a unit seen in two
  variants of one experiment is left out of that experiment (counted in ``excluded``).
* **Unit ("users").** ``unit="session"`` (default) counts sessions, ``"customer"`` counts
  customers (anonymous sessions attributed as in :mod:`.funnels`). Only events at or after
  the unit's first exposure count. When variants are assigned per customer, a customer's
  sessions are correlated, so session-level intervals are a little optimistic; use
  ``unit="customer"`` for the per-user analysis.
* **Conversion.** Without ``from_step``: exposed units with at least one ``goal`` event.
  With ``from_step`` (e.g. checkout → purchase): the denominator is exposed units with a
  ``from_step`` event, the numerator those with a ``goal`` event at or after their first
  ``from_step`` event.
* **Control**: the variant named control, baseline or A (case-insensitive, in that order of
  preference), otherwise the first variant alphabetically.
* **Lift** of a variant vs control: absolute ``p_v − p_c``; relative ``p_v / p_c − 1``.
* **95 % CI** of the absolute lift: ``d ± z·√(p_c(1−p_c)/n_c + p_v(1−p_v)/n_v)`` (normal
  approximation, unpooled); of the relative lift: the log risk-ratio (Katz) interval.
* **p-value**: two-sided two-proportion z-test with the pooled proportion; it equals the
  p-value of the 2×2 chi-square test without continuity correction (χ² = z²).
* **Power** of the observed effect at α = 0.05: ``Φ(|d|/se − z) + Φ(−|d|/se − z)`` with the
  unpooled ``se``; below 0.8 the row carries a warning with the per-arm sample size needed
  to detect that effect (:func:`sample_size`). Arms with fewer than 5 conversions or
  non-conversions are flagged as too small for the normal approximation.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import polars as pl

from .errors import ShopperError
from .funnels import UNITS, require_events, session_customer_sql
from .schema import EVENT_TYPES
from .workspace import Workspace

__all__ = ["experiments", "sample_size", "pick_control", "CONTROL_NAMES"]

CONTROL_NAMES = ("control", "baseline", "a")
_N = NormalDist()


def pick_control(variants: list[str]) -> str:
    """The control variant among ``variants`` (see the module docstring)."""
    lowered = {v.lower(): v for v in sorted(variants, reverse=True)}
    for name in CONTROL_NAMES:
        if name in lowered:
            return lowered[name]
    return sorted(variants)[0]


def sample_size(baseline: float, mde_abs: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units needed per arm to detect an absolute change ``mde_abs`` from ``baseline``.

    Two-sided two-proportion z-test, equal arms, no continuity correction (Fleiss):
    ``n = (z₁₋α/₂·√(2·p̄(1−p̄)) + z₁₋β·√(p₁(1−p₁) + p₂(1−p₂)))² / δ²`` with p̄ = (p₁ + p₂)/2,
    rounded up. E.g. 0.08 vs 0.06 at α = 0.05 and 80 % power → 2 554 per arm.

    Raises:
        ShopperError: Proportions outside (0, 1), a zero effect, or alpha/power outside (0, 1).
    """
    p1, p2 = baseline, baseline + mde_abs
    if not (0 < p1 < 1 and 0 < p2 < 1):
        raise ShopperError(f"Baseline {baseline} and baseline + effect {p2:.4g} must both lie strictly "
                           "between 0 and 1.")
    if mde_abs == 0:
        raise ShopperError("The minimum detectable effect must not be zero.")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ShopperError("alpha and power must lie strictly between 0 and 1.")
    z_a, z_b = _N.inv_cdf(1 - alpha / 2), _N.inv_cdf(power)
    pbar = (p1 + p2) / 2
    root = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / mde_abs**2 - 1e-9)


def experiments(
    ws: Workspace,
    *,
    goal: str = "purchase",
    from_step: str | None = None,
    unit: Literal["session", "customer"] = "session",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Every experiment × variant in events with conversion, lift, CI, p-value and warnings.

    Args:
        ws: The workspace.
        goal: Event type counted as conversion.
        from_step: Optional event type that defines who is at risk of converting (e.g.
            "checkout" for checkout → purchase conversion).
        unit: "session" or "customer".
        alpha: Significance level of the intervals (1 − alpha) and of the power check.

    Returns:
        experiment, variant, is_control, users, conversions, conversion_rate, abs_lift,
        abs_lift_ci_low, abs_lift_ci_high, rel_lift, rel_lift_ci_low, rel_lift_ci_high,
        p_value, power, needed_per_arm, excluded, warning — lift columns null on the control
        row; control first within each experiment. Empty when events carry no experiment.

    Raises:
        ShopperError: Unknown goal/from_step/unit, or no events.
    """
    for label, step in (("goal", goal), ("from step", from_step)):
        if step is not None and step not in EVENT_TYPES:
            raise ShopperError(f"Unknown experiment {label} '{step}'; use one of {', '.join(EVENT_TYPES)}.")
    if from_step == goal:
        raise ShopperError("The experiment goal and its from step must differ.")
    if unit not in UNITS:
        raise ShopperError(f"Experiment unit '{unit}' is not supported; use session or customer.")
    require_events(ws, "experiments")
    if unit == "session":
        src = "SELECT session_id AS unit, ts, event_type, experiment, variant FROM events"
    else:
        src = (f"SELECT coalesce(e.customer_id, s.customer_id) AS unit, e.ts, e.event_type, e.experiment, e.variant "
               f"FROM events e LEFT JOIN ({session_customer_sql()}) s USING (session_id) "
               "WHERE coalesce(e.customer_id, s.customer_id) IS NOT NULL")
    params: list[object] = [goal]
    if from_step is None:
        at_risk = "SELECT x.experiment, x.unit, x.variant, x.t0 AS t_from FROM exposed x"
    else:
        params.append(from_step)
        at_risk = ("SELECT x.experiment, x.unit, x.variant, min(e.ts) AS t_from FROM exposed x "
                   "JOIN src e ON e.unit = x.unit AND e.event_type = $2 AND e.ts >= x.t0 GROUP BY ALL")
    counts = ws.sql(
        f"""
        WITH src AS ({src}),
        assigned AS (
            SELECT experiment, unit, min(variant) AS variant, count(DISTINCT variant) AS n_variants, min(ts) AS t0
            FROM src WHERE experiment IS NOT NULL AND variant IS NOT NULL
            GROUP BY experiment, unit
        ),
        exposed AS (SELECT * FROM assigned WHERE n_variants = 1),
        excluded AS (SELECT experiment, count(*) FILTER (WHERE n_variants > 1) AS excluded
                     FROM assigned GROUP BY experiment),
        risk AS ({at_risk}),
        goal AS (SELECT unit, max(ts) AS t_goal FROM src WHERE event_type = $1 GROUP BY unit)
        SELECT r.experiment, r.variant, count(*) AS users,
               count(*) FILTER (WHERE g.t_goal >= r.t_from) AS conversions, any_value(x.excluded) AS excluded
        FROM risk r
        LEFT JOIN goal g USING (unit)
        JOIN excluded x ON x.experiment = r.experiment
        GROUP BY r.experiment, r.variant
        ORDER BY r.experiment, r.variant
        """,
        params,
    )
    return _compare(counts, alpha)


def _compare(counts: pl.DataFrame, alpha: float) -> pl.DataFrame:
    """Per experiment, each variant against its control (a handful of rows: plain Python)."""
    z = _N.inv_cdf(1 - alpha / 2)
    rows: list[dict[str, object]] = []
    for (experiment,), part in counts.group_by("experiment", maintain_order=True):
        control = pick_control(part["variant"].to_list())
        c = part.filter(pl.col("variant") == control).row(0, named=True)
        n_c, x_c = int(c["users"]), int(c["conversions"])
        p_c = x_c / n_c
        ordered = [c] + [r for r in part.iter_rows(named=True) if r["variant"] != control]
        for r in ordered:
            n_v, x_v = int(r["users"]), int(r["conversions"])
            p_v = x_v / n_v
            row: dict[str, object] = {
                "experiment": experiment, "variant": r["variant"], "is_control": r["variant"] == control,
                "users": n_v, "conversions": x_v, "conversion_rate": p_v,
            }
            row.update(_versus(p_c, n_c, x_c, p_v, n_v, x_v, z, alpha) if r["variant"] != control else {})
            warnings = []
            if min(x_v, n_v - x_v) < 5:
                warnings.append("too few conversions (or non-conversions) for the normal approximation")
            power = row.get("power")
            if r["variant"] != control and power is not None and power < 0.8:
                needed = row.get("needed_per_arm")
                need = f"about {needed:,} per arm are needed" if needed else "no detectable effect"
                warnings.append(f"underpowered: {power:.0%} power for the observed lift of "
                                f"{row['abs_lift']:+.2%} — {need}, this arm has {n_v:,}")
            row["excluded"] = int(r["excluded"])
            row["warning"] = "; ".join(warnings) or None
            rows.append(row)
    schema = {
        "experiment": pl.String, "variant": pl.String, "is_control": pl.Boolean, "users": pl.Int64,
        "conversions": pl.Int64, "conversion_rate": pl.Float64, "abs_lift": pl.Float64,
        "abs_lift_ci_low": pl.Float64, "abs_lift_ci_high": pl.Float64, "rel_lift": pl.Float64,
        "rel_lift_ci_low": pl.Float64, "rel_lift_ci_high": pl.Float64, "p_value": pl.Float64,
        "power": pl.Float64, "needed_per_arm": pl.Int64, "excluded": pl.Int64, "warning": pl.String,
    }
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)


def _versus(p_c: float, n_c: int, x_c: int, p_v: float, n_v: int, x_v: int, z: float,
            alpha: float) -> dict[str, object]:
    d = p_v - p_c
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_v * (1 - p_v) / n_v)
    pooled = (x_c + x_v) / (n_c + n_v)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_v))
    out: dict[str, object] = {
        "abs_lift": d, "abs_lift_ci_low": d - z * se, "abs_lift_ci_high": d + z * se,
        "p_value": math.erfc(abs(d) / se0 / math.sqrt(2)) if se0 > 0 else None,  # = 2·Φ(−|z|), no underflow
        "power": (_N.cdf(abs(d) / se - z) + _N.cdf(-abs(d) / se - z)) if se > 0 else None,
    }
    if p_c > 0:
        out["rel_lift"] = p_v / p_c - 1
        if x_c > 0 and x_v > 0:
            se_log = math.sqrt((1 - p_c) / x_c + (1 - p_v) / x_v)
            log_rr = math.log(p_v / p_c)
            out["rel_lift_ci_low"] = math.exp(log_rr - z * se_log) - 1
            out["rel_lift_ci_high"] = math.exp(log_rr + z * se_log) - 1
    if d != 0 and 0 < p_c < 1 and 0 < p_v < 1:
        out["needed_per_arm"] = sample_size(p_c, d, alpha=alpha)
    return out
