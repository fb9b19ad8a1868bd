from __future__ import annotations

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
