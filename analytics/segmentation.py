"""Customer segmentation: the RFM grid, K-Means, HDBSCAN and a Gaussian mixture.

Every method works on the feature matrix of :func:`.features.customer_features` and returns
a :class:`SegmentationResult`: per-customer labels, one row per segment (name and persona
from :mod:`.personas`, size, share, RFM means, revenue share, top categories), a per-segment
profile of every feature, and the fitted :class:`SegmentModel` that :func:`assign` uses to
place new or changed customers without retraining.

**Population.** The RFM grid and ``features="rfm"`` segment buyers (customers with a
completed purchase). ``features="behavioural"`` / ``"both"`` also take customers seen in
events who never bought (their RFM columns carry the fill values documented in
:mod:`.features`). Customers on file with neither are not segmented; the notes say how many.

**Preparation.** Skewed counts and money (:data:`.features.LOG_FEATURES`) are
``log1p``-transformed, then every feature is centred on its median and divided by its
5th–95th percentile range (``RobustScaler(quantile_range=(5, 95))``; the usual 25–75 range
is zero for the many sparse category shares, which would leave them unscaled).

**Methods.**

* ``rfm`` — the named R×F grid of :mod:`.rfm` (quintile scores on this population). The
  model keeps the sorted training recency and order counts, so a new customer is scored
  against the same thresholds.
* ``kmeans`` — ``k`` chosen by the mean silhouette over ``k_range``: candidates are fitted
  on a random sample of at most 10 000 customers (``n_init=4``) and scored on at most 5 000
  of them; the curve is reported in ``silhouette``; the chosen ``k`` is the smallest whose silhouette is within 0.01 of the
  best (on real customer data the curve is often flat past the true structure, and a
  difference that small is within the sampling noise, so the simpler model wins); it is then
  refitted on everyone (``n_init=4``).
* ``gmm`` — diagonal-covariance Gaussian mixture (``reg_covar=1e-3``), ``k`` from the same
  silhouette curve when not given; ``probability`` is each customer's posterior membership
  of the assigned component.
* ``hdbscan`` — density clustering on the first 4 principal components of the scaled
  features (density estimates degrade quickly with dimension), ``min_cluster_size`` = 2 % of
  the fitted customers, ``min_samples=5``. Above 20 000 customers it is fitted on a random
  sample of 20 000 and the rest are placed with ``hdbscan.approximate_predict`` (the notes
  say so). Noise is its own segment, id -1, named "Unclustered".

Segment ids are 0, 1, … by decreasing size (the grid uses the fixed order of
:data:`.rfm.RFM_GRID_NAMES`); K-Means and the grid give ``probability`` 1.

scikit-learn and hdbscan are imported inside the functions that need them, so importing
this module stays cheap (the app starts without them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .errors import ShopperError
from .features import (
    LOG_FEATURES,
    RFM_FEATURES,
    SHARE_PREFIXES,
    customer_features,
    feature_columns,
    reference_date,
)
from .personas import describe_segments
from .purchases import guest_share
from .rfm import RFM_GRID, RFM_GRID_NAMES

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = [
    "METHODS",
    "FEATURE_SETS",
    "NOISE_ID",
    "SegmentModel",
    "SegmentationResult",
    "segment",
    "assign",
    "with_members",
]

METHODS = ("rfm", "kmeans", "hdbscan", "gmm")
FEATURE_SETS = ("rfm", "behavioural", "both")
NOISE_ID = -1
NOISE_NAME = "Unclustered"
#: Candidate k-means models are fitted on at most this many customers …
SILHOUETTE_FIT_SAMPLE = 10_000
#: … and scored by the mean silhouette of at most this many of them (O(n²) distances).
SILHOUETTE_SAMPLE = 5_000
#: Silhouettes within this of the best count as a tie, won by the smallest k.
SILHOUETTE_TOLERANCE = 0.01
HDBSCAN_SAMPLE = 20_000
HDBSCAN_COMPONENTS = 4

ProgressFn = Callable[[str, "float | None"], None]

_LABEL_SCHEMA = {"customer_id": pl.String(), "segment_id": pl.Int32(), "probability": pl.Float64()}


class _RfmGrid:
    """The grid as a predictor: scores against the training population's sorted values."""

    def __init__(self, recency_days: np.ndarray, orders: np.ndarray) -> None:
        self.recency = np.sort(recency_days)
        self.orders = np.sort(orders)

    def scores(self, recency_days: np.ndarray, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.recency)
        # score = 1 + floor(5 · share strictly worse): more days is worse, fewer orders is worse.
        worse_r = n - np.searchsorted(self.recency, recency_days, side="right")
        worse_f = np.searchsorted(self.orders, orders, side="left")
        r = np.clip(1 + np.floor(5 * worse_r / n), 1, 5).astype(np.int64)
        f = np.clip(1 + np.floor(5 * worse_f / n), 1, 5).astype(np.int64)
        return r, f

    def predict(self, recency_days: np.ndarray, orders: np.ndarray) -> np.ndarray:
        r, f = self.scores(recency_days, orders)
        lookup = np.zeros((6, 6), dtype=np.int64)
        for (rr, ff), name in RFM_GRID.items():
            lookup[rr, ff] = RFM_GRID_NAMES.index(name)
        return lookup[r, f]


@dataclass
class SegmentModel:
    """Everything needed to place a customer into existing segments.

    Attributes:
        method: "rfm", "kmeans", "hdbscan" or "gmm".
        feature_names: Input columns, in order.
        log_features: Those ``log1p``-transformed before scaling.
        fill_values: Training medians, used for nulls in new data.
        scaler: Fitted scaler (None for the grid).
        reducer: Fitted PCA in front of HDBSCAN (None otherwise).
        estimator: Fitted KMeans / GaussianMixture / HDBSCAN, or the grid.
        label_map: Estimator label → segment id.
        observation_end: Reference date of the training features.
    """

    method: str
    feature_names: tuple[str, ...]
    log_features: tuple[str, ...]
    fill_values: dict[str, float]
    scaler: Any
    reducer: Any
    estimator: Any
    label_map: dict[int, int]
    observation_end: datetime

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The raw (log-transformed, unscaled) input matrix of a feature frame."""
        missing = [c for c in self.feature_names if c not in frame.columns and not c.startswith(SHARE_PREFIXES)]
        if missing:
            raise ShopperError(
                f"Cannot assign customers: the feature frame lacks {', '.join(missing)}.",
                hint="Build it with analytics.features.customer_features(ws, which='both').",
            )
        exprs = []
        for c in self.feature_names:
            col = pl.col(c) if c in frame.columns else pl.lit(0.0)  # a share absent from new data is 0
            col = col.cast(pl.Float64).fill_null(self.fill_values.get(c, 0.0))
            exprs.append((col.log1p() if c in self.log_features else col).alias(c))
        return frame.select(exprs).to_numpy().astype(np.float64, copy=False)

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Scaled (and, for HDBSCAN, reduced) inputs of a feature frame."""
        z = self.scaler.transform(self.matrix(frame))
        return self.reducer.transform(z) if self.reducer is not None else z


@dataclass
class SegmentationResult:
    """Outcome of :func:`segment`.

    Attributes:
        method: The method used.
        features: The feature set clustered on ("rfm", "behavioural", "both"; "rfm" for the grid).
        k: Number of segments, noise excluded.
        labels: customer_id, segment_id (Int32, -1 = noise), probability (Float64).
        segments: segment_id, name, persona, size, share, buyers, mean_recency_days (buyers
            only), mean_orders, mean_spend, revenue_share, top_categories (up to 3, by
            the mean share of each buyer's spend, so every buyer counts once), sorted by
            segment_id with noise last.
        profile: segment_id, size and the mean of every feature (for side-by-side compares).
        features_frame: The full per-customer feature frame the result was built from.
        model: The fitted model for :func:`assign`.
        silhouette: (k, mean silhouette) per candidate k (K-Means and GMM with k chosen).
        notes: Plain-language remarks to show with the result (sampling, exclusions).
    """

    method: str
    features: str
    k: int
    labels: pl.DataFrame
    segments: pl.DataFrame
    profile: pl.DataFrame
    features_frame: pl.DataFrame
    model: SegmentModel
    silhouette: list[tuple[int, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _no_progress(step: str, fraction: float | None = None) -> None:  # noqa: ARG001
    return None


def _relabel_by_size(raw: np.ndarray) -> dict[int, int]:
    """Estimator label → segment id, 0 for the largest cluster; noise (-1) stays -1."""
    labels, counts = np.unique(raw[raw >= 0], return_counts=True)
    order = sorted(zip(labels.tolist(), counts.tolist()), key=lambda lc: (-lc[1], lc[0]))
    mapping = {int(lab): i for i, (lab, _) in enumerate(order)}
    mapping[NOISE_ID] = NOISE_ID
    return mapping


def _apply_map(raw: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Map estimator labels to segment ids; labels the map does not know become noise."""
    raw = np.asarray(raw, dtype=np.int64)
    size = max(max(mapping), int(raw.max(initial=0))) + 2
    lookup = np.full(size, NOISE_ID, dtype=np.int64)
    for lab, sid in mapping.items():
        lookup[lab + 1] = sid
    return lookup[np.clip(raw, -1, None) + 1]


def _choose_k(
    z: np.ndarray, k_range: Sequence[int], seed: int, progress: ProgressFn, lo: float, hi: float
) -> tuple[int, list[tuple[int, float]]]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = z[rng.permutation(len(z))[:SILHOUETTE_FIT_SAMPLE]]
    scored = min(len(sample), SILHOUETTE_SAMPLE)  # the sample is in random order: its head is random too
    ks = sorted({int(k) for k in k_range if 2 <= int(k) < scored})
    if not ks:
        raise ShopperError(f"Too few customers ({len(z)}) to choose a number of segments from {list(k_range)}.")
    curve: list[tuple[int, float]] = []
    for i, k in enumerate(ks):
        progress(f"trying k = {k}", lo + (hi - lo) * i / len(ks))
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(sample)
        head = labels[:scored]
        score = float(silhouette_score(sample[:scored], head)) if len(np.unique(head)) > 1 else -1.0
        curve.append((k, round(score, 6)))
    top = max(score for _, score in curve)
    best = min(k for k, score in curve if score >= top - SILHOUETTE_TOLERANCE)
    return best, curve


def segment(
    ws: Workspace,
    *,
    method: str = "kmeans",
    features: str = "both",
    k: int | None = None,
    k_range: Sequence[int] = range(2, 11),
    seed: int = 0,
    observation_end: date | datetime | str | None = None,
    feature_frame: pl.DataFrame | None = None,
    progress: ProgressFn | None = None,
) -> SegmentationResult:
    """Segment the workspace's customers.

    Args:
        ws: The workspace.
        method: "rfm" (named grid), "kmeans", "hdbscan" or "gmm" (see the module docstring).
        features: "rfm", "behavioural" or "both" — what the clustering sees (ignored by the
            grid, which always uses the R and F scores).
        k: Number of clusters for K-Means / GMM; None = chosen by silhouette over ``k_range``.
        k_range: Candidate k values.
        seed: Random seed (sampling and estimators).
        observation_end: Reference date of the features; default the latest purchase or event day.
        feature_frame: Features already built with ``customer_features(ws, which="both",
            observation_end=..., include_non_buyers=True)``, to try several methods without
            rebuilding them (``observation_end`` must then be the one they were built with).
        progress: ``progress(step, fraction)`` called between stages; it may raise
            :class:`.errors.Cancelled` to stop the work.

    Raises:
        ShopperError: Unknown method or feature set, or too few customers to segment.
    """
    if method not in METHODS:
        raise ShopperError(f"Unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}.")
    if features not in FEATURE_SETS:
        raise ShopperError(f"Unknown feature set {features!r}; choose one of {', '.join(FEATURE_SETS)}.")
    progress = progress or _no_progress
    features = "rfm" if method == "rfm" else features
    notes: list[str] = []

    progress("building features", 0.0)
    end = reference_date(ws, observation_end)
    if feature_frame is None:
        frame = customer_features(ws, which="both", observation_end=end, include_non_buyers=features != "rfm")
    else:
        missing = [c for c in (*RFM_FEATURES, "has_purchase", "has_events") if c not in feature_frame.columns]
        if missing:
            raise ShopperError(
                f"The feature frame lacks {', '.join(missing)}; build it with customer_features(ws, which='both')."
            )
        frame = feature_frame
    if features == "rfm":
        frame = frame.filter(pl.col("has_purchase") == 1)
    on_file = int(ws.sql("SELECT count(*) FROM customers").item())
    left_out = on_file - int(frame.join(ws.sql("SELECT customer_id FROM customers"), on="customer_id").height)
    if left_out > 0:
        who = "without a completed purchase" if features == "rfm" else "with no completed purchase and no events"
        many = left_out != 1
        notes.append(f"{left_out:,} customer{'s' if many else ''} on file {who} {'are' if many else 'is'} not segmented.")
    guests = guest_share(ws).note()
    if guests:
        notes.append(guests[0].upper() + guests[1:] + ".")
    non_buyers = int((frame["has_purchase"] == 0).sum())
    if non_buyers:
        many = non_buyers != 1
        notes.append(
            f"{non_buyers:,} customer{'s' if many else ''} who browsed but never bought {'are' if many else 'is'} "
            "included (no orders, recency = days since first visit)."
        )
    if frame.height < 3:
        n = frame.height
        raise ShopperError(f"Only {n} customer{'' if n == 1 else 's'} to segment; at least 3 are needed.")
    progress("preparing", 0.15)

    curve: list[tuple[int, float]] = []
    if method == "rfm":
        grid = _RfmGrid(frame["recency_days"].to_numpy(), frame["orders"].to_numpy())
        ids = grid.predict(frame["recency_days"].to_numpy(), frame["orders"].to_numpy())
        model = SegmentModel(
            method, ("recency_days", "orders"), (), {}, None, None, grid,
            {i: i for i in range(len(RFM_GRID_NAMES))}, end,
        )
        prob = np.ones(len(ids))
        names = {i: name for i, name in enumerate(RFM_GRID_NAMES)}
    else:
        from sklearn.preprocessing import RobustScaler

        cols = feature_columns(frame, features)
        fill = {c: float(v) for c, v in frame.select(pl.col(cols).median()).row(0, named=True).items()}
        model = SegmentModel(
            method, tuple(cols), tuple(c for c in cols if c in LOG_FEATURES), fill, None, None, None, {}, end
        )
        x = model.matrix(frame)
        model.scaler = RobustScaler(quantile_range=(5.0, 95.0)).fit(x)
        z = model.scaler.transform(x)
        if method in ("kmeans", "gmm"):
            if k is None:
                k, curve = _choose_k(z, k_range, seed, progress, 0.2, 0.7)
                notes.append(
                    f"k = {k}: the smallest k within {SILHOUETTE_TOLERANCE} of the best silhouette over "
                    f"k = {curve[0][0]}–{curve[-1][0]}"
                    + (f" (scored on a sample of {SILHOUETTE_SAMPLE:,} customers)." if len(z) > SILHOUETTE_SAMPLE else ".")
                )
            if not 1 <= k < len(z):
                raise ShopperError(f"k = {k} is not possible with {len(z)} customers.")
            progress(f"fitting {method} with k = {k}", 0.75)
            raw, prob = _fit_centroids(model, z, method, k, seed)
        else:
            progress("fitting hdbscan", 0.3)
            raw, prob = _fit_hdbscan(model, z, seed, notes)
        model.label_map = _relabel_by_size(raw)
        ids = _apply_map(raw, model.label_map)
        names = {}

    labels = pl.DataFrame(
        {"customer_id": frame["customer_id"], "segment_id": ids.astype(np.int32), "probability": prob.astype(np.float64)},
        schema=_LABEL_SCHEMA,
    )
    progress("describing segments", 0.9)
    segments, profile = _summarise(frame, labels, fixed_names=names)
    n_clusters = int(segments.filter(pl.col("segment_id") != NOISE_ID).height)
    progress("done", 1.0)
    return SegmentationResult(
        method=method, features=features, k=n_clusters, labels=labels, segments=segments, profile=profile,
        features_frame=frame, model=model, silhouette=curve, notes=notes,
    )


def _fit_centroids(model: SegmentModel, z: np.ndarray, method: str, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        model.estimator = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        return model.estimator.labels_.astype(np.int64), np.ones(len(z))
    from sklearn.mixture import GaussianMixture

    model.estimator = GaussianMixture(
        n_components=k, covariance_type="diag", reg_covar=1e-3, random_state=seed, max_iter=300
    ).fit(z)
    post = model.estimator.predict_proba(z)
    return post.argmax(axis=1).astype(np.int64), post.max(axis=1)


def _fit_hdbscan(model: SegmentModel, z: np.ndarray, seed: int, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import hdbscan
    from sklearn.decomposition import PCA

    dims = min(HDBSCAN_COMPONENTS, z.shape[1])
    model.reducer = PCA(n_components=dims, random_state=seed).fit(z)
    w = model.reducer.transform(z)
    n = len(w)
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, HDBSCAN_SAMPLE, replace=False)) if n > HDBSCAN_SAMPLE else np.arange(n)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=max(10, len(fit_idx) // 50), min_samples=5, prediction_data=True
    ).fit(w[fit_idx])
    model.estimator = clusterer
    raw = np.full(n, NOISE_ID, dtype=np.int64)
    prob = np.zeros(n)
    raw[fit_idx] = clusterer.labels_
    prob[fit_idx] = clusterer.probabilities_
    if n > HDBSCAN_SAMPLE:
        rest = np.setdiff1d(np.arange(n), fit_idx, assume_unique=True)
        lab, strength = hdbscan.approximate_predict(clusterer, w[rest])
        raw[rest] = lab
        prob[rest] = strength
        notes.append(
            f"HDBSCAN was fitted on a random sample of {HDBSCAN_SAMPLE:,} of {n:,} customers; "
            "the rest were placed with approximate prediction."
        )
    notes.append(f"HDBSCAN ran on the first {dims} principal components of the scaled features.")
    return raw, prob


def _summarise(
    frame: pl.DataFrame, labels: pl.DataFrame, *, fixed_names: dict[int, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    joined = frame.join(labels, on="customer_id")
    total_spend = float(joined["spend"].sum()) or 1.0
    buy_cols = [c for c in joined.columns if c.startswith("buy_share:")]
    numeric = [c for c in frame.columns if c != "customer_id"]
    profile = (
        joined.group_by("segment_id")
        .agg(size=pl.len(), **{c: pl.col(c).cast(pl.Float64).mean() for c in numeric})
        .sort(pl.col("segment_id") == NOISE_ID, "segment_id")
    )
    cat_spend = joined.filter(pl.col("has_purchase") == 1).group_by("segment_id").agg(
        [pl.col(c).mean().alias(c.removeprefix("buy_share:")) for c in buy_cols]
    )
    top = (
        cat_spend.unpivot(index="segment_id", variable_name="category", value_name="v")
        .filter(pl.col("v") > 0, pl.col("category") != "Other")
        .sort("segment_id", "v", "category", descending=[False, True, False])
        .group_by("segment_id", maintain_order=True)
        .agg(top_categories=pl.col("category").head(3))
        if buy_cols
        else pl.DataFrame(schema={"segment_id": pl.Int32(), "top_categories": pl.List(pl.String())})
    )
    stats = (
        joined.group_by("segment_id")
        .agg(
            size=pl.len(),
            buyers=pl.col("has_purchase").cast(pl.Int64).sum(),
            mean_recency_days=pl.col("recency_days").filter(pl.col("has_purchase") == 1).mean(),
            mean_orders=pl.col("orders").mean(),
            mean_spend=pl.col("spend").mean(),
            revenue_share=pl.col("spend").sum() / total_spend,
        )
        .with_columns(share=pl.col("size") / labels.height)
        .join(top, on="segment_id", how="left")
        .with_columns(pl.col("top_categories").fill_null(pl.lit([], dtype=pl.List(pl.String()))))
    )
    personas = describe_segments(frame, labels, fixed_names={**fixed_names, NOISE_ID: NOISE_NAME})
    segments = (
        stats.join(personas, on="segment_id", how="left")
        .select(
            pl.col("segment_id").cast(pl.Int32), "name", "persona", pl.col("size").cast(pl.Int64), "share",
            pl.col("buyers").cast(pl.Int64), "mean_recency_days", "mean_orders", "mean_spend", "revenue_share",
            "top_categories",
        )
        .sort(pl.col("segment_id") == NOISE_ID, "segment_id")
    )
    return segments, profile


def with_members(result: SegmentationResult, labels: pl.DataFrame,
                 features: pl.DataFrame | None = None) -> SegmentationResult:
    """``result`` with new members: ``labels`` replace its labels, the rows of ``features``
    (recomputed on newer data, e.g. by :func:`.watch.reassign`) replace those customers' rows
    of ``features_frame``, and sizes, shares, buyers, R/F/M means, revenue shares, top
    categories, personas and the profile are recomputed. Names stay the trained model's; a
    segment left without members keeps its row with zero counts and no means.
    """
    import dataclasses

    frame = result.features_frame
    if features is not None and not features.is_empty():
        fresh = features.select(
            pl.col(c).cast(t) if c in features.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in frame.schema.items()
        )
        frame = pl.concat([frame.join(fresh.select("customer_id"), on="customer_id", how="anti"), fresh])
    names = {int(i): str(n) for i, n in result.segments.select("segment_id", "name").iter_rows()}
    segments, profile = _summarise(frame, labels, fixed_names=names)
    empty = result.segments.join(segments.select("segment_id"), on="segment_id", how="anti")
    if not empty.is_empty():
        empty = empty.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("size"), pl.lit(0.0).alias("share"), pl.lit(0, dtype=pl.Int64).alias("buyers"),
            pl.lit(None, dtype=pl.Float64).alias("mean_recency_days"), pl.lit(None, dtype=pl.Float64).alias("mean_orders"),
            pl.lit(None, dtype=pl.Float64).alias("mean_spend"), pl.lit(0.0).alias("revenue_share"),
            pl.lit([], dtype=pl.List(pl.String())).alias("top_categories"),
        ).select(segments.columns).cast(segments.schema)
        segments = pl.concat([segments, empty]).sort(pl.col("segment_id") == NOISE_ID, "segment_id")
    return dataclasses.replace(result, labels=labels, segments=segments, profile=profile, features_frame=frame)


def assign(model: SegmentModel, new_customer_features: pl.DataFrame) -> pl.DataFrame:
    """Place customers into the model's existing segments, without retraining.

    Args:
        model: ``SegmentationResult.model``.
        new_customer_features: A frame from :func:`.features.customer_features` (new or
            changed customers; computed on the current data, ideally with the model's
            ``observation_end`` or a later one).

    Returns:
        customer_id, segment_id, probability — as in ``SegmentationResult.labels``. HDBSCAN
        uses ``approximate_predict`` (noise → -1, probability = its strength).
    """
    frame = new_customer_features
    if frame.is_empty():
        return pl.DataFrame(schema=_LABEL_SCHEMA)
    if model.method == "rfm":
        ids = model.estimator.predict(
            frame["recency_days"].cast(pl.Float64).to_numpy(), frame["orders"].cast(pl.Float64).to_numpy()
        )
        prob = np.ones(len(ids))
    else:
        z = model.transform(frame)
        if model.method == "kmeans":
            raw, prob = model.estimator.predict(z).astype(np.int64), np.ones(len(z))
        elif model.method == "gmm":
            post = model.estimator.predict_proba(z)
            raw, prob = post.argmax(axis=1).astype(np.int64), post.max(axis=1)
        else:
            import hdbscan

            raw, prob = hdbscan.approximate_predict(model.estimator, z)
            raw = np.asarray(raw, dtype=np.int64)
        ids = _apply_map(raw, model.label_map)
    return pl.DataFrame(
        {"customer_id": frame["customer_id"], "segment_id": ids.astype(np.int32), "probability": np.asarray(prob, dtype=np.float64)},
        schema=_LABEL_SCHEMA,
    )
