"""The app opened on a folder it has not imported yet: how long the import takes, and the
longest gaps between 10 ms timer ticks meanwhile (the screen shows the import's progress; a key
pressed then waits at most that long). Target: ≤ 100 ms, as for every other UI gap.

    python benchmarks/bench_import_ui.py FOLDER [--csv-from FOLDER_OF_PARQUET]

With ``--csv-from``, FOLDER is first filled with the Parquet tables of that folder written as CSV
(``benchmarks/run.py`` leaves its L tables in ``/tmp/shopper-bench/sample-L``): most shops export
CSV. A thread samples the import thread's stack every 5 ms, and each long gap is printed with
where the import was.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import shopper_tui  # noqa: F401, I001 - before Polars: it sets Polars' allocator settings, as in the app
import polars as pl

from shopper_tui.app import make_app
from shopper_tui.config import Settings

TARGET_MS = 100.0


def write_csv(parquet_folder: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in sorted(parquet_folder.glob("*.parquet")):
        if not f.name.startswith("truth"):
            pl.read_parquet(f).write_csv(folder / f"{f.stem}.csv")
    size = sum(f.stat().st_size for f in folder.glob("*.csv"))
    print(f"wrote {size / 1e6:,.0f} MB of CSV into {folder}", flush=True)


async def measure(folder: Path, work: Path) -> tuple[float, list[tuple[float, float, list[str]]]]:
    app = make_app(Settings(source=str(folder), name="import-ui", data_dir=work / "data", cache_dir=work / "cache"))
    main_id = threading.get_ident()
    samples: list[tuple[float, list[str]]] = []
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            now = time.perf_counter()
            where = [" <- ".join(f"{f.name}:{f.lineno}" for f in reversed(traceback.extract_stack(frame, limit=12)[-4:]))
                     for tid, frame in sys._current_frames().items() if tid not in (main_id, threading.get_ident())]
            samples.append((now, where))
            time.sleep(0.005)

    ticks: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        threading.Thread(target=sampler, daemon=True).start()
        started = time.perf_counter()
        while app.workspace is None and time.perf_counter() - started < 1800:
            await pilot.pause(0.02)
        opened = time.perf_counter()
        done.set()
    gaps = sorted(((b - a, a) for a, b in itertools.pairwise(ticks) if a >= started and b <= opened), reverse=True)
    out = []
    for gap, at in gaps[:5]:
        inside = [w for t, w in samples if at <= t <= at + gap]
        out.append((gap, at - started, inside[len(inside) // 2] if inside else ["(no sample: the GIL was held)"]))
    return opened - started, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--csv-from", type=Path, help="write this folder's Parquet tables as CSV into FOLDER first")
    args = parser.parse_args(argv)
    if args.csv_from:
        write_csv(args.csv_from, args.folder)
    work = Path(tempfile.mkdtemp(prefix="import-ui-"))
    try:
        seconds, gaps = asyncio.run(measure(args.folder, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"import and open: {seconds:.1f} s")
    for gap, at, where in gaps:
        print(f"  gap {gap * 1000:5.0f} ms, {at:5.1f} s in")
        for stack in where:
            print(f"      {stack}")
    worst = gaps[0][0] * 1000 if gaps else 0.0
    print(f"longest UI gap while importing: {worst:.0f} ms (target ≤ {TARGET_MS:.0f} ms: "
          f"{'met' if worst <= TARGET_MS else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
