"""Cache of trained models and computed scores, keyed by data fingerprint and version.

Layout: ``<cache_dir>/<workspace name>/<fingerprint>/<key>-v<version>.<ext>``. A new import
changes the fingerprint, so stale artifacts are simply never looked up (and
:meth:`ArtifactCache.prune` removes other fingerprints' folders). Writes go to a temporary
file renamed into place, so a crash never leaves a half-written artifact; an artifact that
fails to load is treated as absent (and removed), never as an error; an artifact that cannot be
written (disk full, read-only folder) is simply not cached.

Why not inside the DuckDB workspace file: the workspace is opened read-only by the app and
by headless commands at the same time; a side folder lets any of them cache without taking
the single-writer lock.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

__all__ = ["ArtifactCache"]

T = TypeVar("T")


def _frame_from_ipc(data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(data))


class _Pickler(pickle.Pickler):
    """Pickles Polars frames as Arrow IPC bytes. Polars' own pickling held the GIL for 0.1-0.2 s
    on a 200 k x 34 feature frame, which froze the UI at the end of every segmentation; the IPC
    writer lets the event loop run (benchmarks/run.py, "UI gap while training")."""

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, pl.DataFrame):
            buffer = io.BytesIO()
            obj.write_ipc(buffer, compression="uncompressed")
            return _frame_from_ipc, (buffer.getvalue(),)
        return NotImplemented


class ArtifactCache:
    """Artifacts of one workspace at one data fingerprint.

    Args:
        cache_dir: The user cache folder (Settings.cache_dir).
        workspace: Workspace name.
        fingerprint: The workspace's data fingerprint (``Workspace.fingerprint``).
    """

    def __init__(self, cache_dir: Path, workspace: str, fingerprint: str) -> None:
        self.root = Path(cache_dir) / workspace
        self.folder = self.root / (fingerprint or "unknown")

    def _path(self, key: str, version: int, ext: str) -> Path:
        return self.folder / f"{key}-v{version}.{ext}"

    def _write(self, path: Path, writer: Callable[[Path], None]) -> bool:
        """Write through a temporary file; False when the disk refused (full, read-only): the
        cache only saves time, so the work that was just done is still returned."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer(tmp)
            os.replace(tmp, path)
            return True
        except OSError:
            return False
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass

    @staticmethod
    def _discard(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass

    # frames ---------------------------------------------------------------------------
    def load_frame(self, key: str, *, version: int) -> pl.DataFrame | None:
        path = self._path(key, version, "parquet")
        if not path.is_file():
            return None
        try:
            return pl.read_parquet(path)
        except (Exception, pl.exceptions.PanicException):  # noqa: BLE001 - a corrupt artifact is a cache miss
            self._discard(path)
            return None

    def save_frame(self, key: str, frame: pl.DataFrame, *, version: int) -> bool:
        """Store a frame; False (nothing stored) when the disk refused."""
        return self._write(self._path(key, version, "parquet"), lambda p: frame.write_parquet(p))

    # python objects (fitted models) ---------------------------------------------------
    def load_object(self, key: str, *, version: int) -> Any | None:
        path = self._path(key, version, "pkl")
        if not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own cache folder
        except Exception:  # noqa: BLE001 - a corrupt artifact is a cache miss
            self._discard(path)
            return None

    def save_object(self, key: str, obj: object, *, version: int) -> bool:
        """Store an object (pickled); False (nothing stored) when the disk refused."""
        def write(p: Path) -> None:
            with p.open("wb") as fh:
                _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)

        return self._write(self._path(key, version, "pkl"), write)

    def get_or_compute(self, key: str, compute: Callable[[], T], *, version: int) -> T:
        """Load ``key`` or compute, save and return it (frames as Parquet, else pickle)."""
        hit = self.load_frame(key, version=version)
        if hit is None:
            hit = self.load_object(key, version=version)
        if hit is not None:
            return hit  # type: ignore[return-value]
        value = compute()
        if isinstance(value, pl.DataFrame):
            self.save_frame(key, value, version=version)
        else:
            self.save_object(key, value, version=version)
        return value

    def entries(self) -> list[Path]:
        return sorted(self.folder.glob("*-v*.*")) if self.folder.is_dir() else []

    def prune(self) -> int:
        """Remove artifacts of other fingerprints of this workspace; returns folders removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for child in self.root.iterdir():
            if child.is_dir() and child != self.folder:
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        return removed
