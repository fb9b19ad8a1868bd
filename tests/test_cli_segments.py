"""`shopper-tui segments` and `shopper-tui rfm`, run through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from shopper_tui.analytics.rfm import rfm_lifetimes, rfm_marketing
from shopper_tui.analytics.segmentation import segment
from shopper_tui.analytics.workspace import import_source, open_workspace
from shopper_tui.cli import main


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli-seg")
    import_source("sample", data_dir=data)
    return data


def _args(data: Path, *rest: str) -> list[str]:
    return [*rest, "--data-dir", str(data), "--cache-dir", str(data / "cache")]


def _ws(data: Path):  # noqa: ANN202
    return open_workspace(import_source("sample", data_dir=data).path)


def test_rfm_lifetimes_csv_has_exactly_the_lifetimes_columns(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rfm.csv"
    assert main(_args(sample_dir, "rfm", "--definition", "lifetimes", "--format", "csv", "--out", str(out))) == 0
    written = pl.read_csv(out)
    assert written.columns == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    with _ws(sample_dir) as ws:
        expected = rfm_lifetimes(ws)
    assert written.height == expected.height > 4000
    assert written["customer_id"].to_list() == expected["customer_id"].to_list()
    for c in ("frequency", "recency", "T", "monetary_value"):
        assert (written[c] - expected[c]).abs().max() < 1e-6, c


def test_rfm_marketing_json(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rfm.json"
    assert main(_args(sample_dir, "rfm", "--format", "json", "--out", str(out))) == 0
    rows = json.loads(out.read_text())
    with _ws(sample_dir) as ws:
        expected = rfm_marketing(ws)
    assert len(rows) == expected.height
    assert {k: rows[0][k] for k in ("customer_id", "orders", "r_score", "segment")} == {
        k: expected.row(0, named=True)[k] for k in ("customer_id", "orders", "r_score", "segment")
    }


def test_segments_rfm_csv_matches_the_engine(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.csv"
    assert main(_args(sample_dir, "segments", "--method", "rfm", "--format", "csv", "--out", str(out))) == 0
    written = pl.read_csv(out)
    with _ws(sample_dir) as ws:
        expected = segment(ws, method="rfm").segments
    assert written["name"].to_list() == expected["name"].to_list()
    assert written["size"].to_list() == expected["size"].to_list()
    assert "insights" in written.columns and written["insights"].str.contains("customers in").all()
    assert written["top_categories"].to_list()[0] == ", ".join(expected["top_categories"][0])


def test_segments_json_and_per_customer_labels(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "seg.json"
    assert main(_args(sample_dir, "segments", "--method", "rfm", "--format", "json", "--out", str(out))) == 0
    payload = json.loads(out.read_text())
    assert payload["method"] == "rfm" and payload["k"] == len(payload["segments"])
    labels = tmp_path / "labels.csv"
    assert main(_args(sample_dir, "segments", "--method", "rfm", "--customers", "--format", "csv",
                      "--out", str(labels))) == 0
    per = pl.read_csv(labels)
    assert per.columns == ["customer_id", "segment_id", "segment", "probability"]
    sizes = per.group_by("segment").len()
    assert dict(sizes.iter_rows()) == {s["name"]: s["size"] for s in payload["segments"]}


def test_segments_rejects_k_for_the_grid(sample_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(sample_dir, "segments", "--method", "rfm", "--k", "3")) == 2
    assert "--k applies to kmeans and gmm" in capsys.readouterr().err


def test_every_command_defaults_to_the_apps_segmentation() -> None:
    """segments, affinity, cohorts --segment, reviews --by segment, funnel --by segment and
    evaluate --segments name the same segments as the app unless told otherwise."""
    import argparse

    from shopper_tui.cli import build_parser
    from shopper_tui.commands import DEFAULT_METHOD
    from shopper_tui.models import SegmentChoice

    assert DEFAULT_METHOD == SegmentChoice().method
    parser = build_parser()
    for argv in (["segments"], ["affinity"], ["crosssell"], ["cohorts"], ["reviews"], ["funnel"]):
        assert parser.parse_args(argv).method == DEFAULT_METHOD, argv
    for argv in (["evaluate"], ["recommend", "C1"]):
        assert parser.parse_args(argv).segments == DEFAULT_METHOD, argv
    assert isinstance(parser, argparse.ArgumentParser)
