"""Write-back: segment definitions, per-customer features with segments, and top-N
recommendations into MongoDB collections, where other systems (CRM, e-mail, site) read them.

Collections (names configurable) and their documents:

==================  ================================================================================
``segments``        one per segment of one method: ``_id`` = ``"<method>:<segment_id>"``, method,
                    segment_id, name, persona, size, share, buyers, mean_recency_days, mean_orders,
                    mean_spend, revenue_share, top_categories, ``profile`` (mean of every feature).
``user_features``   one per customer: ``_id`` = customer_id, the features (share columns nested:
                    ``view_share: {Outdoor: 0.4, …}``), method, segment_id, segment (name),
                    segment_probability.
``recommendations`` one per customer: ``_id`` = customer_id, ``items`` = [{rank, product_id, name,
                    category, score, why}, …] best first.
==================  ================================================================================

Every document also carries ``run_id`` and ``exported_at`` (UTC). Writes are upserts keyed by
``_id`` (``replaceOne`` with ``upsert``), in unordered batches, so a run repeated on the same
data leaves the same documents (only run_id and exported_at change) and an interrupted run is
completed by running it again. After every upsert of a collection succeeded, documents of an
earlier run that this run did not write are removed (``prune``): customers who left the data,
segments of a previous fit of the same method (other methods' segments are kept).

Indexes created (idempotent): ``segments`` (method, segment_id) unique; ``user_features``
segment_id and (method, segment_id); ``recommendations`` ``items.product_id`` ("who is shown
product X"); every collection ``run_id``.

Field names: "." and a leading "$" in names become "_" (MongoDB reserves them). Numbers are
written to :data:`SIGNIFICANT_DIGITS` significant digits, so a repeated run writes the same
values even when parallel aggregation sums in another order (last-bit differences).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import polars as pl
from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import PyMongoError

from .errors import ShopperError
from .sources import mask_uri
from .sources.mongo import _database, _scrub

if TYPE_CHECKING:
    from .recommenders import RecModel
    from .segmentation import SegmentationResult

__all__ = [
    "COLLECTIONS",
    "BATCH",
    "SIGNIFICANT_DIGITS",
    "WriteBackResult",
    "segment_frames",
    "top_n_recommendations",
    "write_back",
]

COLLECTIONS: tuple[str, ...] = ("segments", "user_features", "recommendations")
BATCH = 1_000  #: documents per bulk write
SIGNIFICANT_DIGITS = 10

_INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, object]]]] = {
    "segments": [([("method", ASCENDING), ("segment_id", ASCENDING)], {"unique": True}), ([("run_id", ASCENDING)], {})],
    "user_features": [([("segment_id", ASCENDING)], {}), ([("method", ASCENDING), ("segment_id", ASCENDING)], {}),
                      ([("run_id", ASCENDING)], {})],
    "recommendations": [([("items.product_id", ASCENDING)], {}), ([("run_id", ASCENDING)], {})],
}


@dataclass(frozen=True)
class WriteBackResult:
    """Outcome of :func:`write_back`.

    Attributes:
        target: Masked URI of the database written to.
        run_id: This run's id (on every document written).
        exported_at: This run's timestamp (on every document written).
        written: Collection → documents upserted or replaced.
        removed: Collection → documents of earlier runs removed by ``prune``.
        indexes: Collection → index names present after the run.
        seconds: Wall time.
    """

    target: str
    run_id: str
    exported_at: datetime
    written: dict[str, int]
    removed: dict[str, int]
    indexes: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


# -- frames to write --------------------------------------------------------------------------

def segment_frames(result: SegmentationResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``segments`` and ``user_features`` frames of a segmentation, ready for :func:`write_back`.

    Returns:
        (segments: the result's segments plus ``profile`` — a struct of the per-segment feature
        means; user_features: customer_id, the features, segment_id, segment (name),
        segment_probability — one row per segmented customer).
    """
    profile_cols = [c for c in result.profile.columns if c not in ("segment_id", "size")]
    profile = _rounded(result.profile).select(pl.col("segment_id").cast(pl.Int32),
                                    pl.struct([pl.col(c).alias(_safe(c)) for c in profile_cols]).alias("profile")) if profile_cols else None
    segments = result.segments.with_columns(pl.col("segment_id").cast(pl.Int32))
    if profile is not None:
        segments = segments.join(profile, on="segment_id", how="left")
    names = result.segments.select(pl.col("segment_id").cast(pl.Int32), segment="name")
    users = (
        result.features_frame.join(result.labels.rename({"probability": "segment_probability"}), on="customer_id")
        .join(names, on="segment_id", how="left")
    )
    ordered = ["customer_id", *[c for c in users.columns if c not in ("customer_id", "segment_id", "segment",
                                                                        "segment_probability")],
               "segment_id", "segment", "segment_probability"]
    return segments, users.select(ordered).sort("customer_id")


def top_n_recommendations(
    model: RecModel,
    customers: Iterable[str],
    *,
    n: int = 10,
    progress: Callable[[str, float | None], None] | None = None,
) -> pl.DataFrame:
    """Top ``n`` products per customer with :func:`.recommend.recommend` (history only, no session).

    Returns:
        customer_id, rank, product_id, name, category, score, why — one row per recommendation.
    """
    from .recommend import recommend

    ids = list(customers)
    parts: list[pl.DataFrame] = []
    for i, cid in enumerate(ids):
        if progress is not None and i % 500 == 0:
            progress("recommending", i / max(len(ids), 1))
        items = recommend(model, cid, n=n).items
        parts.append(items.select(pl.lit(cid, dtype=pl.String).alias("customer_id"), "rank", "product_id", "name",
                                  "category", "score", "why"))
    if progress is not None:
        progress("recommending", 1.0)
    if not parts:
        return pl.DataFrame(schema={"customer_id": pl.String(), "rank": pl.Int32(), "product_id": pl.String(),
                                    "name": pl.String(), "category": pl.String(), "score": pl.Float64(),
                                    "why": pl.String()})
    return pl.concat(parts)


# -- frames to documents ------------------------------------------------------------------------

def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    return frame.with_columns(pl.col(floats).round_sig_figs(SIGNIFICANT_DIGITS)) if floats else frame


def _safe(name: str) -> str:
    name = name.replace(".", "_")
    return "_" + name[1:] if name.startswith("$") else name


def _nest_shares(frame: pl.DataFrame) -> pl.DataFrame:
    """``view_share:Outdoor`` columns → a ``view_share`` struct with an ``Outdoor`` field."""
    groups: dict[str, list[str]] = {}
    for c in frame.columns:
        if ":" in c:
            groups.setdefault(c.split(":", 1)[0], []).append(c)
    if not groups:
        return frame.rename({c: _safe(c) for c in frame.columns if _safe(c) != c})
    structs = [pl.struct([pl.col(c).alias(_safe(c.split(":", 1)[1])) for c in cols]).alias(_safe(prefix))
               for prefix, cols in groups.items()]
    flat = [c for c in frame.columns if ":" not in c]
    return frame.select(*[pl.col(c).alias(_safe(c)) for c in flat], *structs)


def _documents(collection: str, frame: pl.DataFrame, *, method: str | None) -> pl.DataFrame:
    """The collection's documents as a frame whose rows are the documents (``_id`` first)."""
    frame = _rounded(frame)
    if collection == "segments":
        if method is None:
            raise ShopperError("Writing segments needs the segmentation method (rfm, kmeans, hdbscan, gmm).")
        out = frame.with_columns(pl.lit(method).alias("method"))
        return _nest_shares(out.select(pl.concat_str(pl.lit(f"{method}:"), pl.col("segment_id").cast(pl.String)).alias("_id"),
                                       "method", pl.exclude("method")))
    if collection == "user_features":
        if "segment_probability" not in frame.columns and "probability" in frame.columns:
            frame = frame.rename({"probability": "segment_probability"})
        missing = {"customer_id", "segment_id"} - set(frame.columns)
        if missing:
            raise ShopperError(f"user_features needs columns {', '.join(sorted(missing))}.")
        if method is not None:
            frame = frame.with_columns(pl.lit(method).alias("method"))
        return _nest_shares(frame.select(pl.col("customer_id").cast(pl.String).alias("_id"), pl.all()))
    if collection == "recommendations":
        missing = {"customer_id", "rank", "product_id"} - set(frame.columns)
        if missing:
            raise ShopperError(f"recommendations needs columns {', '.join(sorted(missing))}.")
        item_cols = [c for c in ("rank", "product_id", "name", "category", "score", "why") if c in frame.columns]
        return (frame.sort("customer_id", "rank")
                .group_by("customer_id", maintain_order=True)
                .agg(pl.struct(item_cols).alias("items"))
                .select(pl.col("customer_id").cast(pl.String).alias("_id"), "customer_id", "items"))
    raise ShopperError(f"Unknown write-back collection '{collection}'; choose from {', '.join(COLLECTIONS)}.")


# -- writing -----------------------------------------------------------------------------------

def _new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_back(
    uri: str,
    *,
    segments: pl.DataFrame | None = None,
    user_features: pl.DataFrame | None = None,
    recommendations: pl.DataFrame | None = None,
    method: str | None = None,
    names: Mapping[str, str] | None = None,
    run_id: str | None = None,
    prune: bool = True,
    progress: Callable[[str, float | None], None] | None = None,
    timeout_ms: int | None = None,
) -> WriteBackResult:
    """Upsert results into the database named by ``uri`` (see the module docstring).

    Args:
        uri: ``mongodb://…/dbname`` to write to (credentials as for reading).
        segments: Segment definitions (:func:`segment_frames`); needs ``method``.
        user_features: customer_id, features, segment_id, segment_probability.
        recommendations: customer_id, rank, product_id (+ name, category, score, why).
        method: Segmentation method the segments and labels come from.
        names: Collection-name overrides, e.g. ``{"segments": "shopper_segments"}``.
        run_id: Id stamped on every document (default: UTC time + random suffix).
        prune: Remove documents of earlier runs that this run did not write.
        progress: ``progress(step, fraction)``.
        timeout_ms: Server selection timeout.

    Raises:
        ShopperError: Nothing to write, unreachable server, no permission to write, or a
            server error (messages masked).
    """
    started = time.perf_counter()
    report = progress or (lambda step, fraction=None: None)
    frames = {c: f for c, f in (("segments", segments), ("user_features", user_features),
                                ("recommendations", recommendations)) if f is not None}
    if not frames:
        raise ShopperError("Nothing to write back: give segments, user_features and/or recommendations.")
    names = {c: (names or {}).get(c, c) for c in COLLECTIONS}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    run_id = run_id or _new_run_id(now)
    docs = {c: _documents(c, f, method=method) for c, f in frames.items()}
    written: dict[str, int] = {}
    removed: dict[str, int] = {}
    indexes: dict[str, list[str]] = {}
    with _database(uri, timeout_ms=timeout_ms) as (db, creds):
        try:
            for collection, frame in docs.items():
                coll = db[names[collection]]
                label = f"writing {names[collection]}"
                report(label, 0.0)
                stamp = frame.with_columns(pl.lit(run_id).alias("run_id"),
                                           pl.lit(now.replace(tzinfo=None)).cast(pl.Datetime("ms")).alias("exported_at"))
                done = 0
                for part in stamp.iter_slices(BATCH):
                    ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in part.to_dicts()]
                    res = coll.bulk_write(ops, ordered=False)
                    done += res.upserted_count + res.matched_count
                    report(label, done / max(stamp.height, 1))
                written[collection] = done
                if prune:
                    stale: dict[str, object] = {"run_id": {"$ne": run_id}}
                    if collection == "segments":
                        stale["method"] = method
                    removed[collection] = coll.delete_many(stale).deleted_count
                for keys, options in _INDEXES[collection]:
                    coll.create_index(keys, **options)
                indexes[collection] = sorted(coll.index_information())
        except PyMongoError as exc:
            raise ShopperError(
                f"MongoDB error while writing to {mask_uri(uri)}: {_scrub(str(exc), creds, uri)}",
                hint="Documents already written stay; running the export again completes it (writes are upserts). "
                "Writing needs the readWrite role on the database.",
            ) from None
    return WriteBackResult(target=mask_uri(uri), run_id=run_id, exported_at=now, written=written, removed=removed,
                           indexes=indexes, seconds=time.perf_counter() - started)


def parse_collections(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"segments,recommendations"`` → the collections to write, checked; None → all."""
    if text is None:
        return COLLECTIONS
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    unknown = [p for p in parts if p not in COLLECTIONS]
    if unknown or not parts:
        raise ShopperError(f"--collections: '{','.join(unknown) or text}' is not one of {', '.join(COLLECTIONS)}.",
                           hint="For example --collections segments,user_features.")
    return tuple(dict.fromkeys(parts))


__all__ += ["parse_collections"]
