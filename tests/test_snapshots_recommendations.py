"""Snapshot tests of the Recommendations screen on the bundled sample (120×40 and 80×24).

Deterministic: seeded sample and ALS, frozen import clock, every worker finished (model,
segment labels, evaluation) before the frame is taken. Regenerate with
``pytest tests/test_snapshots_recommendations.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app import import_sample, settle, wait_for
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings


@pytest.fixture(scope="module")
def snap_rec_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("snap-rec-data")
    return import_sample(data).with_(cache_dir=Path(data) / "cache")


async def _ready(pilot: Pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.workspace is not None)
    await pilot.press("4")
    await wait_for(pilot, lambda: getattr(app.screen, "recs", None) is not None, timeout=90)
    await settle(pilot)
    await wait_for(pilot, lambda: app.segmentation is not None and app.screen._labelled is app.segmentation, timeout=90)
    await settle(pilot)


def test_recommendations_snapshot(snap_compare, snap_rec_settings: Settings) -> None:
    async def run(pilot: Pilot) -> None:
        await _ready(pilot)
        screen = pilot.app.screen
        screen.pick_customer("C000042")
        await pilot.press("p", *"tent", "enter", "c", "escape")
        await settle(pilot)

    assert snap_compare(make_app(snap_rec_settings), terminal_size=(120, 40), run_before=run)


def test_recommendations_evaluation_snapshot_small(snap_compare, snap_rec_settings: Settings) -> None:
    async def run(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("e")
        panel = pilot.app.screen.query_one("#rec-eval")
        await wait_for(pilot, lambda: panel.result is not None, timeout=90)
        await settle(pilot)

    assert snap_compare(make_app(snap_rec_settings), terminal_size=(80, 24), run_before=run)
