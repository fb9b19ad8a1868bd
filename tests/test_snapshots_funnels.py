"""Snapshot tests of the Funnels, Cohorts and Experiments screens on the bundled sample.

Regenerate with ``pytest tests/test_snapshots_funnels.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings

from test_app import import_sample, settle, wait_for

SIZE = (120, 40)


@pytest.fixture(scope="module")
def snapshot_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("snap-funnels"))


def _opening(key: str, ready: str, *more: str):  # noqa: ANN202
    async def run(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.workspace is not None)
        await settle(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: getattr(pilot.app.screen, ready, None) is not None)
        await settle(pilot)
        for k in more:
            before = getattr(pilot.app.screen, ready)
            await pilot.press(k)
            await wait_for(pilot, lambda: getattr(pilot.app.screen, ready) is not before)
            await settle(pilot)
        await settle(pilot)

    return run


def test_funnels_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=_opening("6", "result"))


def test_funnels_by_device_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    async def run(pilot: Pilot) -> None:
        await _opening("6", "result")(pilot)
        screen = pilot.app.screen
        await screen.run_action("set_breakdown('device')")  # b cycles segment → device; skip the training
        await wait_for(pilot, lambda: screen.result.by == "device")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=run)


def test_funnels_small_terminal_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=(80, 24), run_before=_opening("6", "result"))


def test_experiments_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=_opening("8", "results"))


def test_cohorts_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=_opening("7", "frame"))
