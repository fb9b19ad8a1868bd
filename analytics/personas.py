"""Personas and insights: what makes each segment different, in words and numbers.

**Persona.** For every segment and every interpretable feature (recency, orders, spend,
basket size, tenure, sessions, conversion, cart rate, discount share, price band, share of
customers who bought, device shares, category shares of spend and of views) the segment
mean is compared with the mean of everyone segmented: ``z = (segment mean − overall mean)
/ overall standard deviation``, on ``log1p`` values for the skewed counts and money, and on
buyers only for the purchase-based features (recency, basket, tenure, discount, price band).
Each feature that stands out (|z| ≥ 0.4, the strongest one always) offers a phrase in the
direction it stands out ("nothing for 5 months", "3.1× average basket", "Grocery is 42 % of
their spend") and, for some, an adjective ("Lapsed", "Frequent", "Mobile-first") and/or a
noun ("big spenders", "bargain hunters", "Outdoor fans"). The name is the adjective and the
noun of the strongest such features, the one-line persona is the name followed by the
phrases of the three strongest features. Nothing is attached to a cluster id: rerun on other
data, other words come out. Names are made unique across segments by trying the next
adjective / noun combination, then a number.

**Insights** (:func:`insights`): per segment, who they are worth (customers, share of
revenue), their favourite category by index (segment's share of spend in the category ÷
everyone's share, among categories holding at least 10 % of the segment's spend) and an
action chosen from the persona's signals (win-back for lapsed buyers, loyalty perks for
active big spenders, a second-purchase nudge for new one-order customers, a first-order
offer for browsers who never bought, …), plus one behavioural statement when a signal
(discounts, device, low conversion, revenue concentration) stands out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from .features import LOG_FEATURES

if TYPE_CHECKING:
    from .segmentation import SegmentationResult
    from .workspace import Workspace

__all__ = ["describe_segments", "insights", "Z_THRESHOLD"]

Z_THRESHOLD = 0.4
#: Features computed over buyers only (their value is a fill for customers who never bought).
_BUYER_ONLY = ("recency_days", "avg_basket", "tenure_days", "discount_share", "price_band")
_SCALARS = (
    "recency_days", "orders", "spend", "avg_basket", "tenure_days", "sessions", "conversion",
    "cart_rate", "discount_share", "price_band", "has_purchase",
)


@dataclass(frozen=True)
class _Fragment:
    feature: str
    z: float
    text: str
    adj: str | None = None
    noun: str | None = None


def _days(d: float) -> str:
    if d >= 60:
        return f"{round(d / 30.4)} months"
    if d >= 14:
        return f"{round(d / 7)} weeks"
    d = round(d)
    return "1 day" if d == 1 else f"{d} days"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if 0 < x < 0.0095 else f"{100 * x:.0f} %"


def _ratio(seg: float, overall: float) -> str:
    r = seg / overall if overall else math.inf
    return f"{r:.1f}×" if r >= 0.95 else f"{r:.2f}×"


def _stats(frame: pl.DataFrame, labels: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, tuple[float, float, float]], list[str]]:
    """Per segment: size, z of every interpretable feature, raw means and a few quantiles."""
    feats = [c for c in _SCALARS if c in frame.columns] + [
        c for c in frame.columns if c.startswith(("device_share:", "buy_share:", "view_share:"))
    ]
    joined = frame.join(labels.select("customer_id", "segment_id"), on="customer_id")
    buyer = pl.col("has_purchase") == 1

    def t(c: str) -> pl.Expr:
        e = pl.col(c).cast(pl.Float64)
        e = e.log1p() if c in LOG_FEATURES else e
        return e.filter(buyer) if c in _BUYER_ONLY else e

    def raw(c: str) -> pl.Expr:
        e = pl.col(c).cast(pl.Float64)
        return e.filter(buyer) if c in _BUYER_ONLY else e

    overall_row = joined.select(
        *[t(c).mean().alias(f"{c}|mu") for c in feats],
        *[t(c).std().alias(f"{c}|sd") for c in feats],
        *[raw(c).mean().alias(f"{c}|raw") for c in feats],
    ).row(0, named=True)
    overall = {c: (overall_row[f"{c}|mu"] or 0.0, overall_row[f"{c}|sd"] or 0.0, overall_row[f"{c}|raw"] or 0.0) for c in feats}
    per = joined.group_by("segment_id").agg(
        pl.len().alias("size"),
        *[t(c).mean().alias(f"{c}|m") for c in feats],
        *[raw(c).mean().alias(f"{c}|raw") for c in feats],
        pl.col("recency_days").filter(buyer).median().alias("recency_median"),
        pl.col("tenure_days").filter(buyer).median().alias("tenure_median"),
        pl.col("orders").quantile(0.25, "lower").alias("orders_q25"),
        (pl.col("orders") <= 1).mean().alias("at_most_once"),
    )
    return per, overall, feats


def _fragments(row: dict[str, object], overall: dict[str, tuple[float, float, float]], feats: list[str]) -> list[_Fragment]:
    out: list[_Fragment] = []
    for c in feats:
        mu, sd, raw_all = overall[c]
        m = row.get(f"{c}|m")
        if m is None or not sd or sd != sd:
            continue
        z = (float(m) - mu) / sd  # type: ignore[arg-type]
        seg = float(row[f"{c}|raw"] or 0.0)  # type: ignore[arg-type]
        hi = z > 0
        frag: _Fragment | None = None
        if c == "recency_days":
            d = float(row["recency_median"] or seg)  # type: ignore[arg-type]
            frag = (_Fragment(c, z, f"nothing for {_days(d)}", adj="Lapsed") if hi
                    else _Fragment(c, z, f"last order {_days(d)} ago" if d >= 1 else "ordered on the last day of the data",
                                   adj="Active"))
        elif c == "orders":
            q = float(row["orders_q25"] or 0)  # type: ignore[arg-type]
            if hi:
                text = f"bought {q:.0f}+ times" if q >= 2 else f"{seg:.1f} orders on average"
                frag = _Fragment(c, z, text, adj="Frequent", noun="regulars")
            else:
                once = float(row["at_most_once"] or 0)  # type: ignore[arg-type]
                text = f"{_pct(once)} bought at most once" if once >= 0.5 else f"{seg:.1f} orders on average"
                frag = _Fragment(c, z, text, adj="Occasional", noun="one-off buyers" if once >= 0.5 else None)
        elif c == "spend":
            frag = (_Fragment(c, z, f"spend {_ratio(seg, raw_all)} the average", noun="big spenders") if hi
                    else _Fragment(c, z, f"spend {_ratio(seg, raw_all)} the average", adj="Low-value"))
        elif c == "avg_basket":
            frag = (_Fragment(c, z, f"{_ratio(seg, raw_all)} average basket", adj="Big-basket") if hi
                    else _Fragment(c, z, f"small baskets ({_ratio(seg, raw_all)} average)", adj="Small-basket"))
        elif c == "tenure_days":
            d = float(row["tenure_median"] or seg)  # type: ignore[arg-type]
            frag = (_Fragment(c, z, f"customers for {_days(d)}", adj="Long-standing") if hi
                    else _Fragment(c, z, f"first bought {_days(d)} ago", adj="New"))
        elif c == "sessions":
            frag = (_Fragment(c, z, f"{seg:.0f} sessions each ({_ratio(seg, raw_all)} average)", adj="Engaged", noun="browsers")
                    if hi else _Fragment(c, z, f"rarely visit ({seg:.0f} sessions each)"))
        elif c == "conversion":
            frag = _Fragment(c, z, f"{_pct(seg)} of viewing sessions end in a purchase", adj="Decisive" if hi else "Hesitant")
        elif c == "cart_rate":
            frag = _Fragment(c, z, f"add to cart in {_pct(seg)} of sessions")
        elif c == "discount_share":
            frag = (_Fragment(c, z, f"{_pct(seg)} of items bought on discount (average {_pct(raw_all)})",
                              adj="Deal-seeking", noun="bargain hunters") if hi
                    else _Fragment(c, z, f"{_pct(seg)} of items bought on discount", adj="Full-price"))
        elif c == "price_band":
            frag = (_Fragment(c, z, "buy the dearer end of each category", adj="Premium") if hi
                    else _Fragment(c, z, "buy the cheaper end of each category", adj="Budget"))
        elif c == "has_purchase":
            if not hi:
                frag = _Fragment(c, z, f"{_pct(1 - seg)} have not bought yet", noun="window shoppers")
        elif c.startswith("device_share:") and hi:
            dev = c.split(":", 1)[1]
            frag = _Fragment(c, z, f"{_pct(seg)} of sessions on {dev}", adj=f"{dev.capitalize()}-first")
        elif c.startswith("buy_share:") and hi:
            cat = c.split(":", 1)[1]
            frag = _Fragment(c, z, f"{cat} is {_pct(seg)} of a member's spend on average ({_ratio(seg, raw_all)} "
                                   "the average customer's)", noun=f"{cat} fans")
        elif c.startswith("view_share:") and hi:
            cat = c.split(":", 1)[1]
            frag = _Fragment(c, 0.8 * z, f"{cat} is {_pct(seg)} of their views", noun=f"{cat} fans")
        if frag is not None:
            out.append(frag)
    out.sort(key=lambda f: -abs(f.z))
    strong = [f for f in out if abs(f.z) >= Z_THRESHOLD]
    return strong or out[:1]


def _candidates(frags: list[_Fragment]) -> list[str]:
    """Names from best to worst: adjective + noun of the strongest features, then alternatives."""
    adjs = [f for f in frags[:6] if f.adj]
    nouns = [f for f in frags[:6] if f.noun]
    combos: list[tuple[float, str]] = []
    for a in adjs or [None]:
        for n in nouns or [None]:
            if a is not None and n is not None and a.feature == n.feature:
                continue
            score = (abs(a.z) if a else 0.0) + (abs(n.z) if n else 0.0)
            noun = n.noun if n else "shoppers"
            name = f"{a.adj} {noun}" if a else noun[0].upper() + noun[1:]
            combos.append((score, name))
    combos.sort(key=lambda sn: -sn[0])
    seen: list[str] = []
    for _, name in combos:
        if name not in seen:
            seen.append(name)
    return seen or ["Shoppers"]


def describe_segments(
    frame: pl.DataFrame, labels: pl.DataFrame, *, fixed_names: dict[int, str] | None = None
) -> pl.DataFrame:
    """Name and one-line persona per segment, from what distinguishes it (module docstring).

    Args:
        frame: The feature frame (:func:`.features.customer_features`, which="both").
        labels: customer_id, segment_id.
        fixed_names: Segment id → name to keep (the RFM grid's cells, noise); their persona
            line is still derived from the data.

    Returns:
        segment_id, name, persona, drivers (list of the distinguishing features, strongest first).
    """
    fixed = fixed_names or {}
    per, overall, feats = _stats(frame, labels)
    rows = sorted(per.iter_rows(named=True), key=lambda r: (-int(r["size"]), int(r["segment_id"])))
    used: set[str] = {fixed[int(r["segment_id"])] for r in rows if int(r["segment_id"]) in fixed}
    out = []
    for r in rows:
        sid = int(r["segment_id"])
        frags = _fragments(r, overall, feats)
        if sid in fixed:
            name = fixed[sid]
        else:
            cands = _candidates(frags)
            name = next((c for c in cands if c not in used), None)
            if name is None:
                base, i = cands[0], 2
                while f"{base} {i}" in used:
                    i += 1
                name = f"{base} {i}"
        used.add(name)
        line = ", ".join(f.text for f in frags[:3])
        out.append({"segment_id": sid, "name": name, "persona": f"{name} — {line}" if line else name,
                    "drivers": [f.feature for f in frags[:3]]})
    return pl.DataFrame(
        out, schema={"segment_id": pl.Int32(), "name": pl.String(), "persona": pl.String(), "drivers": pl.List(pl.String())}
    )


def _category_index(result: SegmentationResult, ws: Workspace) -> pl.DataFrame:
    """segment_id, category, share (of the segment's spend), index (share ÷ everyone's share)."""
    spend = ws.sql(
        """
        SELECT i.customer_id, coalesce(p.category, 'Unknown') AS category, sum(i.value)::DOUBLE AS spend
        FROM item_lines i LEFT JOIN products p USING (product_id)
        WHERE i.customer_id IS NOT NULL AND i.ts < $end + INTERVAL 1 DAY
        GROUP BY 1, 2
        """,
        {"end": result.model.observation_end},
    )
    seg = spend.join(result.labels.select("customer_id", "segment_id"), on="customer_id")
    overall = seg.group_by("category").agg(pl.col("spend").sum()).with_columns(all_share=pl.col("spend") / pl.col("spend").sum())
    return (
        seg.group_by("segment_id", "category")
        .agg(pl.col("spend").sum())
        .with_columns(share=pl.col("spend") / pl.col("spend").sum().over("segment_id"))
        .join(overall.select("category", "all_share"), on="category")
        .with_columns(index=pl.col("share") / pl.col("all_share"))
    )


def insights(result: SegmentationResult, ws: Workspace) -> pl.DataFrame:
    """One or two actionable statements with numbers per segment (module docstring).

    Returns:
        segment_id, name, rank (1, 2), text — sorted like ``result.segments``.
    """
    per, overall, feats = _stats(result.features_frame, result.labels)
    per_rows = {int(r["segment_id"]): r for r in per.iter_rows(named=True)}
    cats = _category_index(result, ws)
    out = []
    for s in result.segments.iter_rows(named=True):
        sid = int(s["segment_id"])
        row = per_rows.get(sid)
        if row is None:
            continue
        z = {f.feature: f.z for f in _fragments_all(row, overall, feats)}
        c = cats.filter(pl.col("segment_id") == sid)
        fav = c.filter(pl.col("share") >= 0.10).sort("index", "category", descending=[True, False]).head(1)
        if fav.is_empty():
            fav = c.sort("share", "category", descending=[True, False]).head(1)
        action = _action(z, row, overall)
        one = s["size"] == 1
        head = (f"{s['size']:,} customer{'' if one else 's'} in “{s['name']}” ({_pct(s['share'])} of customers) "
                f"{'holds' if one else 'hold'} {_pct(s['revenue_share'])} of revenue")
        if fav.is_empty() and not s["mean_orders"]:
            text = f"{head}; they have no completed purchase yet — {action}."
        elif fav.is_empty():  # purchases without products (a plain transactions file): no category to name
            text = f"{head} — {action}."
        else:
            cat, share, idx = fav["category"][0], float(fav["share"][0]), float(fav["index"][0])
            if idx >= 1.1:
                text = (f"{head}; their favourite category {cat} takes {_pct(share)} of the segment's spend, "
                        f"{idx:.1f}× its share of all revenue — {action}, leading with {cat}.")
            else:
                text = f"{head}; their biggest category is {cat} ({_pct(share)} of the segment's spend) — {action}."
        out.append({"segment_id": sid, "name": s["name"], "rank": 1, "text": text})
        second = _second_statement(z, row, overall, s)
        if second:
            out.append({"segment_id": sid, "name": s["name"], "rank": 2, "text": second})
    return pl.DataFrame(out, schema={"segment_id": pl.Int32(), "name": pl.String(), "rank": pl.Int8(), "text": pl.String()})


def _fragments_all(row: dict[str, object], overall: dict[str, tuple[float, float, float]], feats: list[str]) -> list[_Fragment]:
    """z of every feature (no threshold), for the insight rules."""
    out = []
    for c in feats:
        mu, sd, _ = overall[c]
        m = row.get(f"{c}|m")
        if m is not None and sd and sd == sd:
            out.append(_Fragment(c, (float(m) - mu) / sd, ""))  # type: ignore[arg-type]
    return out


def _action(z: dict[str, float], row: dict[str, object], overall: dict[str, tuple[float, float, float]]) -> str:
    bought = float(row.get("has_purchase|raw") or 0.0)  # type: ignore[arg-type]
    if bought < 0.5:
        return "convert them with a first-order offer"
    if z.get("recency_days", 0) > 0.5:
        return "target a win-back" if z.get("spend", 0) > 0 or z.get("orders", 0) > 0 else "try a low-cost reactivation email"
    if z.get("spend", 0) > 0.5 and z.get("recency_days", 0) < 0:
        return "reward them with loyalty perks and early access"
    if z.get("tenure_days", 0) < -0.5 or float(row.get("at_most_once") or 0) >= 0.5:  # type: ignore[arg-type]
        return "nudge a second purchase"
    if z.get("discount_share", 0) > 0.5:
        return "use targeted promotions"
    return "cross-sell"


def _second_statement(
    z: dict[str, float], row: dict[str, object], overall: dict[str, tuple[float, float, float]], seg: dict[str, object]
) -> str | None:
    def raw(c: str) -> float:
        return float(row.get(f"{c}|raw") or 0.0)  # type: ignore[arg-type]

    options: list[tuple[float, str]] = []
    if z.get("discount_share", 0) > 0.5:
        options.append((z["discount_share"], f"{_pct(raw('discount_share'))} of their items are bought on discount "
                        f"(average {_pct(overall['discount_share'][2])}) — promote deals rather than full-price lines."))
    for c, v in z.items():
        if c.startswith("device_share:") and v > 0.5 and raw(c) >= 0.5:
            dev = c.split(":", 1)[1]
            options.append((v, f"{_pct(raw(c))} of their sessions are on {dev} — design the campaign for {dev}."))
    if z.get("conversion", 0) < -0.5 and "conversion" in overall:
        options.append((-z["conversion"], f"only {_pct(raw('conversion'))} of their viewing sessions end in a purchase "
                        f"(average {_pct(overall['conversion'][2])}) — try cart and browse-abandonment reminders."))
    share, rev = float(seg["share"] or 0), float(seg["revenue_share"] or 0)  # type: ignore[arg-type]
    if share and rev / share >= 1.5:
        options.append((rev / share - 1, f"each of them is worth {rev / share:.1f}× the average customer — protect this group first."))
    if not options:
        return None
    return _cap(max(options, key=lambda o: o[0])[1])


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]
