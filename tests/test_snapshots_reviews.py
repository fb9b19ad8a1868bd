"""Snapshot tests of the Reviews screen on the bundled sample (scores cached first, so the
model line is deterministic). Regenerate with ``--snapshot-update`` and look at the SVGs."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from shopper_tui.analytics.reviews import score_reviews
from shopper_tui.analytics.workspace import import_source, open_workspace
from shopper_tui.app import make_app
from shopper_tui.config import Settings
from shopper_tui.models import artifact_cache

from test_app import import_sample, settle, wait_for


@pytest.fixture(scope="module")
def snapshot_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("reviews-snap")
    settings = import_sample(base / "data").with_(cache_dir=base / "cache")
    ws = open_workspace(import_source("sample", data_dir=settings.data_dir).path)
    score_reviews(ws, cache=artifact_cache(ws, settings))  # warm: the screen says "cached" every time
    ws.close()
    return settings


async def _reviews(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await pilot.press("5")
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "views", None) is not None, timeout=60)
    await settle(pilot, rounds=5)


def test_reviews_snapshot(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snapshot_settings), terminal_size=(120, 40), run_before=_reviews)


def test_reviews_summary_snapshot_small(snap_compare, snapshot_settings: Settings) -> None:  # noqa: ANN001
    async def summary(pilot: Pilot) -> None:
        await _reviews(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_settings), terminal_size=(80, 24), run_before=summary)
