"""Awkward terminals: resizing while a job runs (segmentation training, the recommender) does
not crash, every screen lays out at 80×24 and 300×80 and in between, and the real program
runs in a plain ``TERM=xterm`` pseudo-terminal with ``NO_COLOR`` (monochrome, no colour codes
beyond grey) and leaves cleanly on ``q``."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_app import import_sample, run_async, settle, wait_for

from shopper_tui.app import SCREEN_MODES, make_app
from shopper_tui.config import Settings
from shopper_tui.widgets import ErrorModal

SIZES = [(80, 24), (300, 80), (60, 20), (200, 50), (120, 40)]


@pytest.fixture(scope="module")
def fresh_sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample with an empty model cache: the segmentation and the recommender train."""
    data = tmp_path_factory.mktemp("terminals")
    return import_sample(data).with_(cache_dir=Path(data) / "cache")


@run_async
async def test_resizing_while_jobs_run_does_not_crash(fresh_sample: Settings) -> None:
    app = make_app(fresh_sample)
    errors: list[BaseException] = []
    show = app.show_error
    app.show_error = lambda error, **kw: (errors.append(error), show(error, **kw))  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None, timeout=60)
        await settle(pilot)
        await pilot.press("2")  # the segmentation trains (nothing cached)
        await wait_for(pilot, lambda: app.job_status is not None, timeout=30)
        resized = 0
        while app.segmentation is None:
            for size in SIZES:
                await pilot.resize_terminal(*size)
                await pilot.pause(0.05)
                resized += 1
            assert not errors, errors
            assert resized < 2000, "segmentation never finished"
        assert resized >= len(SIZES)  # at least one round while the job ran
        await pilot.press("4")  # the recommender trains: resize through that too
        # (pilot.press waits up to a second for the process to go idle: on a fast machine the
        # training can be over by then, so the loop runs while it trains or until it has)
        recommendations = app.screen
        rounds = 0
        while app.job_status is not None or getattr(recommendations, "model", None) is None:
            for size in SIZES:
                await pilot.resize_terminal(*size)
                await pilot.pause(0.05)
            rounds += 1
            assert not errors, errors
            assert rounds < 500, "the recommender never finished"
        await settle(pilot)
        for mode in SCREEN_MODES:  # and every screen lays out at each size once idle
            await pilot.press(mode.key)
            await settle(pilot)
            for size in SIZES:
                await pilot.resize_terminal(*size)
                await pilot.pause()
            assert app.current_mode == mode.name
        await settle(pilot)
        assert not errors, errors
        assert not isinstance(app.screen, ErrorModal)
        assert app.is_running


def _read(fd: int, seconds: float) -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_real_terminal_xterm_no_color_80x24(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    data = tmp_path / "data"
    import_sample(data)
    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1", "SHOPPER_TUI_DATA_DIR": str(data),
           "SHOPPER_TUI_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "80", "LINES": "24"}
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    exe = Path(sys.executable).with_name("shopper-tui")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "shopper_tui.cli"]
    proc = subprocess.Popen([*command, "--source", "sample"], stdin=child, stdout=child, stderr=child, env=env,
                            close_fds=True, start_new_session=True)
    os.close(child)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Data present" not in seen and time.monotonic() < deadline:  # the Overview opened the sample
            seen += _read(main, 0.5)
        assert b"Data present" in seen, seen[-2000:]
        for key in (b"9", b"1"):
            os.write(main, key)
            seen += _read(main, 3)
        os.write(main, b"q")
        seen += _read(main, 5)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    text = seen.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert "Tables" in text or "workspace" in text  # the Data screen was painted
    # NO_COLOR: Textual paints in greys only — black, white and grey, no hue, no 256/true colour
    hues = {*range(31, 37), *range(41, 47), *range(91, 97), *range(101, 107)}
    for sgr in re.findall(r"\x1b\[([0-9;]*)m", text):
        params = [int(p) for p in sgr.split(";") if p]
        assert 38 not in params and 48 not in params and not hues & set(params), f"colour code {sgr!r}"
