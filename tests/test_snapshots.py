"""Snapshot tests of the main screens at 120×40 on the bundled sample.

Deterministic: the sample is seeded, the import clock is frozen (``imported_at``), the
workspace path is shown relative to the data folder, and nothing on screen shows the time.
Regenerate with ``pytest tests/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings

from test_app import import_sample, settle, wait_for  # shared helpers of the pilot tests

SIZE = (120, 40)


@pytest.fixture(scope="module")
def snapshot_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return import_sample(tmp_path_factory.mktemp("snap-data"))


async def _opened(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await settle(pilot)


def test_overview_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=_opened)


def test_data_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    async def open_data(pilot: Pilot) -> None:
        await _opened(pilot)
        await pilot.press("9")
        await settle(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#preview-table").frame.height > 0)
        await settle(pilot)

    assert snap_compare(make_app(snapshot_settings), terminal_size=SIZE, run_before=open_data)
