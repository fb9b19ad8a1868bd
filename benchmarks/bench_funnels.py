"""Funnels, cohorts and experiments at scale (target: ≤ 5 s each on 10 M events, 2 cores).

    python benchmarks/bench_funnels.py [--customers 125000] [--seed 7] [--workspace PATH]

Generates the data set with the sample generator (125 k customers ≈ 10.7 M events; 200 k
give the 16 M events of run.py's size L), writes it
into a workspace file (kept at ``--workspace`` so a second run skips generation), then times
each engine call once after a warm-up query and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import shopper_tui  # noqa: F401, I001 - before Polars: it sets Polars' allocator settings, as in the app
import polars as pl

from shopper_tui.analytics.cohorts import cohorts
from shopper_tui.analytics.experiments import experiments
from shopper_tui.analytics.funnels import funnel
from shopper_tui.analytics.schema import TABLES
from shopper_tui.analytics.workspace import open_workspace

TARGET_S = 5.0


def build(path: Path, customers: int, seed: int) -> None:
    from shopper_tui.sample_data.generator import generate

    started = time.perf_counter()
    sample = generate(customers=customers, seed=seed)
    print(f"generated {customers:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for name in TABLES:
        con.register("_f", sample.tables[name].to_arrow())
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _f')
        con.unregister("_f")
    for name, frame in sample.truth.items():
        con.register("_f", frame.to_arrow())
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _f')
        con.unregister("_f")
    con.execute('CREATE TABLE _rejects ("table" VARCHAR, line BIGINT, reason VARCHAR)')
    con.execute("CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO _meta VALUES ('complete', '1'), ('cache_version', '1'), ('source', 'benchmark')")
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=125_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workspace", type=Path, help="workspace file to reuse (default: a temporary one)")
    args = parser.parse_args(argv)
    path = args.workspace or Path(tempfile.mkdtemp()) / f"bench-{args.customers}.duckdb"
    if not path.exists():
        build(path, args.customers, args.seed)
    ws = open_workspace(path)
    n_events = ws.sql("SELECT count(*) AS n FROM events")["n"][0]
    n_sessions = ws.sql("SELECT count(DISTINCT session_id) AS n FROM events")["n"][0]
    print(f"workspace {path}: {n_events:,} events, {n_sessions:,} sessions")
    cases = [
        ("funnel, sessions, by device", lambda: funnel(ws, by="device").steps),
        ("funnel, sessions, by variant", lambda: funnel(ws, by="variant").steps),
        ("funnel, sessions, strict, by channel", lambda: funnel(ws, mode="strict", by="channel").steps),
        ("funnel, sessions, any order", lambda: funnel(ws, mode="any").steps),
        ("funnel, customers (14 d), by device", lambda: funnel(ws, unit="customer", by="device").steps),
        ("cohorts, customers, on", lambda: cohorts(ws)),
        ("cohorts, revenue, on or after", lambda: cohorts(ws, measure="revenue", mode="on_or_after")),
        ("experiments, checkout → purchase", lambda: experiments(ws, from_step="checkout")),
    ]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall time depends on what else runs; CPU time is this process's user + system)")
    worst = 0.0
    for label, run in cases:
        cpu0, started = _cpu(), time.perf_counter()
        out: pl.DataFrame = run()
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu0
        worst = max(worst, seconds)
        flag = "ok" if seconds <= TARGET_S else f"over the {TARGET_S:.0f} s target"
        print(f"{label:40s} {seconds:6.2f} s wall {cpu:6.2f} s CPU  ({out.height} rows)  {flag}", flush=True)
    ws.close()
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
