"""RFM and segmentation at scale, side by side with lifetimes.

    python benchmarks/bench_segments.py [--customers 200000] [--seed 7] [--work DIR]
                                        [--lifetimes-customers N] [--skip-clustering]

Generates the sample at the given size (once: the Parquet folder and the workspace are
kept under ``--work`` and reused), then times

* ``rfm_lifetimes(ws)`` (DuckDB + Polars, from the workspace) against
  ``lifetimes.utils.summary_data_from_transaction_data`` on the same purchases (already a
  pandas frame, conversion not timed), checks that every column is equal and prints the
  ratio; ``--lifetimes-customers N`` runs lifetimes (and the comparison) on the purchases of
  the first N customers only, for machines where the full run is too slow;
* ``rfm_marketing(ws)``;
* ``customer_features`` and ``segment`` with each method on all customers (K-Means with k
  chosen by silhouette and with k = 5, GMM with k = 5, HDBSCAN, the RFM grid), with the
  adjusted Rand index against the planted types.

Targets (DESIGN.md / issue 5): RFM ≤ 2 s and ≥ 30× faster than lifetimes; clustering of
200 k customers ≤ 30 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

import shopper_tui  # noqa: F401, I001 - before Polars: it sets Polars' allocator settings, as in the app
import polars as pl


def _timed(label: str, fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds = time.perf_counter() - t
    print(f"  {label:<44} {seconds:8.2f} s")
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "shopper-bench-segments")
    parser.add_argument("--lifetimes-customers", type=int, default=None)
    parser.add_argument("--skip-clustering", action="store_true")
    args = parser.parse_args()

    from shopper_tui.analytics.features import customer_features
    from shopper_tui.analytics.rfm import purchases, rfm_lifetimes, rfm_marketing
    from shopper_tui.analytics.segmentation import segment
    from shopper_tui.analytics.workspace import import_source, open_workspace
    from shopper_tui.sample_data.generator import generate, write

    folder = args.work / f"sample-{args.customers}-{args.seed}"
    if not (folder / "orders.parquet").is_file():
        print(f"generating {args.customers:,} customers into {folder}")
        _timed("generate + write", lambda: write(generate(customers=args.customers, seed=args.seed), folder))
    result, _ = _timed("import (or reuse) workspace", import_source, folder, data_dir=args.work / "data")
    ws = open_workspace(result.path)
    counts = ws.row_counts()
    print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    print("RFM")
    mine, t_mine = _timed("rfm_lifetimes(ws)  [DuckDB + Polars]", rfm_lifetimes, ws)
    _timed("rfm_marketing(ws)", rfm_marketing, ws)
    tx, t_tx = _timed("purchases(ws)  [the transaction log lifetimes needs]", purchases, ws)
    subset = ""
    if args.lifetimes_customers:
        keep = tx["customer_id"].unique().sort().head(args.lifetimes_customers)
        tx = tx.filter(pl.col("customer_id").is_in(keep.implode()))
        subset = f" on {args.lifetimes_customers:,} customers"
    pdf = tx.to_pandas()
    from lifetimes.utils import summary_data_from_transaction_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, t_ref = _timed(f"lifetimes summary_data_from_transaction_data{subset}",
                            summary_data_from_transaction_data, pdf, "customer_id", "ts",
                            monetary_value_col="value", freq="D")
    ours_same, t_same = _timed(f"rfm_lifetimes(purchases frame){subset}", rfm_lifetimes, tx)
    ref_pl = pl.from_pandas(ref.reset_index()).with_columns(pl.col("customer_id").cast(pl.String)).sort("customer_id")
    same_ids = ref_pl["customer_id"].equals(ours_same["customer_id"])
    diffs = {c: float((ref_pl[c] - ours_same[c]).abs().max()) for c in ("frequency", "recency", "T", "monetary_value")}
    print(f"  identical customers: {same_ids}; max |difference| per column: "
          + ", ".join(f"{c} {d:.2e}" for c, d in diffs.items()))
    scale = len(mine) / max(len(ours_same), 1)
    print(f"  speed-up on the same input (frame → frame): {t_ref / t_same:.1f}×")
    print(f"  speed-up workspace → RFM: rfm_lifetimes(ws) vs purchases(ws) + lifetimes{subset}: "
          f"{(t_tx + t_ref * scale) / t_mine:.1f}×"
          + (f" (lifetimes time scaled ×{scale:.1f} to all customers)" if subset else ""))

    if args.skip_clustering:
        return
    truth = ws.table("truth_customers").select("customer_id", "latent_type")
    from sklearn.metrics import adjusted_rand_score

    print(f"Segmentation ({counts['customers']:,} customers)")
    feats, _ = _timed("customer_features(ws, which='both')", customer_features, ws, include_non_buyers=True)
    print(f"  {feats.height:,} customers × {feats.width - 1} columns; clustering times below exclude them")
    for label, kwargs in [
        ("kmeans, k by silhouette", {"method": "kmeans"}),
        ("kmeans, k = 5", {"method": "kmeans", "k": 5}),
        ("gmm, k = 5", {"method": "gmm", "k": 5}),
        ("hdbscan", {"method": "hdbscan"}),
        ("rfm grid", {"method": "rfm"}),
    ]:
        res, _ = _timed(f"segment(ws, {label})", segment, ws, feature_frame=feats, **kwargs)
        j = res.labels.join(truth, on="customer_id")
        noise = float((res.labels["segment_id"] == -1).mean())
        print(f"    k = {res.k}, ARI vs planted types {adjusted_rand_score(j['latent_type'], j['segment_id']):.3f}, "
              f"noise {noise:.1%}" + (f", silhouette {res.silhouette}" if res.silhouette else ""))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
