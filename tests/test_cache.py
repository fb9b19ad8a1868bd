from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from shopper_tui.analytics.cache import ArtifactCache


def test_roundtrip_versions_and_fingerprints(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, "shop", "fp1")
    calls = []

    def compute() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1, 2, 3]})

    first = cache.get_or_compute("scores", compute, version=1)
    again = cache.get_or_compute("scores", compute, version=1)
    assert again.equals(first) and len(calls) == 1
    cache.get_or_compute("scores", compute, version=2)  # new version: recomputed
    assert len(calls) == 2
    other = ArtifactCache(tmp_path, "shop", "fp2")  # new data: recomputed, old pruned
    other.get_or_compute("scores", compute, version=1)
    assert len(calls) == 3
    assert other.prune() == 1 and not cache.folder.exists()


def test_corrupt_artifact_is_a_miss(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, "shop", "fp")
    cache.save_object("model", {"w": [1.0]}, version=1)
    path = cache.entries()[0]
    path.write_bytes(b"\x80garbage")
    assert cache.load_object("model", version=1) is None
    assert not path.exists()
    assert cache.get_or_compute("model", lambda: {"w": [2.0]}, version=1) == {"w": [2.0]}


@dataclass
class _Result:
    labels: pl.DataFrame
    notes: list[str]


def test_frames_inside_objects_come_back_equal(tmp_path: Path) -> None:
    """Frames inside a pickled object are stored as Arrow IPC (Polars' own pickling held the GIL
    long enough to freeze the UI); they must come back with the same values, dtypes and order."""
    labels = pl.DataFrame({
        "customer_id": ["C1", "C2", None],
        "segment_id": pl.Series([2, 0, 1], dtype=pl.Int32),
        "probability": [0.25, 1.0, float("nan")],
        "first": [date(2024, 1, 31), None, date(2023, 12, 1)],
        "tags": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
    })
    cache = ArtifactCache(tmp_path, "shop", "fp")
    assert cache.save_object("seg", {"result": _Result(labels, ["k = 2"])}, version=1)
    assert b"_frame_from_ipc" in cache.entries()[0].read_bytes()
    back = cache.load_object("seg", version=1)["result"]
    assert back.notes == ["k = 2"]
    assert back.labels.schema == labels.schema
    assert back.labels.equals(labels)  # nulls and NaN included


def test_cached_models_are_keyed_by_the_workspace_rules_too(tmp_path: Path) -> None:
    """Cached models are keyed by the source's fingerprint and the workspace layout version: when
    the import or purchase rules change (CACHE_VERSION), the same file's models are trained again
    instead of reused with numbers from the old rules."""
    from shopper_tui.analytics.workspace import CACHE_VERSION, import_source, open_workspace

    with open_workspace(import_source("sample", data_dir=tmp_path).path) as ws:
        assert ws.meta["fingerprint"] and ws.fingerprint == f"{ws.meta['fingerprint']}-w{CACHE_VERSION}"
