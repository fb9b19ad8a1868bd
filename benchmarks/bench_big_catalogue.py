"""Every screen on a catalogue of 1 M distinct products (issue 12's scale edge case).

    python benchmarks/bench_big_catalogue.py [--products 1000000] [--work DIR]

The bundled sample's customers, orders, events and reviews, with the products table grown to
``--products`` rows (the extra products are never bought). Opens the real app headless
(``run_test``), visits keys 2–9 waiting for each screen's jobs, then types into the
Recommendations product picker; prints the time of each step and exits 1 if any step shows
the error modal.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import shopper_tui  # noqa: F401, I001 - before Polars: it sets Polars' allocator settings, as in the app
import polars as pl


def build(folder: Path, products: int) -> None:
    from shopper_tui.analytics.sample_data_location import bundled_dir

    src = bundled_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for table in ("customers", "orders", "order_items", "events", "reviews"):
        shutil.copy(src / f"{table}.parquet", folder / f"{table}.parquet")
    base = pl.read_parquet(src / "products.parquet")
    extra = pl.DataFrame({"product_id": [f"X{i:07d}" for i in range(max(products - base.height, 0))]}).with_columns(
        name=pl.format("Extra item {}", pl.col("product_id")), category=pl.lit("Extra"), subcategory=pl.lit("Extra"),
        brand=pl.lit("Acme"), price=pl.lit(9.99), description=pl.lit("An extra catalogue item."))
    pl.concat([base, extra.select(base.columns).cast(base.schema)]).write_parquet(folder / "products.parquet")


async def visit(work: Path) -> int:
    from shopper_tui.app import make_app
    from shopper_tui.config import Settings

    settings = Settings.from_env(source=str(work / "shop"), data_dir=work / "data", cache_dir=work / "cache")
    app = make_app(settings)
    failures = 0

    def modal() -> bool:
        return any(type(s).__name__ == "ErrorModal" for s in app.screen_stack)

    async def idle(limit: float = 300.0) -> None:
        t = time.monotonic()
        while (app.job_status is not None or any(w.is_running for w in app.workers)) and time.monotonic() - t < limit:
            await pilot.pause(0.2)

    async with app.run_test(size=(120, 40)) as pilot:
        t = time.monotonic()
        while app.workspace is None and time.monotonic() - t < 600:
            await pilot.pause(0.2)
        print(f"import and open        {time.monotonic() - t:7.1f} s", flush=True)
        for key in "23456789":
            t = time.monotonic()
            await pilot.press(key)
            await idle()
            bad = modal()
            failures += bad
            print(f"key {key} {type(app.screen).__name__:<22}{time.monotonic() - t:7.1f} s{'  ERROR MODAL' if bad else ''}",
                  flush=True)
            if bad:
                await pilot.press("escape")
        await pilot.press("4")
        await idle()
        for keys in (("p",), tuple("extra"), ("enter",), ("escape",)):
            t = time.monotonic()
            await pilot.press(*keys)
            print(f"picker {''.join(keys):<16}{(time.monotonic() - t) * 1000:7.0f} ms", flush=True)
        failures += modal()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="big-catalogue-"))
    t = time.monotonic()
    build(work / "shop", args.products)
    print(f"built {args.products:,} products in {time.monotonic() - t:.1f} s under {work}", flush=True)
    failures = asyncio.run(visit(work))
    print("every screen opened" if not failures else f"{failures} step(s) showed the error modal")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
