"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.cli import main


def _run(*args: str, env_data: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, SHOPPER_TUI_DATA_DIR=str(env_data))
    return subprocess.run([sys.executable, "-m", "shopper_tui.cli", *args], capture_output=True, text=True, env=env)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import shopper_tui

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"shopper-tui {shopper_tui.__version__}"


def test_import_sample_prints_summary_and_reuses(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "sample", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "Workspace 'sample' imported into" in out
    orders = pl.read_parquet(Path(__file__).parent.parent / "sample_data" / "bundled" / "orders.parquet") if (
        Path(__file__).parent.parent / "sample_data" / "bundled" / "orders.parquet").exists() else None
    if orders is not None:
        assert f"orders {orders.height:,}" in out
    assert main(["import", "sample", "--data-dir", str(data_dir)]) == 0
    assert "unchanged; reused" in capsys.readouterr().out
    # one audit entry for the real import, none for the reuse
    import json

    entries = [json.loads(x) for x in (data_dir / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in entries] == ["import"]
    assert entries[0]["workspace"] == "sample" and entries[0]["rows"]["orders"] == orders.height


def test_bad_source_exits_2_without_traceback(data_dir: Path) -> None:
    proc = _run("import", str(data_dir / "nope.csv"), env_data=data_dir)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Source not found" in proc.stderr and "nope.csv" in proc.stderr


def test_collections_for_a_source_that_is_not_mongodb_is_refused(data_dir: Path) -> None:
    """--collections used to be ignored silently for files; it is a mistake worth saying."""
    proc = _run("import", "sample", "--collections", "users=customers", env_data=data_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--collections names MongoDB collections; 'sample' is the bundled sample." in proc.stderr
    assert "drop --collections" in proc.stderr
    assert not (data_dir / "workspaces" / "sample.duckdb").exists()  # nothing imported


def test_missing_required_column_names_file_and_column(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text("order_id,customer_id,status\n1,a,completed\n")
    (folder / "order_items.csv").write_text("order_id,product_id,quantity,unit_price\n1,p,1,2.5\n")
    proc = _run("import", str(folder), env_data=data_dir)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "orders.csv" in proc.stderr and "'ts'" in proc.stderr


def test_doctor_lists_workspace_and_flags_unreachable_mongo(data_dir: Path) -> None:
    assert main(["import", "sample", "--data-dir", str(data_dir)]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _run("doctor", "--mongo-uri", f"mongodb://bob:s3cret@127.0.0.1:{port}/shop", env_data=data_dir)
    assert proc.returncode == 1
    assert "sample" in proc.stdout and "ok" in proc.stdout
    assert "NOT REACHABLE" in proc.stdout
    assert "s3cret" not in proc.stdout + proc.stderr


def test_sample_command_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen"
    assert main(["sample", "--customers", "200", "--seed", "3", "--out", str(out)]) == 0
    customers = pl.read_parquet(out / "customers.parquet")
    assert customers.height == 200
    assert (out / "orders.parquet").is_file() and (out / "events.parquet").is_file()


def test_overview_json_reconciles_and_table_appends_the_reconciliation(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`overview --format json` is one object whose figures equal kpis() and whose reconciliation
    adds up to the lines read and their value; the table form writes the reconciliation after the
    figures, into --out too."""
    import json

    from shopper_tui.analytics.overview import kpis
    from shopper_tui.analytics.workspace import import_source, open_workspace

    assert main(["overview", "--data-dir", str(data_dir), "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    with open_workspace(import_source("sample", data_dir=data_dir).path) as ws:
        k = kpis(ws)
        lines = ws.sql("SELECT count(*) FROM order_items").item()
    assert (got["orders"], got["revenue"], got["customers"]) == (k.orders, round(k.revenue, 2), k.buyers)
    assert {"net_revenue", "guest_orders", "guest_revenue", "charge_revenue", "average_order_value", "first_day",
            "last_day"} <= set(got)
    assert sum(r["lines"] for r in got["reconciliation"]) == got["lines_read"] == lines
    assert round(sum(r["value"] for r in got["reconciliation"]), 2) == pytest.approx(got["value_read"], abs=0.01)
    out = tmp_path / "overview.txt"
    assert main(["overview", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    text = out.read_text()
    assert "revenue" in text and text.rstrip().splitlines()[-1].split()[:2] == ["read", f"{lines:,}"]
