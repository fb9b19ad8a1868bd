"""Trained results the app shares between screens, computed once and cached on disk.

The segmentation is shared: Segments trains it, and Affinity, Reviews, Funnels, Cohorts and
Recommendations break their numbers down by its segments. :func:`cached_segmentation`
loads it from the artifact cache (keyed by the workspace's data fingerprint and
:data:`SEGMENTATION_VERSION`) or trains and stores it, so a second launch is instant.
No Textual here: the app calls these from its workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from .analytics.cache import ArtifactCache

if TYPE_CHECKING:
    from .analytics.segmentation import SegmentationResult
    from .analytics.sources import ProgressFn
    from .analytics.workspace import Workspace
    from .config import Settings

__all__ = ["SegmentChoice", "SEGMENTATION_VERSION", "cached_segmentation", "artifact_cache", "segment_labels"]

#: Bump when the segmentation engine's output changes meaning.
SEGMENTATION_VERSION = 1
METHODS = ("kmeans", "rfm", "gmm", "hdbscan")
FEATURE_SETS = ("both", "rfm", "behavioural")


@dataclass(frozen=True)
class SegmentChoice:
    """Which segmentation: method, feature set and k (None = chosen by silhouette)."""

    method: str = "kmeans"
    features: str = "both"
    k: int | None = None

    @property
    def key(self) -> str:
        return f"segmentation-{self.method}-{self.features}-{self.k or 'auto'}"

    def describe(self) -> str:
        if self.method == "rfm":
            return "RFM grid"
        name = {"kmeans": "K-Means", "gmm": "Gaussian mixture", "hdbscan": "HDBSCAN"}[self.method]
        k = f", k={self.k}" if self.k else ""
        return f"{name} on {self.features} features{k}"


def artifact_cache(ws: Workspace, settings: Settings) -> ArtifactCache:
    """The artifact cache of this workspace at its current data version."""
    version = ws.meta.get("data_version", "")
    return ArtifactCache(settings.cache_dir, ws.name, f"{ws.fingerprint}{'-' + version if version else ''}")


def cached_segmentation(
    ws: Workspace, settings: Settings, choice: SegmentChoice, *, progress: ProgressFn | None = None,
    force: bool = False,
) -> SegmentationResult:
    """The segmentation for ``choice``: from the cache, or trained (and cached)."""
    from .analytics.segmentation import segment

    cache = artifact_cache(ws, settings)
    if not force:
        hit = cache.load_object(choice.key, version=SEGMENTATION_VERSION)
        if hit is not None:
            return hit
    if choice.method == "rfm":  # the grid needs no scikit-learn
        result = segment(ws, method=choice.method, features=choice.features, k=choice.k, progress=progress)
    else:
        import sklearn.cluster  # noqa: F401 - load its OpenMP runtime now: the limit below applies to loaded ones
        from threadpoolctl import threadpool_limits

        # One OpenMP/BLAS thread for the fit, so a core stays free for the UI thread: with one per
        # core, scikit-learn's K-Means threads kept the event loop waiting 0.2-0.8 s at a time (and
        # on a busy machine ran several times slower); see benchmarks/results/README-performance.md.
        with threadpool_limits(limits=1):
            result = segment(ws, method=choice.method, features=choice.features, k=choice.k, progress=progress)
    cache.save_object(choice.key, result, version=SEGMENTATION_VERSION)
    return result


def segment_labels(result: SegmentationResult) -> pl.DataFrame:
    """customer_id, segment_id, segment (name), probability — what other engines take as labels."""
    names = result.segments.select("segment_id", pl.col("name").alias("segment"))
    return result.labels.join(names, on="segment_id", how="left").select(
        "customer_id", "segment_id", "segment", "probability"
    )
