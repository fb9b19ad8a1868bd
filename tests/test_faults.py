"""Faults: a killed import, a full disk, damaged workspace and cache files, a slow or
vanishing MongoDB server. Nothing the user has must be lost, and every failure must reach
the user as a ShopperError that says what to do — never a traceback.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest

from shopper_tui.analytics import workspace as workspace_module
from shopper_tui.analytics.cache import ArtifactCache
from shopper_tui.analytics.errors import ShopperError
from shopper_tui.analytics.workspace import import_source, list_workspaces, open_workspace
from shopper_tui.cli import main

ORDERS = "order_id,customer_id,ts,status\n" + "".join(
    f"o{i},c{i % 7},2024-01-{1 + i % 28:02d} 10:00,completed\n" for i in range(40))
ITEMS = "order_id,product_id,quantity,unit_price\n" + "".join(f"o{i},p{i % 5},{1 + i % 3},2.5\n" for i in range(40))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir(exist_ok=True)
    (folder / "orders.csv").write_text(ORDERS)
    (folder / "order_items.csv").write_text(ITEMS)
    return folder


# -- the data folder ------------------------------------------------------------------------------


def test_unwritable_data_folder_is_a_shopper_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: FileExistsError / NotADirectoryError traceback from mkdir
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(ShopperError, match="workspace folder .* cannot be created") as caught:
        import_source(_source(tmp_path), data_dir=blocker)
    assert "--data-dir" in str(caught.value)
    assert main(["import", str(_source(tmp_path)), "--data-dir", str(blocker)]) == 2
    assert "cannot be created" in capsys.readouterr().err


# -- killed imports -------------------------------------------------------------------------------

_CHILD = """
import sys, time
from pathlib import Path
from shopper_tui.analytics.workspace import import_source
def progress(step, fraction=None):
    print(step, flush=True)
def before_swap(tmp):
    print("swapping", flush=True)
    time.sleep(1.0)  # a window between the finished file and the rename (wide: CI machines are loaded)
print("start", flush=True)
import_source(sys.argv[1], data_dir=Path(sys.argv[2]), name="w", force=True, progress=progress, _before_swap=before_swap)
print("done", flush=True)
"""


def _child(source: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _CHILD, source, str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def test_sigkill_at_random_points_leaves_the_previous_workspace(data_dir: Path) -> None:
    first = import_source("sample", data_dir=data_dir, name="w")
    with open_workspace(first.path) as ws:
        counts = ws.row_counts()
    child = _child("sample", data_dir)  # one full run, to learn its steps
    steps = child.communicate(timeout=300)[0].splitlines()
    assert child.returncode == 0 and steps[-1] == "done" and "swapping" in steps
    before = _digest(first.path)  # that run re-imported (same data, a new file)
    rnd = random.Random(12)
    # kill points: a few at random times, then a random moment just after each of these steps
    targets: list[str | float] = [rnd.uniform(0.2, 2.5) for _ in range(2)]
    targets += [st for st in dict.fromkeys(steps) if st in ("validating", "finishing", "swapping")
                or st.startswith("reading")] + [st for st in steps if st.startswith("writing")][::2]
    killed = []
    for target in targets:
        child = _child("sample", data_dir)
        assert child.stdout is not None
        seen = "starting"
        if isinstance(target, float):
            time.sleep(target)
        else:
            for line in child.stdout:
                seen = line.strip()
                if seen == target:
                    break
            time.sleep(rnd.uniform(0, 0.05))
        child.kill()  # SIGKILL: no cleanup, no finally
        rest = child.communicate(timeout=60)[0].splitlines()
        seen = rest[-1] if rest else seen
        if seen == "done" and isinstance(target, float):
            # a fast machine finished before the random moment: that import replaced the
            # workspace whole (same data), which is allowed; it is the new "previous" one
            before = _digest(first.path)
            with open_workspace(first.path) as ws:
                assert ws.row_counts() == counts
            continue
        assert seen != "done", f"the import killed at {target!r} finished first"
        killed.append(seen)
        assert _digest(first.path) == before, f"workspace changed by an import killed at {target!r}"
        with open_workspace(first.path) as ws:
            assert ws.row_counts() == counts
    print(f"\n{len(targets)} imports killed; last step each had reached: {killed}")
    assert "swapping" in killed and any(k.startswith("writing") for k in killed)
    assert [w.name for w in list_workspaces(data_dir)] == ["w"]
    leftovers = [p.name for p in first.path.parent.iterdir() if p.name != "w.duckdb"]
    assert leftovers and all(".importing-" in n for n in leftovers)
    # the next import sweeps what the killed ones left behind
    again = import_source("sample", data_dir=data_dir, name="w", force=True)
    assert sorted(p.name for p in again.path.parent.iterdir()) == ["w.duckdb"]


# -- a full disk ----------------------------------------------------------------------------------


def test_disk_full_while_writing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(tmp_path)
    data_dir = tmp_path / "data"
    first = import_source(source, data_dir=data_dir, name="w")
    before = _digest(first.path)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(workspace_module.os, "replace", full)
    with pytest.raises(ShopperError) as caught:
        import_source(source, data_dir=data_dir, name="w", force=True)
    text = str(caught.value)
    assert f"the disk holding '{first.path.parent}' is full" in text and "No space left on device" in text
    assert "Nothing was changed" in text and "Free disk space" in text
    monkeypatch.undo()
    assert _digest(first.path) == before
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["w.duckdb"]


@contextmanager
def _tiny_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_on_a_real_tiny_filesystem(tmp_path: Path) -> None:
    with _tiny_tmpfs(tmp_path / "tiny", "6m") as tiny:
        small = import_source(_source(tmp_path), data_dir=tiny, name="w")
        before = _digest(small.path)
        with pytest.raises(ShopperError, match=r"is full \(.*No space left on device") as caught:
            import_source("sample", data_dir=tiny, name="w", force=True)  # ~12 MB: does not fit
        assert "Nothing was changed" in str(caught.value)
        assert _digest(small.path) == before
        assert sorted(p.name for p in small.path.parent.iterdir()) == ["w.duckdb"]
        with open_workspace(small.path) as ws:
            assert ws.row_counts()["orders"] == 40


# -- damaged workspace files ----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "empty", "text", "header"])
def test_damaged_workspace_is_detected_on_open(tmp_path: Path, damage: str) -> None:
    result = import_source(_source(tmp_path), data_dir=tmp_path / "data", name="w")
    data = result.path.read_bytes()
    result.path.write_bytes({
        "truncated": data[: len(data) // 3],
        "empty": b"",
        "text": b"order_id,customer_id\n" * 50,
        "header": data[:4096] + bytes(b ^ 0xFF for b in data[4096:12288]) + data[12288:],
    }[damage])
    with pytest.raises(ShopperError) as caught:
        open_workspace(result.path)
    text = str(caught.value)
    assert str(result.path) in text and ("cannot be opened" in text or "damaged" in text or "incomplete" in text)
    assert "shopper-tui import SOURCE --force" in text and "--force-import" in text
    assert [w.ok for w in list_workspaces(tmp_path / "data")] == [False]
    # importing again replaces it (it is not "current" any more)
    again = import_source(_source(tmp_path), data_dir=tmp_path / "data", name="w")
    assert not again.reused
    with open_workspace(again.path) as ws:
        assert ws.row_counts()["orders"] == 40


def _damaged_block(path: Path, probe) -> int:  # noqa: ANN001
    """The offset of the first 256 KiB block whose damage makes ``probe(workspace)`` fail
    (searched on a copy, so the test does not depend on DuckDB's layout)."""
    data = path.read_bytes()
    copy = path.with_name("probe.duckdb")
    for offset in range(3 * 4096, len(data), 256 * 1024):  # DuckDB's blocks start after its 3 headers
        copy.write_bytes(data[:offset] + bytes(b ^ 0x5A for b in data[offset:offset + 512]) + data[offset + 512:])
        try:
            ws = open_workspace(copy)
        except ShopperError:
            continue  # the catalog or _meta: already covered by the open tests
        try:
            probe(ws)
        except ShopperError as exc:
            if "is damaged" in str(exc):
                copy.unlink()
                return offset
        finally:
            ws.close()
    copy.unlink()
    pytest.skip("no block whose damage the probe notices")


def test_damaged_table_block_is_a_shopper_error_naming_the_fix(tmp_path: Path) -> None:
    # was: a bare duckdb.Error "Corrupt database file: computed checksum …" (a traceback in the app)
    result = import_source("sample", data_dir=tmp_path / "data", name="w")
    offset = _damaged_block(result.path, lambda ws: ws.table("orders"))
    data = result.path.read_bytes()
    result.path.write_bytes(data[:offset] + bytes(b ^ 0x5A for b in data[offset:offset + 512]) + data[offset + 512:])
    with open_workspace(result.path) as ws:
        with pytest.raises(ShopperError, match="is damaged: Corrupt database file") as caught:
            ws.table("orders")
        assert "shopper-tui import sample --force" in str(caught.value)
        with pytest.raises(duckdb.Error):  # a wrong query stays a bug, not "damaged"
            ws.sql("SELECT no_such_column FROM customers")
    forced = import_source("sample", data_dir=tmp_path / "data", name="w", force=True)
    with open_workspace(forced.path) as ws:
        assert ws.table("orders").height > 0


def test_workspace_missing_a_table_is_imported_again(tmp_path: Path) -> None:
    # was: "Workspace … is incomplete" on every import until --force (its _meta said complete)
    source = _source(tmp_path)
    result = import_source(source, data_dir=tmp_path / "data", name="w")
    con = duckdb.connect(str(result.path))
    con.execute("DROP TABLE order_items")
    con.close()
    again = import_source(source, data_dir=tmp_path / "data", name="w")
    assert not again.reused and again.row_counts["order_items"] == 40
    assert any("previous workspace could not be read" in n and "incomplete" in n for n in again.report.notes)


def test_cli_import_over_a_damaged_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _source(tmp_path)
    data_dir = tmp_path / "data"
    assert main(["import", str(source), "--data-dir", str(data_dir), "--name", "w"]) == 0
    path = data_dir / "workspaces" / "w.duckdb"
    path.write_bytes(path.read_bytes()[:5000])
    capsys.readouterr()
    assert main(["import", str(source), "--data-dir", str(data_dir), "--name", "w"]) == 0
    assert "imported into" in capsys.readouterr().out
    with open_workspace(path) as ws:
        assert ws.row_counts()["orders"] == 40


def test_app_shows_a_damaged_workspace_as_a_message_not_a_traceback(tmp_path: Path) -> None:
    import asyncio

    from shopper_tui.app import make_app
    from shopper_tui.config import Settings
    from shopper_tui.widgets import ErrorModal

    data_dir = tmp_path / "data"
    result = import_source("sample", data_dir=data_dir, name="sample")
    from shopper_tui.analytics.overview import kpis

    offset = _damaged_block(result.path, kpis)
    data = result.path.read_bytes()
    result.path.write_bytes(data[:offset] + bytes(b ^ 0x5A for b in data[offset:offset + 512]) + data[offset + 512:])
    settings = Settings.from_env(source="sample", data_dir=data_dir)

    async def run() -> ErrorModal:
        app = make_app(settings)
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 60
            while not isinstance(app.screen, ErrorModal):
                assert time.monotonic() < deadline, "no error shown"
                await pilot.pause(0.1)
            modal = app.screen
            assert isinstance(modal, ErrorModal)
            await pilot.press("escape")
            return modal

    modal = asyncio.run(run())
    assert "is damaged" in modal.message and modal.details is None  # a ShopperError: no traceback
    assert "--force-import" in (modal.hint or "") and "Re-import source" in (modal.hint or "")


# -- the model cache ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["frame", "object"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_cache_artifact_is_recomputed(tmp_path: Path, kind: str, damage: str) -> None:
    cache = ArtifactCache(tmp_path, "shop", "fp")
    value = pl.DataFrame({"a": list(range(1000))}) if kind == "frame" else {"weights": list(range(1000))}
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        return value

    cache.get_or_compute("model", compute, version=1)
    [path] = cache.entries()
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage])
    again = cache.get_or_compute("model", compute, version=1)
    assert len(calls) == 2
    assert again.equals(value) if kind == "frame" else again == value
    assert cache.get_or_compute("model", compute, version=1) is not None and len(calls) == 2  # stored again


def test_damaged_segmentation_cache_is_retrained(tmp_path: Path) -> None:
    from shopper_tui.config import Settings
    from shopper_tui.models import SegmentChoice, artifact_cache, cached_segmentation

    settings = Settings.from_env(source="sample", data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    result = import_source("sample", data_dir=settings.data_dir)
    with open_workspace(result.path) as ws:
        choice = SegmentChoice()
        first = cached_segmentation(ws, settings, choice)
        [path] = [p for p in artifact_cache(ws, settings).entries() if p.suffix == ".pkl"]
        path.write_bytes(path.read_bytes()[:100])
        again = cached_segmentation(ws, settings, choice)
        assert again.labels.equals(first.labels)
        assert pickle.loads(path.read_bytes()).labels.equals(first.labels)  # the retrained one is cached


def test_cache_that_cannot_be_written_still_returns_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # was: OSError (disk full, cache folder unusable) lost the model that had just been computed
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    cache = ArtifactCache(blocked, "shop", "fp")
    assert cache.get_or_compute("scores", lambda: pl.DataFrame({"a": [1]}), version=1).height == 1
    assert cache.save_object("model", {"w": 1}, version=1) is False

    def full(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    ok = ArtifactCache(tmp_path / "cache2", "shop", "fp")
    assert ok.get_or_compute("scores", lambda: pl.DataFrame({"a": [2]}), version=1).item() == 2
    assert ok.entries() == [] and not any(p.name.endswith(".tmp") for p in ok.folder.iterdir())


# -- MongoDB: slow, stalled and dropped connections -------------------------------------------------


class _Proxy:
    """A TCP proxy in front of the test server that can stall (stop passing the server's
    replies on) or drop every connection, to play a slow or vanishing MongoDB server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.closed = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, reply: bool) -> None:
        try:
            while data := src.recv(65536):
                while reply and self.stalled.is_set() and not self.closed.is_set():
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def drop(self) -> None:
        for s in list(self.conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        self.drop()


@pytest.fixture
def proxied(mongo_db: tuple[str, object]) -> Iterator[tuple[str, object, _Proxy]]:
    from urllib.parse import urlsplit

    uri, db = mongo_db
    parts = urlsplit(uri)
    proxy = _Proxy((parts.hostname or "127.0.0.1", parts.port or 27017))
    db.transactions.insert_many([{"order_id": f"O{i}", "user_id": f"C{i % 9}", "timestamp": "2026-01-05 10:00",
                                  "status": "completed", "items": [{"product_id": "P1", "quantity": 1, "unit_price": 2.0}]}
                                 for i in range(3000)])
    try:
        yield uri.replace(f":{parts.port}/", f":{proxy.port}/"), db, proxy
    finally:
        proxy.close()


@pytest.mark.mongo
def test_server_that_stops_answering_mid_read_ends_the_import(
    proxied: tuple[str, object, _Proxy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # was: no socket timeout, so the import (and the app's job) hung for ever
    from shopper_tui.analytics.sources.mongo import load_mongo

    uri, _, proxy = proxied
    assert load_mongo(uri).tables["orders"].frame.height == 3000  # through the proxy it works
    monkeypatch.setenv("SHOPPER_TUI_MONGO_READ_TIMEOUT_MS", "700")

    def progress(step: str, fraction: float | None = None) -> None:
        if step.startswith("reading"):
            proxy.stalled.set()

    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            load_mongo(uri, progress=progress)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(20)
    proxy.stalled.clear()
    assert not reader.is_alive(), "the read hung on a server that stopped answering"
    [error] = outcome
    assert isinstance(error, ShopperError) and "stopped answering while reading" in str(error)
    assert "SHOPPER_TUI_MONGO_READ_TIMEOUT_MS" in str(error) and "waited 700 ms" in str(error)


@pytest.mark.mongo
def test_server_that_accepts_but_never_answers(proxied: tuple[str, object, _Proxy], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    uri, _, proxy = proxied
    proxy.stalled.set()
    monkeypatch.setenv("SHOPPER_TUI_MONGO_TIMEOUT_MS", "600")
    started = time.monotonic()
    with pytest.raises(ShopperError, match="not reachable") as caught:
        import_source(uri, data_dir=tmp_path)
    assert time.monotonic() - started < 10 and "Waited 600 ms" in str(caught.value)
    assert not list((tmp_path / "workspaces").glob("*.duckdb"))


@pytest.mark.mongo
def test_connection_dropped_mid_read_keeps_the_previous_workspace(
    proxied: tuple[str, object, _Proxy], tmp_path: Path
) -> None:
    uri, _, proxy = proxied
    first = import_source(uri, data_dir=tmp_path, name="m")
    before = _digest(first.path)

    def progress(step: str, fraction: float | None = None) -> None:
        if step.startswith("reading") and fraction is not None and fraction > 0:
            proxy.close()  # every connection cut, and no new one accepted

    with pytest.raises(ShopperError, match="MongoDB error") as caught:
        import_source(uri, data_dir=tmp_path, name="m", force=True, progress=progress)
    assert "Traceback" not in str(caught.value)
    assert _digest(first.path) == before


@pytest.mark.parametrize("name", ["../outside", "a/b", ".hidden", " ", "w.importing-1"])
def test_workspace_names_that_would_escape_or_hide_are_refused(tmp_path: Path, name: str) -> None:
    # was: "../outside" wrote tmp_path/outside.duckdb beside the data folder; ".hidden" a file
    # the workspace listing never shows
    with pytest.raises(ShopperError, match="not a usable workspace name"):
        import_source(_source(tmp_path), data_dir=tmp_path / "data", name=name)
    assert not list(tmp_path.rglob("*.duckdb"))


def test_cli_command_on_a_damaged_workspace_exits_2_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: a duckdb.Error traceback from the command
    data_dir = tmp_path / "data"
    result = import_source("sample", data_dir=data_dir, name="sample")
    offset = _damaged_block(result.path, lambda ws: ws.table("orders"))
    data = result.path.read_bytes()
    result.path.write_bytes(data[:offset] + bytes(b ^ 0x5A for b in data[offset:offset + 512]) + data[offset + 512:])
    capsys.readouterr()
    assert main(["rfm", "--source", "sample", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "shopper-tui import sample --force" in err and "Traceback" not in err
