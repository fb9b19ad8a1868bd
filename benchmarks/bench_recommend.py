"""Recommender training and serving times, on the bundled sample and at scale.

    python benchmarks/bench_recommend.py [--scale none|generated|synthetic|both]
                                         [--customers 200000] [--products 20000]
                                         [--interactions 3000000] [--threads 2] [--work DIR]

Always: the bundled sample (~5 k customers, 400 products) — load interactions, ALS alone,
every signal, one customer's top 10 with reasons (median / p95 / max over 200 customers),
the same with a live session, and the offline evaluation table.

``--scale generated``: the sample generator at ``--customers`` (kept under ``--work``).
Note that the generator's catalogue grows slowly with customers (400 × (customers /
5 000) ^ 0.4 ≈ 1 750 products at 200 k), while its interactions (order lines + views + cart
adds) far exceed 3 M; it is timed as it is.

``--scale synthetic``: ``--customers`` × ``--products`` with ``--interactions`` distinct
customer × product pairs drawn from a planted low-rank taste model (customers favour a few
of 40 "categories"; product popularity log-normal), with a synthetic catalogue whose names
and categories feed the content signal — the issue's 200 k × 20 k × 3 M shape.

Targets (issue 7): ALS on the bundled sample ≤ 10 s and on 200 k × 20 k × 3 M ≤ 90 s on 2
cores; one customer's recommendations ≤ 50 ms once trained.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; set before numpy loads BLAS

import numpy as np  # noqa: E402
import shopper_tui  # noqa: E402, F401, I001 - before Polars: it sets Polars' allocator settings, as in the app
import polars as pl  # noqa: E402


def _stage_timer():
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()

    def progress(step: str, fraction: float | None = None) -> None:
        if not marks or marks[-1][0] != step:
            marks.append((step, time.perf_counter() - started))

    def report() -> None:
        total = time.perf_counter() - started
        for (step, at), (_, until) in zip(marks, [*marks[1:], ("end", total)]):
            if step != "done":
                print(f"    {step:<28} {until - at:7.2f} s")
        print(f"    {'total':<28} {total:7.2f} s")

    return progress, report


def _latency(model, customers: list[str], *, session: list[str] = ()) -> str:
    from shopper_tui.analytics.recommend import recommend

    recommend(model, customers[0], n=10)  # warm lazy indexes
    times = []
    for c in customers:
        t = time.perf_counter()
        recommend(model, c, n=10, session=session)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return (f"median {statistics.median(times):.1f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms, "
            f"max {times[-1]:.1f} ms over {len(times)}")


def _serve(model, label: str) -> None:
    rng = np.random.default_rng(0)
    customers = [str(c) for c in rng.choice(model.customers, size=min(200, len(model.customers)), replace=False)]
    print(f"  {label} one customer's top 10 + reasons: {_latency(model, customers)}")
    session = model.items.get_column("product_id").sample(3, seed=1).to_list()
    print(f"  {label} with a 3-product live session:  {_latency(model, customers, session=session)}")


def bench_bundled(work: Path, threads: int) -> None:
    from shopper_tui.analytics.rec_eval import evaluate, prepare_evaluation
    from shopper_tui.analytics.recommend import (
        RecParams,
        aggregate_interactions,
        fit_recommender,
        interactions,
    )
    from shopper_tui.analytics.recommend import _fit_als
    from shopper_tui.analytics.workspace import import_source, open_workspace

    print("bundled sample")
    result = import_source("sample", data_dir=work / "data")
    params = RecParams(num_threads=threads)
    with open_workspace(result.path) as ws:
        t = time.perf_counter()
        rows = interactions(ws)
        agg = aggregate_interactions(rows)
        print(f"  interactions: {rows.height:,} rows → {agg.height:,} customer × product pairs "
              f"({time.perf_counter() - t:.2f} s)")
        model = fit_recommender(ws, params=params)  # warm imports (implicit, sklearn)
        t = time.perf_counter()
        _fit_als(model.user_items, factors=params.factors, regularization=params.regularization, alpha=params.alpha,
                 iterations=params.iterations, num_threads=threads, seed=0, report=lambda *a: None)
        print(f"  ALS alone ({params.factors} factors, {params.iterations} iterations, {threads} threads): "
              f"{time.perf_counter() - t:.2f} s")
        progress, report = _stage_timer()
        model = fit_recommender(ws, params=params, progress=progress)
        print("  every signal, from the workspace:")
        report()
        _serve(model, "bundled")
        t = time.perf_counter()
        setup = prepare_evaluation(ws, params=params)
        table = evaluate(setup, k=10)
        print(f"  evaluation (split, fit on train, score {len(setup.rows):,} customers): {time.perf_counter() - t:.2f} s")
        with pl.Config(tbl_cols=-1, tbl_width_chars=140, tbl_hide_dataframe_shape=True):
            print(table.with_columns(pl.col(pl.Float64).round(4)))


def bench_generated(work: Path, customers: int, threads: int) -> None:
    from shopper_tui.analytics.recommend import RecParams, fit_recommender
    from shopper_tui.analytics.workspace import import_source, open_workspace
    from shopper_tui.sample_data.generator import generate_to

    folder = work / f"sample-{customers}"
    if not (folder / "orders.parquet").is_file():
        t = time.perf_counter()
        generate_to(folder, customers=customers, seed=7)
        print(f"  generated {customers:,} customers in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    result = import_source(folder, data_dir=work / "data", name=f"gen{customers}")
    print(f"generated sample, {customers:,} customers (import {time.perf_counter() - t:.1f} s; "
          f"{result.row_counts['products']:,} products, {result.row_counts['order_items']:,} order lines, "
          f"{result.row_counts['events']:,} events)")
    with open_workspace(result.path) as ws:
        progress, report = _stage_timer()
        model = fit_recommender(ws, params=RecParams(num_threads=threads), progress=progress)
        print(f"  {len(model.customers):,} customers × {model.n_items:,} products, {model.user_items.nnz:,} pairs:")
        report()
        _serve(model, "generated")


def _synthetic(customers: int, products: int, pairs: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n_cat = 40
    cat = rng.integers(0, n_cat, products)
    popularity = np.exp(rng.normal(0, 1, products))
    prefs = rng.dirichlet(np.full(n_cat, 0.1), customers)
    per_customer = np.maximum(1, rng.poisson(pairs / customers, customers))
    owner = np.repeat(np.arange(customers), per_customer)
    # category by inverse CDF of the owner's preferences, product by popularity within it
    cum_pref = np.cumsum(prefs, axis=1)
    cum_pref[:, -1] = 1.0
    flat = (np.arange(customers)[:, None] + cum_pref).ravel()  # row r's CDF shifted into [r, r + 1]
    pos = np.searchsorted(flat, owner + rng.random(owner.size), side="right")
    chosen_cat = (pos - owner * n_cat).clip(0, n_cat - 1)
    order = np.argsort(cat, kind="stable")
    starts = np.searchsorted(cat[order], np.arange(n_cat))
    ends = np.searchsorted(cat[order], np.arange(n_cat), side="right")
    cum = np.cumsum(popularity[order])
    base = np.where(starts > 0, cum[starts - 1], 0.0)
    target = base[chosen_cat] + rng.random(owner.size) * (cum[ends - 1] - base)[chosen_cat]
    product = order[np.clip(np.searchsorted(cum, target), starts[chosen_cat], ends[chosen_cat] - 1)]
    kinds = rng.choice([1, 2, 3], size=owner.size, p=[0.6, 0.25, 0.15]).astype(np.int8)
    weight = np.array([0.0, 1.0, 2.0, 4.0])[kinds]
    train = (pl.DataFrame({"customer_id": owner, "product_id": product, "confidence": weight, "kind": kinds})
             .group_by("customer_id", "product_id").agg(pl.col("confidence").sum(), pl.col("kind").max())
             .with_columns(pl.format("C{}", pl.col("customer_id").cast(pl.String).str.zfill(7)),
                           pl.format("P{}", pl.col("product_id").cast(pl.String).str.zfill(6))))
    words = np.array(["Trail", "Rain", "Smart", "Classic", "Compact", "Deluxe", "Wireless", "Organic"])
    items = pl.DataFrame({
        "product_id": [f"P{i:06d}" for i in range(products)],
        "name": [f"{words[i % 8]} {words[(i // 8) % 8]} item {i}" for i in range(products)],
        "category": [f"Category {c}" for c in cat],
        "subcategory": None, "brand": [f"Brand {i % 97}" for i in range(products)],
        "price": np.round(rng.gamma(2.0, 20.0, products), 2),
        "description": [f"a product of category {c}" for c in cat],
    })
    return train, items


def bench_synthetic(customers: int, products: int, pairs: int, threads: int) -> None:
    from shopper_tui.analytics.recommend import DEFAULT_EVENT_WEIGHTS, RecParams
    from shopper_tui.analytics.recommend import fit_model

    t = time.perf_counter()
    train, items = _synthetic(customers, products, pairs)
    print(f"synthetic {customers:,} customers × {products:,} products, {train.height:,} pairs "
          f"(built in {time.perf_counter() - t:.1f} s)")
    params = RecParams(num_threads=threads)
    progress, report = _stage_timer()
    model = fit_model(train, items, **{**params.fit_kwargs(), "event_weights": DEFAULT_EVENT_WEIGHTS},
                      progress=progress)
    report()
    _serve(model, "synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("none", "generated", "synthetic", "both"), default="none")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=3_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "shopper-bench-recommend")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bench_bundled(args.work, args.threads)
    if args.scale in ("synthetic", "both"):
        bench_synthetic(args.customers, args.products, args.interactions, args.threads)
    if args.scale in ("generated", "both"):
        bench_generated(args.work, args.customers, args.threads)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
