"""Snapshots of the Affinity heatmap at 120×40 and 80×24 on the bundled sample."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from shopper_tui.app import make_app
from shopper_tui.config import Settings

from test_app import import_sample, settle, wait_for


@pytest.fixture(scope="module")
def snap_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = import_sample(tmp_path_factory.mktemp("snap-aff-data"))
    return Settings.from_env(source="sample", data_dir=base.data_dir, cache_dir=tmp_path_factory.mktemp("snap-aff-c"))


async def _heatmap(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.workspace is not None)
    await pilot.press("3")
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "data", None) is not None, timeout=120)
    await settle(pilot)
    await pilot.press("down", "right")
    await settle(pilot)


def test_affinity_heatmap_snapshot(snap_compare, snap_settings: Settings) -> None:  # noqa: ANN001
    assert snap_compare(make_app(snap_settings), terminal_size=(120, 40), run_before=_heatmap)


def test_affinity_heatmap_snapshot_small(snap_compare, snap_settings: Settings) -> None:  # noqa: ANN001
    async def subcategories(pilot: Pilot) -> None:
        await _heatmap(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: pilot.app.screen.data.by == "subcategory")
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)

    assert snap_compare(make_app(snap_settings), terminal_size=(80, 24), run_before=subcategories)
