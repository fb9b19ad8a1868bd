"""Offline evaluation of the recommenders on a time-based split, and A/B comparison.

**Split** (:func:`time_split`): for each customer, the last ``holdout`` fraction of their
interactions (⌊holdout × n⌋, by time; interactions sharing a timestamp — the lines of one
order — stay together on the side of the earliest) is held out; or, with ``days``,
everything in the last ``days`` days of the data. Models are fitted on the rest.

**Relevant items** of a customer: products they *purchased* in the held-out part and had
not purchased before (already-bought products are never recommended, so they cannot be
hits). Customers with no relevant item are not evaluated. Recommendations exclude the
customer's training purchases, as in production.

**Metrics at k** (binary relevance, averaged over evaluated customers):

* precision@k = hits in the top k / k (always divides by k, even when fewer than k items
  are relevant);
* recall@k = hits / number of relevant items;
* NDCG@k = DCG / ideal DCG with DCG = Σᵢ relᵢ / log₂(i + 1) over ranks i = 1..k, the ideal
  putting min(|relevant|, k) hits first;
* MAP@k = mean of AP@k = Σᵢ precision@i × relᵢ / min(|relevant|, k);
* coverage = distinct products recommended to anyone / catalogue size;
* novelty = mean self-information −log₂ p(i) of recommended products, p(i) = share of
  training customers who interacted with i (a never-seen product counts as 1 customer).

**A/B** (:func:`ab_compare`): evaluated customers are split into arms A and B by the MD5 of
salt + customer_id (stable across runs, machines and versions); arm A is served model A,
arm B model B. Per-customer metrics give each arm's mean with a 95 % normal-approximation
confidence interval; the difference B − A is tested with Welch's t-test and flagged
significant when p < 0.05.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Union

import numpy as np
import polars as pl
import scipy.sparse as sp

from .errors import ShopperError
from .recommend import (
    DEFAULT_WEIGHTS,
    REC_CACHE_VERSION,
    RecParams,
    aggregate_interactions,
    baskets_from_rows,
    catalogue,
    fit_model,
    interactions,
)
from .recommenders import RecModel

if TYPE_CHECKING:
    from .cache import ArtifactCache
    from .workspace import Workspace

__all__ = [
    "METRICS",
    "EvalSetup",
    "ModelSpec",
    "time_split",
    "prepare_split",
    "prepare_evaluation",
    "ranking_metrics",
    "evaluate",
    "assign_arms",
    "ab_compare",
    "tune_weights",
]

METRICS = ("precision", "recall", "ndcg", "map")
BASE_MODELS = ("popularity", "collaborative", "item_item", "content", "segment")
#: A model to evaluate: a signal name, "popularity", "hybrid", or hybrid weights.
ModelSpec = Union[str, Mapping[str, float]]
ProgressFn = Callable[[str, float | None], None]
_Z95 = 1.959963984540054


def time_split(rows: pl.DataFrame, *, holdout: float = 0.2, days: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test) rows of :func:`.recommend.interactions` (see the module docstring)."""
    if days is not None:
        if days <= 0:
            raise ShopperError(f"The held-out window must be at least one day, not {days}.")
        first, last = rows.get_column("ts").min(), rows.get_column("ts").max()
        if first is not None and last - timedelta(days=days) < first:
            span = (last - first).days
            raise ShopperError(
                f"The data spans {span:,} day{'' if span == 1 else 's'}, so holding out the last {days:,} days "
                "leaves nothing before them to learn from.",
                hint=f"Hold out fewer days (--days {max(1, span // 4)}) or a fraction of each customer's history "
                "(--holdout 0.2)." if span >= 2 else "Use --holdout 0.2 (a fraction of each customer's history).")
        is_test = pl.col("ts") > last - timedelta(days=days)
    else:
        if not 0 < holdout < 1:
            raise ShopperError(f"The held-out fraction must be between 0 and 1, not {holdout}.")
        n = pl.len().over("customer_id")
        rank = pl.col("ts").rank("min").over("customer_id") - 1
        is_test = rank >= n - (n * holdout).floor()
    flagged = rows.with_columns(is_test.alias("_test"))
    return flagged.filter(~pl.col("_test")).drop("_test"), flagged.filter(pl.col("_test")).drop("_test")


@dataclass
class EvalSetup:
    """Models fitted on the training part and what each evaluated customer should get.

    Attributes:
        model: The hybrid fitted on training interactions.
        rows: Model rows (training users) of the evaluated customers.
        customer_ids: Their ids, aligned with ``rows``.
        relevant: Evaluated customers × products, True where relevant.
        exclude: Evaluated customers × products, True where bought in training.
        item_share: Share of training customers who interacted with each product.
        description: How the split was made, for the screen.
    """

    model: RecModel
    rows: np.ndarray
    customer_ids: np.ndarray
    relevant: sp.csr_matrix
    exclude: sp.csr_matrix
    item_share: np.ndarray
    description: str

    def with_segments(self, labels: pl.DataFrame | None) -> EvalSetup:
        return EvalSetup(self.model.with_segments(labels), self.rows, self.customer_ids, self.relevant,
                         self.exclude, self.item_share, self.description)


def prepare_split(
    rows: pl.DataFrame,
    items: pl.DataFrame,
    *,
    holdout: float = 0.2,
    days: int | None = None,
    relevant: str = "purchase",
    params: RecParams | None = None,
    progress: ProgressFn | None = None,
) -> EvalSetup:
    """Split ``rows`` in time, fit on the training part and index the held-out purchases
    (``relevant="any"``: every held-out interaction's product counts as relevant)."""
    params = params or RecParams()
    train_rows, test_rows = time_split(rows, holdout=holdout, days=days)
    model = fit_model(aggregate_interactions(train_rows), items, baskets=baskets_from_rows(train_rows),
                      **params.fit_kwargs(), progress=progress)
    users = model.user_index
    bought = train_rows.filter(pl.col("kind") == "purchase").select("customer_id", "product_id").unique()
    held = test_rows if relevant == "any" else test_rows.filter(pl.col("kind") == "purchase")
    target = (held.select("customer_id", "product_id").unique()
              .join(bought, on=["customer_id", "product_id"], how="anti")
              .filter(pl.col("customer_id").is_in(list(users))))
    ids = np.array(sorted(target.get_column("customer_id").unique().to_list()), dtype=object)
    shape = (len(ids), model.n_items)
    row_of = pl.DataFrame({"customer_id": pl.Series(ids.tolist(), dtype=pl.String)}).with_row_index("_r")
    col_of = model.items.select("product_id").with_row_index("_c")

    def matrix(frame: pl.DataFrame) -> sp.csr_matrix:
        frame = frame.join(row_of, on="customer_id").join(col_of, on="product_id")
        r, c = frame.get_column("_r").to_numpy(), frame.get_column("_c").to_numpy()
        return sp.csr_matrix((np.ones(len(r), bool), (r, c)), shape=shape)

    item_share = np.asarray((model.user_items > 0).sum(axis=0), dtype=np.float64).ravel() / max(len(users), 1)
    if holdout is not None and days is None:
        how = f"last {holdout:.0%} of each customer's interactions held out"
    else:
        how = f"last {days} days held out"
    return EvalSetup(
        model=model, rows=np.searchsorted(model.customers, ids).astype(np.int64), customer_ids=ids,
        relevant=matrix(target), exclude=matrix(bought), item_share=item_share,
        description=f"time split: {how}; {len(ids):,} customers with a new held-out purchase",
    )


def prepare_evaluation(
    ws: Workspace,
    *,
    holdout: float = 0.2,
    days: int | None = None,
    params: RecParams | None = None,
    labels: pl.DataFrame | None = None,
    cache: ArtifactCache | None = None,
    progress: ProgressFn | None = None,
) -> EvalSetup:
    """:func:`prepare_split` on the workspace's interactions, cached by fingerprint + params."""
    params = params or RecParams()

    def compute() -> EvalSetup:
        return prepare_split(interactions(ws, event_weights=params.event_weights), catalogue(ws),
                             holdout=holdout, days=days, params=params, progress=progress)

    key = f"rec-eval-{params.key()}-{'d' + str(days) if days is not None else 'h' + str(holdout)}"
    setup = cache.get_or_compute(key, compute, version=REC_CACHE_VERSION) if cache is not None else compute()
    return setup.with_segments(labels)


# -- metrics ------------------------------------------------------------------------------
def _hit_metrics(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user metrics from a users × k boolean hit matrix (see the module docstring)."""
    n, k = hits.shape
    h = hits.astype(np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(n_relevant, k) - 1]
    prec_at_i = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    return {
        "precision": h.sum(axis=1) / k,
        "recall": h.sum(axis=1) / n_relevant,
        "ndcg": (h * discount).sum(axis=1) / ideal,
        "map": (prec_at_i * h).sum(axis=1) / np.minimum(n_relevant, k),
    }


def ranking_metrics(recommended: Sequence[Sequence[object]], relevant: Sequence[Collection[object]], *, k: int) -> dict[str, np.ndarray]:
    """precision, recall, ndcg and map at ``k`` per user from plain lists (ranked
    recommendations and relevant sets; users with no relevant item are not allowed)."""
    if any(len(r) == 0 for r in relevant):
        raise ShopperError("Every evaluated user needs at least one relevant item.")
    hits = np.array([[i < len(rec) and rec[i] in rel for i in range(k)] for rec, rel in zip(recommended, relevant, strict=True)],
                    dtype=bool).reshape(len(relevant), k)
    return _hit_metrics(hits, np.array([len(r) for r in relevant]))


def _spec_name(spec: ModelSpec) -> str:
    if isinstance(spec, str):
        return spec
    return "hybrid(" + ", ".join(f"{s}={w:g}" for s, w in spec.items() if w) + ")"


def _spec_weights(spec: ModelSpec, weights: Mapping[str, float]) -> dict[str, float]:
    if isinstance(spec, Mapping):
        return {s: float(w) for s, w in spec.items() if s != "session" and float(w) > 0}
    if spec == "hybrid":
        return {s: float(w) for s, w in weights.items() if s != "session" and float(w) > 0}
    if spec in BASE_MODELS:
        return {spec: 1.0}
    raise ShopperError(f"Unknown recommender '{spec}'; use one of {', '.join((*BASE_MODELS, 'hybrid'))} or hybrid weights.")


def _chunks(n: int, n_items: int) -> Iterator[slice]:
    size = max(64, min(2048, 4_000_000 // max(n_items, 1)))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _per_user(setup: EvalSetup, specs: Mapping[str, Mapping[str, float]], k: int,
              progress: ProgressFn | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-user metrics + recommended items for each named weighting of signals."""
    model = setup.model
    k = min(k, model.n_items)
    needed = sorted({s for w in specs.values() for s in w})
    n_rel = np.asarray(setup.relevant.sum(axis=1)).ravel()
    info = -np.log2(np.maximum(setup.item_share, 1.0 / max(len(model.customers), 1)))
    parts: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in specs}
    n = len(setup.rows)
    for chunk in _chunks(n, model.n_items):
        if progress is not None:
            progress("scoring held-out customers", chunk.start / max(n, 1))
        signals = model.batch_scores(setup.rows[chunk], needed)
        excluded = setup.exclude[chunk].toarray()
        relevant = setup.relevant[chunk].toarray()
        for name, weights in specs.items():
            scores = sum(w * signals[s] for s, w in weights.items())
            scores = np.where(excluded, -np.inf, scores)
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            out = _hit_metrics(np.take_along_axis(relevant, top, axis=1), n_rel[chunk])
            out["novelty"] = info[top].mean(axis=1)
            out["items"] = top
            parts[name].append(out)
    return {name: {m: np.concatenate([p[m] for p in ps]) for m in ps[0]} for name, ps in parts.items()}


def evaluate(
    data: Workspace | EvalSetup,
    *,
    k: int = 10,
    models: Sequence[ModelSpec] | None = None,
    weights: Mapping[str, float] | None = None,
    holdout: float = 0.2,
    days: int | None = None,
    params: RecParams | None = None,
    labels: pl.DataFrame | None = None,
    cache: ArtifactCache | None = None,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Offline metrics per recommender on the time-based split.

    Args:
        data: A workspace (split and fitted here, cached in ``cache``) or an
            :class:`EvalSetup` from :func:`prepare_evaluation` (to re-evaluate weightings
            without refitting).
        k: Cut-off.
        models: What to evaluate (default: popularity, collaborative, item_item, content,
            segment when ``labels`` are given, hybrid).
        weights: Hybrid weights (default :data:`.recommend.DEFAULT_WEIGHTS`).
        holdout, days, params, labels, cache, progress: See :func:`prepare_evaluation`.

    Returns:
        model, k, precision, recall, ndcg, map, coverage, novelty, users.
    """
    if k < 1:
        raise ShopperError(f"--k must be at least 1, not {k}.")
    setup = data if isinstance(data, EvalSetup) else prepare_evaluation(
        data, holdout=holdout, days=days, params=params, labels=labels, cache=cache, progress=progress)
    if labels is not None and isinstance(data, EvalSetup):
        setup = setup.with_segments(labels)
    if not len(setup.rows):
        raise ShopperError("No customer made a new purchase in the held-out period, so there is nothing to evaluate.",
                           hint="Hold out more (a larger fraction or more days).")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    if models is None:
        has_segments = setup.model.segment_pop is not None
        models = [m for m in BASE_MODELS if m != "segment" or has_segments] + ["hybrid"]
    specs = {_spec_name(m): _spec_weights(m, weights) for m in models}
    per_user = _per_user(setup, specs, k, progress)
    n_items = setup.model.n_items
    return pl.DataFrame([
        {"model": name, "k": k, **{m: float(v[m].mean()) for m in METRICS},
         "coverage": len(np.unique(v["items"])) / n_items, "novelty": float(v["novelty"].mean()), "users": len(setup.rows)}
        for name, v in per_user.items()
    ])


# -- A/B ----------------------------------------------------------------------------------
def assign_arms(customer_ids: Sequence[str], *, salt: str = "ab") -> np.ndarray:
    """"A" or "B" per customer from the MD5 of salt + id (deterministic everywhere)."""
    return np.array(["B" if hashlib.md5(f"{salt}:{c}".encode()).digest()[0] & 1 else "A" for c in customer_ids])


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(x.mean()) if len(x) else math.nan
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
    return m, m - _Z95 * se, m + _Z95 * se


def ab_compare(
    model_a: ModelSpec,
    model_b: ModelSpec,
    *,
    data: Workspace | EvalSetup,
    k: int = 10,
    weights: Mapping[str, float] | None = None,
    salt: str = "ab",
    alpha: float = 0.05,
    labels: pl.DataFrame | None = None,
    cache: ArtifactCache | None = None,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Compare two recommenders (or two hybrid weightings) on disjoint held-out customers.

    Returns:
        One row per metric (precision, recall, ndcg, map, novelty, coverage): metric,
        model_a, model_b, users_a, users_b, mean_a, low_a, high_a, mean_b, low_b, high_b,
        diff (B − A), diff_low, diff_high, p_value, significant. Coverage is per arm, with
        no interval or test.
    """
    from scipy import stats  # lazy

    setup = data if isinstance(data, EvalSetup) else prepare_evaluation(data, labels=labels, cache=cache, progress=progress)
    weights = DEFAULT_WEIGHTS if weights is None else weights
    name_a, name_b = _spec_name(model_a), _spec_name(model_b)
    if name_a == name_b:
        name_b += " (B)"
    per_user = _per_user(setup, {name_a: _spec_weights(model_a, weights), name_b: _spec_weights(model_b, weights)}, k, progress)
    arm = assign_arms(setup.customer_ids.tolist(), salt=salt)
    in_a, in_b = arm == "A", arm == "B"
    rows = []
    for metric in (*METRICS, "novelty"):
        xa, xb = per_user[name_a][metric][in_a], per_user[name_b][metric][in_b]
        (ma, la, ha), (mb, lb, hb) = _mean_ci(xa), _mean_ci(xb)
        se = math.sqrt(xa.var(ddof=1) / len(xa) + xb.var(ddof=1) / len(xb)) if len(xa) > 1 and len(xb) > 1 else math.nan
        p = float(stats.ttest_ind(xb, xa, equal_var=False).pvalue) if se > 0 else (1.0 if se == 0 else math.nan)
        rows.append({"metric": metric, "mean_a": ma, "low_a": la, "high_a": ha, "mean_b": mb, "low_b": lb, "high_b": hb,
                     "diff": mb - ma, "diff_low": mb - ma - _Z95 * se, "diff_high": mb - ma + _Z95 * se,
                     "p_value": p, "significant": bool(p < alpha)})
    n_items = setup.model.n_items
    cov_a = len(np.unique(per_user[name_a]["items"][in_a])) / n_items
    cov_b = len(np.unique(per_user[name_b]["items"][in_b])) / n_items
    rows.append({"metric": "coverage", "mean_a": cov_a, "low_a": None, "high_a": None, "mean_b": cov_b, "low_b": None,
                 "high_b": None, "diff": cov_b - cov_a, "diff_low": None, "diff_high": None, "p_value": None,
                 "significant": None})
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in ("low_a", "high_a", "low_b", "high_b", "diff_low",
                                                                          "diff_high", "p_value")}).with_columns(
        pl.lit(name_a).alias("model_a"), pl.lit(name_b).alias("model_b"),
        pl.lit(int(in_a.sum())).alias("users_a"), pl.lit(int(in_b.sum())).alias("users_b"),
    ).select("metric", "model_a", "model_b", "users_a", "users_b", "mean_a", "low_a", "high_a", "mean_b", "low_b",
             "high_b", "diff", "diff_low", "diff_high", "p_value", "significant")


# -- tuning -------------------------------------------------------------------------------
def tune_weights(
    setup: EvalSetup,
    *,
    k: int = 10,
    metric: str = "ndcg",
    grid: Mapping[str, Sequence[float]] | None = None,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Score every weighting in ``grid`` on ``setup`` and rank them by ``metric``.

    Tune on a **validation** setup — :func:`prepare_split` applied to the training rows of
    the evaluation split — never on the split you report. Weights are relative, so
    collaborative is pinned at 1 by default.

    Returns:
        One row per weighting: the signal weights, precision, recall, ndcg, map; best first.
    """
    steps = [0, 0.1, 0.25, 0.5, 1]
    grid = dict(grid or {"collaborative": [1.0], "item_item": steps, "content": steps, "segment": steps})
    signals = list(grid)
    combos = [dict(zip(signals, c, strict=True)) for c in itertools.product(*(grid[s] for s in signals))]
    combos = [c for c in combos if any(c.values())]
    specs = {str(i): {s: float(w) for s, w in c.items() if w} for i, c in enumerate(combos)}
    per_user = _per_user(setup, specs, k, progress)
    rows = [{**{s: float(c[s]) for s in signals}, **{m: float(per_user[str(i)][m].mean()) for m in METRICS}}
            for i, c in enumerate(combos)]
    if metric not in METRICS:
        raise ShopperError(f"Cannot tune for '{metric}'; use one of {', '.join(METRICS)}.")
    return pl.DataFrame(rows).sort(metric, descending=True)

