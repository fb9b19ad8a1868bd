"""Time the sample generator at scale (default 200 000 customers) and print row counts.

    python benchmarks/generate_scale.py [--customers 200000] [--seed 7] [--out DIR]

Target: ``generate(customers=200_000)`` in ≤ 60 s on 2 cores, giving ≈ 1 M orders,
≈ 3 M order lines, 200 k reviews (events follow from the funnel: ≈ 15 per order).
With ``--out`` the Parquet writing is timed too.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from shopper_tui.sample_data.generator import generate, write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="also write the Parquet files here")
    args = parser.parse_args()

    steps: list[tuple[str, float]] = []
    started = time.perf_counter()
    sample = generate(customers=args.customers, seed=args.seed,
                      progress=lambda step, _f: steps.append((step, time.perf_counter() - started)))
    seconds = time.perf_counter() - started
    print(f"generate(customers={args.customers:,}, seed={args.seed}): {seconds:.1f} s")
    for (step, at), (_, until) in zip(steps, steps[1:]):
        print(f"  {step:<12} {until - at:6.1f} s")
    counts = sample.counts()
    for name, rows in counts.items():
        print(f"  {name:<12} {rows:>12,}")
    print(f"  orders/customer {counts['orders'] / counts['customers']:.2f}, "
          f"lines/order {counts['order_items'] / counts['orders']:.2f}, "
          f"events/order {counts['events'] / counts['orders']:.1f}")
    if args.out is not None:
        t = time.perf_counter()
        paths = write(sample, args.out)
        size = sum(p.stat().st_size for p in paths)
        print(f"write: {time.perf_counter() - t:.1f} s, {size / 1e6:.1f} MB in {args.out}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
