"""Snapshots of the Segments screen (K-Means, cached) at 120×40 and 80×24, and of a customer view.

Regenerate with ``pytest tests/test_snapshots_segments.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings

from test_app import settle, wait_for
from test_screen_segments import open_segments, warm_segmentations


@pytest.fixture(scope="module")
def snap_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return warm_segmentations(tmp_path_factory.mktemp("seg-snap"))


async def _segments(pilot: Pilot) -> None:
    await open_segments(pilot)
    await settle(pilot)


def test_segments_snapshot(snap_compare, snap_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snap_settings), terminal_size=(120, 40), run_before=_segments)


def test_segments_snapshot_small(snap_compare, snap_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snap_settings), terminal_size=(80, 24), run_before=_segments)


def test_customer_view_snapshot(snap_compare, snap_settings: Settings) -> None:  # noqa: ANN001
    async def customer(pilot: Pilot) -> None:
        screen = await open_segments(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.level == "customers")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.level == "customer")
        await settle(pilot)

    assert snap_compare(make_app(snap_settings), terminal_size=(120, 40), run_before=customer)
